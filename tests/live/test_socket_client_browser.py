"""The shared socket client (web/static/common/socket.js) in Chromium, on the room page.

Playwright stands between the page and the server (`route_web_socket`), so the test decides when
"the server" drops the connection and with which close code: after a drop the page reconnects
with `after` = the last position it saw and ends up with every comment exactly once (its own
unacknowledged comment resent once); a 4401 close is final, even after two minutes of fake time.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from playwright.sync_api import WebSocketRoute, expect

from tests.browser import chromium, log_in
from tests.factories import session_at
from tests.live.rooms_support import make_broadcast
from tests.servers import serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]
WAIT_MS = 20_000  # reconnects back off (full jitter, capped): a few attempts may take seconds

# Counts the sockets the page opens from now on, in the page itself (outside Playwright's routing
# wrapper): a retry that never happens has nothing to wait for.
COUNT_SOCKETS = """() => {
  const Routed = window.WebSocket;
  window.__sockets = 0;
  window.WebSocket = class extends Routed {
    constructor(...args) { super(...args); window.__sockets += 1; }
  };
}"""


async def _seed(url: str) -> int:
    async with session_at(url) as s:
        return await make_broadcast(s)


@pytest.fixture
def server(tmp_path):
    with serve(tmp_path, seed=lambda url: asyncio.run(_seed(url))) as proc:
        yield proc


class Gate:
    """Relays the page's room sockets to the server, refuses new ones while closed, records every join."""

    def __init__(self) -> None:
        self.routes: list[WebSocketRoute] = []
        self.joins: list[dict[str, object]] = []
        self.refused = 0
        self.open = True

    def __call__(self, ws: WebSocketRoute) -> None:
        self.routes.append(ws)
        if not self.open:
            self.refused += 1
            ws.close(code=1011, reason="server restarting")
            return
        server = ws.connect_to_server()

        def forward(message: str | bytes) -> None:
            if isinstance(message, str) and json.loads(message).get("type") == "join":
                self.joins.append(json.loads(message))
            server.send(message)

        ws.on_message(forward)


def texts(page) -> list[str]:
    return page.locator("#room-comments li .text").all_inner_texts()


def say(page, text: str) -> None:
    page.fill("#room-text", text)
    page.keyboard.press("Enter")


