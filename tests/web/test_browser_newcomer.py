"""What a newcomer meets first, in Chromium: the room works from localhost and 127.0.0.1 alike, a refused
address says why on the page, and the Q&A board's 「開始する」 follows the session's state."""

from __future__ import annotations

import sqlite3

import pytest

from tests.browser import chromium, log_in
from tests.servers import ServerProcess, prepare_database, start_all

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]
START = 90  # seconds for a server to answer: generous, this machine may be shared
WAIT_MS = 20_000


def _live_broadcast(db_path) -> int:
    from live.moderation.demo import DEMO_LIVE_TITLE

    return (
        sqlite3.connect(db_path).execute("SELECT id FROM broadcasts WHERE title = ?", (DEMO_LIVE_TITLE,)).fetchone()[0]
    )


def test_the_room_works_from_every_loopback_name_and_a_foreign_address_is_told_why(tmp_path):
    env = {"VAR_DIR": str(tmp_path), "SECRET_KEY": "n" * 48, "LOG_LEVEL": "WARNING"}
    prepare_database(env)
    server = ServerProcess(env, tmp_path / "server.log")  # BASE_URL http://127.0.0.1:PORT
    strict = ServerProcess({**env, "BASE_URL": "http://chonai.example.jp"}, tmp_path / "strict.log")
    try:
        start_all([server, strict], START)  # up front: the browser part below needs both
        live = _live_broadcast(tmp_path / "chonai.db")
        with chromium() as browser:
            for host in ("localhost", "127.0.0.1"):
                page = browser.new_context(locale="ja-JP").new_page()
                base = f"http://{host}:{server.port}"
                log_in(page, base, "member@example.jp", lands=None)
                page.goto(f"{base}/broadcasts/{live}")
                page.wait_for_selector("#room[data-connected='1']", timeout=WAIT_MS)
                page.fill("#room-text", f"{host} から参加しています")
                page.click("#room-send")
                page.locator("#room-comments li", has_text=f"{host} から参加しています").wait_for(timeout=WAIT_MS)
                page.context.close()
            page = browser.new_context(locale="ja-JP").new_page()
            base = f"http://127.0.0.1:{strict.port}"
            log_in(page, base, "member@example.jp", lands=None)
            page.goto(f"{base}/broadcasts/{live}")
            page.wait_for_selector("#room-error:has-text('ALLOWED_ORIGINS')", timeout=WAIT_MS)
            message = page.inner_text("#room-error")
            assert f"このアドレス（{base}）からはリアルタイム接続が許可されていません" in message
            assert "http://chonai.example.jp で開き直す" in message
            assert page.inner_text("#room-conn") == "切断されました"  # not 再接続中… for ever
            page.goto(f"{base}/schedule")  # the schedule's live updates say it too
            page.wait_for_selector("#schedule-live-error:has-text('ALLOWED_ORIGINS')", timeout=WAIT_MS)
        log = (tmp_path / "strict.log").read_text()
        lines = [line for line in log.splitlines() if "WebSocket refused" in line]
        assert len(lines) >= 2 and all("BASE_URL=http://chonai.example.jp" in line for line in lines)
        assert f"Origin {base} is not allowed" in lines[0] and "ALLOWED_ORIGINS=" in lines[0]
    finally:
        strict.stop()
        server.stop()


def test_the_start_button_follows_the_session_state_on_every_organiser_page(tmp_path):
    env = {"VAR_DIR": str(tmp_path), "SECRET_KEY": "s" * 48, "LOG_LEVEL": "WARNING"}
    prepare_database(env)
    server = ServerProcess(env, tmp_path / "server.log").start(START)
    try:
        series = sqlite3.connect(tmp_path / "chonai.db").execute("SELECT id FROM faq_series LIMIT 1").fetchone()[0]
        with chromium() as browser:
            one = browser.new_context(locale="ja-JP").new_page()
            log_in(one, server.url, "naha@example.jp", lands=None)  # an organiser of the demo series
            one.goto(f"{server.url}/faq/series/{series}")
            one.click("summary:has-text('開催回を追加')")
            one.fill("#f-title", "次回の相談会")
            one.fill("#f-starts", "2031-01-10T19:00")
            one.locator("form[action$='/sessions'] button[type=submit]").click()
            one.wait_for_url("**/faq/sessions/*")
            two = browser.new_context(locale="ja-JP").new_page()
            log_in(two, server.url, "mhlw@example.jp", lands=None)  # the other organiser, same board
            two.goto(one.url)
            for page in (one, two):
                page.wait_for_selector("#board[data-connected='true']", timeout=WAIT_MS)
                assert page.is_visible("#start-session")
            one.click("#start-session")
            for page in (one, two):  # hidden for real (a .button used to stay visible), on both pages
                page.wait_for_selector("#start-session", state="hidden", timeout=WAIT_MS)
                page.wait_for_selector("#session-state:has-text('開催中')", timeout=WAIT_MS)
    finally:
        server.stop()
