"""The one Markdown renderer for answers: sanitised HTML, plain text, and a small block tree for PDF/Word.

Everything starts from the same markdown-it-py parse (CommonMark + tables + strikethrough, line breaks
kept). Raw HTML is stripped everywhere: the HTML output goes through the nh3 (Ammonia) sanitiser,
the other outputs drop HTML tags and keep their text. Images are never embedded: they become links
(「画像: alt」) so a document never fetches anything from elsewhere.
"""

from __future__ import annotations

import dataclasses
import functools
import html
from collections.abc import Sequence
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": True, "linkify": False, "breaks": True}).enable(["table", "strikethrough"])

TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "del",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "hr",
}
URL_SCHEMES = ("http://", "https://", "mailto:")
IMAGE_LABEL = "画像"


def _image_as_link(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = html.escape(token.content or "") or IMAGE_LABEL
    return f'<a href="{html.escape(src)}" class="image-link">{IMAGE_LABEL}: {alt}</a>'


def _without_tags(raw: str) -> str:
    """Raw HTML with every tag removed (script/style with their content); entities stay escaped."""
    return nh3.clean(raw, tags=set())


def _html_block(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    # A raw HTML block: its tags go, the Markdown left inside it (e.g. after a <script> line) still renders.
    return str(_md.render(_without_tags(tokens[idx].content)))


_md.add_render_rule("image", _image_as_link)
_md.add_render_rule("html_block", _html_block)


# --- sanitised HTML (board, document page, entry page, edit preview) --------------------------


@functools.lru_cache(maxsize=2048)
def _html(text: str) -> str:
    out = _md.render(text)
    # Headings from members start below the page's own h1/h2 structure.
    for level in (1, 2):
        out = out.replace(f"<h{level}>", "<h3>").replace(f"</h{level}>", "</h3>")
    return nh3.clean(
        out,
        tags=TAGS,
        attributes={"a": {"href", "title"}},
        allowed_classes={"a": {"image-link"}},  # our image links only: a member's class="…" is dropped
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def markdown_html(text: str | None) -> Markup:
    return Markup(_html(text or ""))  # noqa: S704 - sanitised by nh3 in _html


# --- the block tree (PDF, Word, plain text) -----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Span:
    text: str
    bold: bool = False
    italic: bool = False
    code: bool = False
    strike: bool = False
    href: str = ""  # a link (only http, https and mailto survive)
    image: bool = False  # an image, shown as a link to it
    br: bool = False  # a line break; `text` is empty


@dataclasses.dataclass(frozen=True)
class Heading:
    level: int
    spans: list[Span]


@dataclasses.dataclass(frozen=True)
class Para:
    spans: list[Span]


@dataclasses.dataclass(frozen=True)
class ListBlock:
    ordered: bool
    start: int
    items: list[list[Block]]


@dataclasses.dataclass(frozen=True)
class Table:
    head: list[list[Span]]
    rows: list[list[list[Span]]]
    align: list[str]  # "left" | "center" | "right" per column


@dataclasses.dataclass(frozen=True)
class Code:
    text: str


@dataclasses.dataclass(frozen=True)
class Quote:
    blocks: list[Block]


@dataclasses.dataclass(frozen=True)
class Rule:
    pass


Block = Heading | Para | ListBlock | Table | Code | Quote | Rule


def safe_href(url: str) -> str:
    return url if url.lower().startswith(URL_SCHEMES) else ""


_HIDDEN_HTML = ("<script", "<style", "<template", "<textarea")


def _inline(node: SyntaxTreeNode, style: dict[str, Any]) -> list[Span]:
    out: list[Span] = []
    hidden = False  # inside an inline <script> or <style>: its text is dropped too, as nh3 does
    for child in node.children:
        kind = child.type
        if kind == "html_inline":
            tag = child.content.lower()
            if tag.startswith(_HIDDEN_HTML):
                hidden = True
            elif tag.startswith("</") and hidden:
                hidden = False
            continue  # raw HTML tags are dropped; the text between them stays
        if hidden:
            continue
        if kind == "text":
            if child.content:
                out.append(Span(child.content, **style))
        elif kind in ("softbreak", "hardbreak"):
            out.append(Span("", br=True))
        elif kind == "code_inline":
            out.append(Span(child.content, **{**style, "code": True}))
        elif kind in ("strong", "em", "s"):
            flag = {"strong": "bold", "em": "italic", "s": "strike"}[kind]
            out += _inline(child, {**style, flag: True})
        elif kind == "link":
            out += _inline(child, {**style, "href": safe_href(str(child.attrs.get("href", "")))})
        elif kind == "image":
            src = safe_href(str(child.attrs.get("src", "")))
            out.append(Span(child.content or IMAGE_LABEL, href=src, image=True))
        else:
            out += _inline(child, style)
    return out


def _spans(node: SyntaxTreeNode) -> list[Span]:
    inline = node.children[0] if node.children else None
    return _inline(inline, {}) if inline is not None else []


def _table(node: SyntaxTreeNode) -> Table:
    head: list[list[Span]] = []
    rows: list[list[list[Span]]] = []
    align: list[str] = []
    for part in node.children:
        for tr in part.children:
            cells = [_spans(cell) for cell in tr.children]
            if part.type == "thead":
                head = cells
                align = [str(c.attrs.get("style", "")).removeprefix("text-align:") or "left" for c in tr.children]
            else:
                rows.append(cells)
    return Table(head, rows, align)


def _blocks(nodes: Sequence[SyntaxTreeNode]) -> list[Block]:
    out: list[Block] = []
    for node in nodes:
        kind = node.type
        if kind == "heading":
            out.append(Heading(int(node.tag[1:]), _spans(node)))
        elif kind == "paragraph":
            out.append(Para(_spans(node)))
        elif kind in ("bullet_list", "ordered_list"):
            start = int(node.attrs.get("start", 1)) if kind == "ordered_list" else 1
            out.append(ListBlock(kind == "ordered_list", start, [_blocks(item.children) for item in node.children]))
        elif kind == "table":
            out.append(_table(node))
        elif kind in ("fence", "code_block"):
            out.append(Code(node.content.rstrip("\n")))
        elif kind == "blockquote":
            out.append(Quote(_blocks(node.children)))
        elif kind == "hr":
            out.append(Rule())
        elif kind == "html_block":
            out += _blocks(SyntaxTreeNode(_md.parse(_without_tags(node.content))).children)
    return out


@functools.lru_cache(maxsize=1024)
def _parse(text: str) -> tuple[Block, ...]:
    return tuple(_blocks(SyntaxTreeNode(_md.parse(text)).children))


def clear_cache() -> None:
    _parse.cache_clear()


def blocks(text: str | None) -> list[Block]:
    """The Markdown as a block tree (cached: one document renders in several formats)."""
    return list(_parse(text or ""))


# --- plain text (spreadsheets, search snippets, notifications) ---------------------------------


def span_text(span: Span, urls: bool = True) -> str:
    if span.br:
        return "\n"
    if span.image:
        return f"［{IMAGE_LABEL}: {span.text}］" + (f"（{span.href}）" if span.href and urls else "")
    if urls and span.href and span.href not in (span.text, f"mailto:{span.text}"):
        return f"{span.text}（{span.href}）"
    return span.text


def spans_text(spans: list[Span], urls: bool = True) -> str:
    """Adjacent pieces of one link share its URL: shown once, after the whole link text."""
    out: list[str] = []
    i = 0
    while i < len(spans):
        span = spans[i]
        if span.href and not span.image:
            j = i
            while j + 1 < len(spans) and spans[j + 1].href == span.href and not spans[j + 1].image:
                j += 1
            out.append(span_text(Span("".join(s.text for s in spans[i : j + 1]), href=span.href), urls))
            i = j + 1
            continue
        out.append(span_text(span, urls))
        i += 1
    return "".join(out)


def _text_lines(items: list[Block], indent: str = "", urls: bool = True) -> list[str]:
    lines: list[str] = []
    for block in items:
        if isinstance(block, Heading | Para):
            lines += [indent + line for line in spans_text(block.spans, urls).split("\n")]
        elif isinstance(block, ListBlock):
            for n, item in enumerate(block.items, block.start):
                mark = f"{n}. " if block.ordered else "・"
                inner = _text_lines(item, indent + "  ", urls)
                first = inner[0].strip() if inner else ""
                lines.append(indent + mark + first)
                lines += inner[1:]
        elif isinstance(block, Table):
            for row in [block.head, *block.rows]:
                lines.append(indent + " | ".join(spans_text(cell, urls) for cell in row))
        elif isinstance(block, Code):
            lines += [indent + line for line in block.text.split("\n")]
        elif isinstance(block, Quote):
            lines += _text_lines(block.blocks, indent + "　", urls)
        elif isinstance(block, Rule):
            lines.append(indent + "―――")
    return lines


def markdown_text(text: str | None, *, urls: bool = True) -> str:
    """The Markdown as readable plain text: marks removed, link URLs in brackets (unless `urls=False`,
    e.g. for search snippets), HTML stripped. Cross-domain search and notifications can call this."""
    return "\n".join(_text_lines(blocks(text), urls=urls)).strip()
