"""Two members in Chromium on two server processes (SQLite file + Redis): live comments and recovery."""

from __future__ import annotations

import asyncio

import pytest

from tests.browser import chromium, log_in, screenshot
from tests.conftest import REDIS_TEST_URL, redis_available, require
from tests.factories import session_at
from tests.live.rooms_support import make_broadcast
from tests.servers import ServerProcess, prepare_database, start_all

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.redis]
WAIT_MS = 10_000


@pytest.fixture
def servers(tmp_path):
    require(redis_available(), "Redis")
    env = {
        "VAR_DIR": str(tmp_path),
        "SECRET_KEY": "r" * 48,
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'rooms.db'}",
        "REDIS_URL": REDIS_TEST_URL,
    }
    prepare_database(env)

    async def setup() -> int:
        async with session_at(f"sqlite+aiosqlite:///{tmp_path / 'rooms.db'}") as s:
            return await make_broadcast(s, stream_url="https://example.jp/live/123")

    room = asyncio.run(setup())
    procs = [ServerProcess(env, tmp_path / f"server{i}.log") for i in range(2)]
    try:
        start_all(procs)
        yield room, procs
    finally:
        for p in procs:
            p.stop()


def texts(page) -> list[str]:
    return page.locator("#room-comments li .text").all_inner_texts()


def wait_texts(page, expected: list[str]) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('#room-comments li').length >= n", arg=len(expected), timeout=WAIT_MS
    )
    assert texts(page) == expected


def test_two_members_two_processes_comment_and_recover(servers):
    room, (a, b) = servers
    with chromium() as browser:
        errors: list[str] = []
        ctx_a = browser.new_context(locale="ja-JP")
        ctx_b = browser.new_context(viewport={"width": 390, "height": 844}, locale="ja-JP")
        page_a, page_b = ctx_a.new_page(), ctx_b.new_page()
        for page in (page_a, page_b):
            page.on("pageerror", lambda e: errors.append(str(e)))
        log_in(page_a, a.url, "member@example.jp")
        log_in(page_b, b.url, "fukuoka@example.jp")
        page_a.goto(f"{a.url}/broadcasts/{room}/room")
        page_b.goto(f"{b.url}/broadcasts/{room}/room")
        for page in (page_a, page_b):
            page.wait_for_selector("#room[data-connected='1']", timeout=WAIT_MS)
            assert page.inner_text("#room-state") == "放送中"
            assert page.get_by_role("link", name="配信ページを開く（別タブ）").get_attribute("href") == (
                "https://example.jp/live/123"
            )

        page_a.fill("#room-text", "豊中市です。よろしくお願いします！")
        page_a.keyboard.press("Enter")
        wait_texts(page_b, ["豊中市です。よろしくお願いします！"])
        assert "市民 一郎" in page_b.inner_text("#room-comments li")
        assert "豊中市" in page_b.inner_text("#room-comments li .org")

        # B loses its connection; A keeps talking; B comes back and gets exactly what it missed.
        ctx_b.set_offline(True)
        page_b.wait_for_selector("#room-conn:not([hidden])", timeout=WAIT_MS)
        assert page_b.inner_text("#room-conn") == "再接続中…"
        page_a.fill("#room-text", "<b>見えてますか</b>")
        page_a.keyboard.press("Enter")
        page_a.fill("#room-text", "二つ目")
        page_a.keyboard.press("Enter")
        wait_texts(page_a, ["豊中市です。よろしくお願いします！", "<b>見えてますか</b>", "二つ目"])
        assert texts(page_b) == ["豊中市です。よろしくお願いします！"]
        screenshot(page_b, "room-reconnecting-phone")
        ctx_b.set_offline(False)
        page_b.wait_for_selector("#room[data-connected='1']", timeout=WAIT_MS)
        wait_texts(page_b, ["豊中市です。よろしくお願いします！", "<b>見えてますか</b>", "二つ目"])
        assert page_b.locator("#room-comments b").count() == 0  # escaped, never markup

        # B answers from the other process; reactions and the counter work; refusals show in Japanese.
        page_b.fill("#room-text", "福岡市です、聞こえています")
        page_b.keyboard.press("Enter")
        wait_texts(
            page_a,
            ["豊中市です。よろしくお願いします！", "<b>見えてますか</b>", "二つ目", "福岡市です、聞こえています"],
        )
        page_b.get_by_role("button", name="拍手", exact=False).click()
        page_a.wait_for_function(
            "() => document.querySelector('[data-count=clap]').textContent === '1'", timeout=WAIT_MS
        )
        page_a.wait_for_function("() => document.getElementById('room-viewers').textContent === '2'", timeout=WAIT_MS)
        positions_a = page_a.eval_on_selector_all("#room-comments li", "els => els.map(e => e.dataset.position)")
        positions_b = page_b.eval_on_selector_all("#room-comments li", "els => els.map(e => e.dataset.position)")
        assert positions_a == positions_b == ["1", "2", "3", "4"]
        page_a.fill("#room-text", "   ")
        page_a.keyboard.press("Enter")
        assert page_a.inner_text("#room-error") == "コメントを入力してください。"
        screenshot(page_b, "room-phone")
        assert page_b.evaluate("document.documentElement.scrollWidth") <= 390
        assert errors == []
