"""XSS payloads (classic vectors, filter evasions, attribute/URL/JS-context breakouts).

Every payload that executes calls `__xss(N)`; a rendered page is clean when no call
happened and no element carrying the `xss-probe` marker exists in the DOM.
"""

from __future__ import annotations

_CALL = "__xss({n})"

_TEMPLATES = [
    "<script>{c}</script>",
    "<ScRiPt>{c}</sCrIpT>",
    "<script src=data:text/javascript,{c}></script>",
    '"><script>{c}</script>',
    "'><script>{c}</script>",
    "</textarea><script>{c}</script>",
    "</title><script>{c}</script>",
    "</style><script>{c}</script>",
    "</script><script>{c}</script>",
    "<img src=x onerror={c} class=xss-probe>",
    '<img src="x" onerror="{c}" class="xss-probe">',
    "<img/src/onerror={c} class=xss-probe>",
    "<svg onload={c} class=xss-probe>",
    "<svg><script>{c}</script></svg>",
    "<svg><animate onbegin={c} attributeName=x dur=1s class=xss-probe>",
    "<body onload={c}>",
    "<iframe src=javascript:{c} class=xss-probe></iframe>",
    "<iframe srcdoc='<script>parent.{c}</script>' class=xss-probe></iframe>",
    "<a href=javascript:{c} class=xss-probe>click</a>",
    '<a href="jav&#x09;ascript:{c}" class="xss-probe">x</a>',
    "<details open ontoggle={c} class=xss-probe>",
    "<input autofocus onfocus={c} class=xss-probe>",
    "<select autofocus onfocus={c} class=xss-probe></select>",
    "<textarea autofocus onfocus={c} class=xss-probe></textarea>",
    "<video><source onerror={c} class=xss-probe></video>",
    "<audio src=x onerror={c} class=xss-probe>",
    "<marquee onstart={c} class=xss-probe>",
    "<object data=javascript:{c} class=xss-probe>",
    "<embed src=javascript:{c} class=xss-probe>",
    "<math><mtext><table><mglyph><style><img src=x onerror={c} class=xss-probe>",
    '<div style="background:url(javascript:{c})" class=xss-probe>',
    "<style>@import 'javascript:{c}';</style>",
    "<meta http-equiv=refresh content='0;url=javascript:{c}'>",
    "<base href=javascript:{c}//>",
    "<form action=javascript:{c} class=xss-probe><button>x</button></form>",
    "<isindex action=javascript:{c} type=image>",
    "<table background=javascript:{c} class=xss-probe>",
    "<x onclick={c} class=xss-probe>tap</x>",
    '<noscript><p title="</noscript><img src=x onerror={c} class=xss-probe>">',
    "<template><script>{c}</script></template>",
    "';{c};//",
    '";{c};//',
    "`;{c};//",
    "\\';{c};//",
    "${{{c}}}",
    "{{{{constructor.constructor('{c}')()}}}}",
    "javascript:{c}",
    "JaVaScRiPt:{c}",
    "data:text/html,<script>{c}</script>",
    "&lt;script&gt;{c}&lt;/script&gt;",
    "&#60;script&#62;{c}&#60;/script&#62;",
    "\u003cscript\u003e{c}\u003c/script\u003e",
    "＜script＞{c}＜/script＞",
    "<scr<script>ipt>{c}</scr</script>ipt>",
    "<<script>script>{c}<</script>/script>",
    "<img src=x onerror=&#x5F;&#x5F;xss({n}) class=xss-probe>",
    "<svg/onload=eval(atob('X194c3MoMCk=')) class=xss-probe>",
    "<img src=x:x onerror=window['__xss']({n}) class=xss-probe>",
    '<a href="&#106;avascript:{c}" class=xss-probe>x</a>',
    '<!--<img src="--><img src=x onerror={c} class=xss-probe>">',
    "<![CDATA[<script>{c}</script>]]>",
    '<?xml version="1.0"?><script>{c}</script>',
    "[x](javascript:{c})",
    "![x](javascript:{c})",
    "[x](data:text/html;base64,PHNjcmlwdD5fX3hzcygwKTwvc2NyaXB0Pg==)",
    '<https://example.jp/"onmouseover="{c}>',
    "**<img src=x onerror={c} class=xss-probe>**",
    "`<script>{c}</script>`",
    "```\n</code><script>{c}</script>\n```",
    "<div>\n\n<script>{c}</script>\n\n</div>",
    '"onmouseover="{c}"',
    "' onmouseover='{c}' x='",
    '" autofocus onfocus="{c}',
    "' autofocus onfocus='{c}",
    "</a><a href=javascript:{c} class=xss-probe>",
    "<link rel=import href=data:text/html,<script>{c}</script>>",
    "<svg><a xlink:href=javascript:{c} class=xss-probe><text y=20>x</text></a></svg>",
    "<img srcset=x onerror={c} class=xss-probe>",
    "<picture><source srcset=x><img src=x onerror={c} class=xss-probe></picture>",
    "<body/onpageshow={c}>",
    "<svg><set attributeName=onmouseover to={c} class=xss-probe>",
    "<input type=image src=x onerror={c} class=xss-probe>",
    "<keygen autofocus onfocus={c} class=xss-probe>",
    "<frameset onload={c}>",
    "<applet code=javascript:{c}>",
    "<bgsound src=javascript:{c}>",
    "<img src=`x` onerror={c} class=xss-probe>",
    "<img src=x onerror\u000b={c} class=xss-probe>",
    "<img src=x onerror\u0000={c} class=xss-probe>",
    "\u202e<script>{c}</script>",
    '<script\u0020type="text/javascript">{c}</script>',
    "<script>/*</script><script>*/{c}</script>",
    "<svg><style><img src=x onerror={c} class=xss-probe></style></svg>",
    "<a id=x tabindex=1 onfocusin={c} class=xss-probe></a>",
    "<div popover id=p onbeforetoggle={c} class=xss-probe>",
    "<img src=x onerror=import('data:text/javascript,__xss({n})') class=xss-probe>",
    "<script type=module>{c}</script>",
    "<h1 class=xss-probe>injected heading</h1>",
    "<b class=xss-probe>bold</b>",
    "<p class=xss-probe style=color:red>styled</p>",
    "<a class=xss-probe href=https://evil.example>phish</a>",
]

PAYLOADS: list[str] = [t.format(c=_CALL.format(n=i), n=i) for i, t in enumerate(_TEMPLATES)]

assert len(PAYLOADS) >= 100, len(PAYLOADS)

#: Installed before any page script: records calls instead of alerting.
DETECTOR = "window.__xssCalls = []; window.__xss = function (n) { window.__xssCalls.push(n); };"


def injected(page: object) -> tuple[list[int], int]:
    """(payload numbers that executed, number of injected probe elements)."""
    calls = page.evaluate("window.__xssCalls || []")  # type: ignore[attr-defined]
    probes = page.evaluate("document.querySelectorAll('.xss-probe').length")  # type: ignore[attr-defined]
    return list(calls), int(probes)