def test_reconnects_and_resumes_without_loss_or_duplicates_and_never_retries_4401(server):
    room = server.seeded
    gate = Gate()
    with chromium() as browser:
        ctx_a, ctx_b = browser.new_context(locale="ja-JP"), browser.new_context(locale="ja-JP")
        page_a, page_b = ctx_a.new_page(), ctx_b.new_page()
        errors: list[str] = []
        page_a.on("pageerror", lambda e: errors.append(str(e)))
        page_a.clock.install()  # time flows normally until the test fast-forwards it
        page_a.route_web_socket("**/ws/rooms", gate)
        log_in(page_a, server.url, "member@example.jp")
        log_in(page_b, server.url, "fukuoka@example.jp")
        for page in (page_a, page_b):
            page.goto(f"{server.url}/broadcasts/{room}/room")
            expect(page.locator("#room")).to_have_attribute("data-connected", "1", timeout=WAIT_MS)
        assert gate.joins == [{"type": "join", "room": room, "after": None}]
        page_a.evaluate(COUNT_SOCKETS)

        say(page_b, "一つ目")
        expect(page_a.locator("#room")).to_have_attribute("data-last", "1", timeout=WAIT_MS)

        # The server drops A; while A cannot get back in, B talks and A writes a comment of its own.
        gate.open = False
        gate.routes[-1].close(code=1012, reason="service restart")
        expect(page_a.locator("#room-conn")).to_have_text("再接続中…", timeout=WAIT_MS)
        expect(page_a.locator("#room")).to_have_attribute("data-connected", "0")
        say(page_b, "二つ目")
        say(page_b, "三つ目")
        expect(page_b.locator("#room")).to_have_attribute("data-last", "3", timeout=WAIT_MS)
        say(page_a, "オフライン中に書いた")
        expect(page_a.locator("#room-error")).to_have_text("接続が切れています。再接続後に自動で送信します。")
        page_a.wait_for_function("() => window.__sockets >= 2", timeout=WAIT_MS)  # retried, and refused
        assert gate.refused >= 1

        # Back in: A resumes after position 1 and ends with every comment once, its own resent once.
        gate.open = True
        expect(page_a.locator("#room")).to_have_attribute("data-last", "4", timeout=WAIT_MS)
        expect(page_a.locator("#room-conn")).to_be_hidden()
        expected = ["一つ目", "二つ目", "三つ目", "オフライン中に書いた"]
        assert texts(page_a) == expected
        expect(page_b.locator("#room")).to_have_attribute("data-last", "4", timeout=WAIT_MS)
        assert texts(page_b) == expected
        assert page_a.eval_on_selector_all("#room-comments li", "els => els.map(e => e.dataset.position)") == [
            "1",
            "2",
            "3",
            "4",
        ]
        assert gate.joins == [
            {"type": "join", "room": room, "after": None},
            {"type": "join", "room": room, "after": 1},
        ]

        # 4401 (logged out) is an answer, not an accident: no retry, however long the page waits.
        opened = page_a.evaluate("window.__sockets")
        gate.routes[-1].close(code=4401, reason="login_required")
        expect(page_a.locator("#room-conn")).to_have_text("切断されました", timeout=WAIT_MS)
        expect(page_a.locator("#room-error")).to_have_text(
            "ログインが必要です。ログインし直してからページを再読み込みしてください。"
        )
        page_a.clock.run_for(120_000)
        page_a.evaluate("window.dispatchEvent(new Event('online'))")  # not even when the network comes back
        assert page_a.evaluate("window.__sockets") == opened
        assert len(gate.joins) == 2
        assert errors == []


API_PROBE = """async () => {
  const socket = await import("/static/common/socket.js");
  const api = await import("/static/common/api.js");
  const outcome = (p) => p.then((data) => ({ ok: data }), (e) => ({ name: e.name, status: e.status, code: e.code, message: e.message }));
  const bare = await fetch("/api/follows", { method: "POST", credentials: "same-origin",
    headers: { "content-type": "application/json" }, body: JSON.stringify({ target: "series", id: 0 }) });
  return {
    backoff: [socket.backoff(1, 500, 10000, () => 0), socket.backoff(1, 500, 10000, () => 0.999),
              socket.backoff(3, 500, 10000, () => 0.5), socket.backoff(30, 500, 10000, () => 0.999)],
    bare: bare.status,
    invalid: await outcome(api.request("POST", "/api/follows", { target: "series", id: 0 })),
    missing: await outcome(api.getJSON("/api/no-such-thing")),
    unreachable: await outcome(api.getJSON("http://127.0.0.1:9/")),  // refused (CSP connect-src): never answered
  };
}"""


def test_backoff_is_full_jitter_capped_and_api_errors_are_japanese(server):
    with chromium() as browser:
        page = browser.new_page(locale="ja-JP")
        log_in(page, server.url, "member@example.jp")
        result = page.evaluate(API_PROBE)
    # uniform in [0, min(cap, base·2^attempt)): 0 and just under 1000 on the first retry, capped at 10 s
    assert result["backoff"] == [0, 999, 2000, 9990]
    assert result["bare"] == 403  # without the helper's CSRF header the request never reaches the handler
    # with it, the handler answers; the typed body becomes an ApiError carrying the server's Japanese message
    assert result["invalid"] == {
        "name": "ApiError",
        "status": 400,
        "code": "bad_request",
        "message": "リクエストの内容が正しくありません。",
    }
    assert result["missing"] == {
        "name": "ApiError",
        "status": 404,
        "code": "not_found",
        "message": "お探しのページは見つかりませんでした。",
    }
    assert result["unreachable"] == {
        "name": "ApiError",
        "status": 0,
        "code": "network",
        "message": "サーバーに接続できませんでした。通信状態を確認してください。",
    }
