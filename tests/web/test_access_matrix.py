"""Every route the app registers, tried as anonymous and as a pending member.

The matrix is built from the app itself, so a route added by any domain is checked
without anyone remembering to list it: unless it is on the public list below, an
anonymous caller must get 401 (API) and a pending member 403 — from pages, API,
downloads and WebSockets alike.
"""

from __future__ import annotations

import re

import pytest
from litestar import Litestar
from litestar.routes import ASGIRoute, HTTPRoute, WebSocketRoute
from litestar.testing import AsyncTestClient

from tests.helpers import csrf, login

# Guards do not depend on the database: walk the routes once, on SQLite (the per-domain suites
# cover both databases).
pytestmark = [pytest.mark.usefixtures("demo"), pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

# Reachable without an approved account, by design.
# The mail's unsubscribe link is signed per member and kind and must work without logging in (RFC 8058).
PUBLIC = re.compile(
    r"^/($|login$|signup$|signup/sent$|logout$|pending$|password/|healthz$|readyz$|schema|static/|favicon\.ico$"
    r"|notifications/unsubscribe$)"
)
# Calendar feeds authenticate with a private token in the URL instead of a cookie.
TOKEN_IN_URL = re.compile(r"\.ics$")


def _concrete(path: str) -> str:
    """Fill path parameters with plausible values (ids of rows that exist in demo data)."""
    return re.sub(r"\{[^}:]+(:[a-z]+)?\}", lambda m: "1" if m.group(1) in (":int", None) else "x", path)


def http_cases(app: Litestar) -> list[tuple[str, str]]:
    cases = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or PUBLIC.match(route.path):
            continue
        for method in sorted(route.methods - {"OPTIONS", "HEAD"}):
            cases.append((method, _concrete(route.path)))
    return cases


def ws_paths(app: Litestar) -> list[str]:
    """WebSocket routes, including raw ASGI ones (the comment rooms use Litestar's @asgi)."""
    paths = [_concrete(r.path) for r in app.routes if isinstance(r, WebSocketRoute)]
    paths += [_concrete(r.path) for r in app.routes if isinstance(r, ASGIRoute) and r.path.startswith("/ws/")]
    assert "/ws/rooms" in paths, paths
    return paths


async def _try_all(client: AsyncTestClient[Litestar], cases: list[tuple[str, str]]) -> dict[str, int]:
    token = await csrf(client)
    statuses = {}
    for method, path in cases:
        response = await client.request(
            method, path, headers={"accept": "application/json", "x-csrftoken": token}, json={}
        )
        statuses[f"{method} {path}"] = response.status_code
    return statuses


async def test_anonymous_gets_401_everywhere_members_only(client, app):
    cases = http_cases(app)
    assert cases, "no members-only routes found: the matrix would prove nothing"
    statuses = await _try_all(client, cases)
    wrong = {k: v for k, v in statuses.items() if v != 401 and not (TOKEN_IN_URL.search(k) and v in (401, 403))}
    assert wrong == {}


async def test_pending_member_gets_403_everywhere_members_only(client, app):
    await login(client, "pending@example.jp")
    statuses = await _try_all(client, http_cases(app))
    wrong = {k: v for k, v in statuses.items() if v != 403 and not (TOKEN_IN_URL.search(k) and v in (401, 403))}
    assert wrong == {}


async def test_html_pages_send_anonymous_to_login_and_pending_to_notice(client, app):
    pages = [path for method, path in http_cases(app) if method == "GET" and not path.startswith("/api/")]
    for path in pages:
        response = await client.get(path, headers={"accept": "text/html"}, follow_redirects=False)
        assert response.status_code in (303, 401), path
    await login(client, "pending@example.jp")
    for path in pages:
        response = await client.get(path, headers={"accept": "text/html"}, follow_redirects=False)
        assert (response.status_code, response.headers.get("location")) in ((303, "/pending"), (403, None)), path


async def _outcome(client: AsyncTestClient[Litestar], path: str) -> str:
    """'refused' (closed before or right after accepting, or a typed error) or what was received."""
    from litestar.exceptions import WebSocketDisconnect

    try:
        session = await client.websocket_connect(path, headers={"origin": "http://127.0.0.1:8000"})
        with session as ws:
            # Rooms wait for a join: ask, so an accepted socket has to answer something.
            if path == "/ws/rooms":
                ws.send_json({"type": "join", "room": 1})
            message = ws.receive(timeout=5)
            if message.get("type") == "websocket.close":
                return "refused"
            text = message.get("text") or (message.get("bytes") or b"").decode()
            if '"error"' in text or '"type":"error"' in text:
                return "refused"
            return f"received {text[:200]}"
    except WebSocketDisconnect:
        return "refused"


async def test_websockets_refuse_anonymous_and_pending(client, app):
    paths = ws_paths(app)
    assert {p: await _outcome(client, p) for p in paths} == dict.fromkeys(paths, "refused")
    await login(client, "pending@example.jp")
    assert {p: await _outcome(client, p) for p in paths} == dict.fromkeys(paths, "refused")


async def test_websockets_accept_approved_members(client, app):
    """The check above is meaningful: the same sockets do answer an approved member."""
    await login(client, "member@example.jp")
    outcomes = {p: await _outcome(client, p) for p in ws_paths(app) if "faq" not in p}
    assert all(o.startswith("received") for o in outcomes.values()), outcomes


# --- every guarded route against every role ---------------------------------------------

ROLE_OF = {"member@example.jp": 0, "host@example.jp": 1, "moderator@example.jp": 2, "operator@example.jp": 3}
# Routes that also check the resource (this broadcast's moderators, this series' organisers):
# a site moderator or operator may always act; a plain member never; a host only on their own.
RESOURCE_SCOPED = re.compile(
    r"^/api/broadcasts/\d+/(moderation|room)|^/broadcasts/\d+/control|^/faq/documents/\d+/edit"
)
# Routes for a 課's 課長 (and operators): whose 課 it is decides, tested in tests/web/test_sections*.py.
CHIEF_SCOPED = re.compile(r"^/sections/\d+/edit$")
REQUIRED = {
    "member_guard": 0,
    "requires_member": 0,
    "requires_host": 1,
    "requires_moderator": 2,
    "requires_operator": 3,
}


def guarded_cases(app: Litestar) -> list[tuple[str, str, int]]:
    """(method, path, minimum role) for every route whose guards declare a site-wide role.

    Per-resource rules (this broadcast's moderators, a series' organisers, a recording's host)
    are decided inside handlers and tested in their domains' suites.
    """
    cases = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or PUBLIC.match(route.path):
            continue
        for handler in route.route_handlers:
            names = {getattr(getattr(g, "func", g), "__name__", "") for g in handler.resolve_guards()}
            levels = [REQUIRED[n] for n in names if n in REQUIRED]
            if not levels:
                continue
            for method in sorted(set(handler.http_methods) - {"OPTIONS", "HEAD"}):
                cases.append((method, _concrete(route.path), max(levels)))
    return cases


@pytest.mark.parametrize("email", list(ROLE_OF))
async def test_each_role_reaches_exactly_the_routes_its_role_allows(client, app, email):
    cases = guarded_cases(app)
    assert any(level == 3 for _, _, level in cases) and any(level == 0 for _, _, level in cases)
    await login(client, email)
    token = await csrf(client)
    wrong = {}
    for method, path, level in cases:
        allowed = ROLE_OF[email] >= level
        if CHIEF_SCOPED.match(path):
            if ROLE_OF[email] < 3:
                continue
        elif RESOURCE_SCOPED.match(path):
            if ROLE_OF[email] == 1:
                continue  # depends on whose broadcast/series it is: tested in the domain suites
            allowed = ROLE_OF[email] >= 2
        if method != "GET" and allowed:
            continue  # an allowed write would change the data the other cases read
        response = await client.request(
            method, path, headers={"accept": "application/json", "x-csrftoken": token}, json={}
        )
        # A write with an empty body may fail validation before the resource check: still refused, no effect.
        refused = response.status_code in (401, 403) or (method != "GET" and response.status_code in (400, 422))
        if refused == allowed or response.status_code >= 500:
            wrong[f"{method} {path}"] = response.status_code
    assert wrong == {}


async def test_every_page_has_security_headers_and_no_inline_script(client, app):
    import re as _re

    await login(client, "operator@example.jp")
    pages = ["/", "/login", "/signup"] + [p for m, p in http_cases(app) if m == "GET" and not p.startswith("/api/")]
    checked = 0
    for path in pages:
        response = await client.get(path, headers={"accept": "text/html"})
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        checked += 1
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp, path
        assert response.headers["x-frame-options"] == "DENY", path
        assert response.headers["x-content-type-options"] == "nosniff", path
        # Every <script> has a src: the CSP would block inline code, so there must be none.
        assert not _re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text), path
        assert " onclick=" not in response.text and " onload=" not in response.text, path
    assert checked >= 20
