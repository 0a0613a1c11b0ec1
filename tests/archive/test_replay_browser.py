"""In Chromium: the archive plays a real video and the chat follows playback, seeking included."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from playwright.sync_api import expect

from tests.archive.video import write_test_video
from tests.browser import chromium, log_in, screenshot
from tests.factories import add_chat, make_broadcast, member_id, session_at
from tests.servers import serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

COMMENTS = [
    (1_000, "はじまりました"),
    (4_000, "接種会場の動線について質問です"),
    (7_000, "予約システムの件、参考になりました"),
]


async def _seed(url: str) -> int:
    from archive.media import MediaKind
    from archive.models import Recording

    start = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)
    async with session_at(url) as s:
        host, naha = await member_id(s, "host@example.jp"), await member_id(s, "naha@example.jp")
        b = await make_broadcast(s, title="リプレイの検証", start=start, personality_id=host)
        add_chat(s, b.id, start, [(naha, offset_ms, text) for offset_ms, text in COMMENTS])
        s.add(
            Recording(
                broadcast_id=b.id, url="/archive/media/replay.webm", kind=MediaKind.VIDEO_FILE, duration_seconds=10
            )
        )
        await s.commit()
        return b.id


@pytest.fixture
def server(tmp_path):
    (tmp_path / "media").mkdir()
    write_test_video(tmp_path / "media" / "replay.webm")
    with serve(tmp_path, seed=lambda url: asyncio.run(_seed(url))) as proc:
        proc.broadcast_id = proc.seeded  # type: ignore[attr-defined]
        yield proc


def test_chat_follows_playback_and_seeking(server):
    with chromium() as browser:
        page = browser.new_page(locale="ja-JP")
        log_in(page, server.url, "member@example.jp", lands=None)
        page.goto(f"{server.url}/archive/{server.broadcast_id}")
        page.wait_for_selector("#replay[data-ready=true]")
        # (wait_for_function evaluates strings, which the page's CSP forbids: use expect())
        expect(page.locator("#replay")).to_have_attribute("data-shown", "0")  # nothing before 0:00

        page.evaluate("const v = document.getElementById('archive-video'); v.muted = true; v.play()")
        expect(page.locator(".replay-item").first).to_be_visible(timeout=10_000)
        page.evaluate("document.getElementById('archive-video').pause()")

        page.evaluate("document.getElementById('archive-video').currentTime = 8")
        expect(page.locator("#replay")).to_have_attribute("data-shown", "3")
        texts = page.locator(".replay-text").all_inner_texts()
        assert texts == [t for _, t in COMMENTS]  # the hidden comment (at 0:05) never appears
        assert page.locator(".replay-time").all_inner_texts() == ["0:01", "0:04", "0:07"]
        screenshot(page, "archive-replay")

        # Seeking back hides the later comments again.
        page.evaluate("document.getElementById('archive-video').currentTime = 2")
        expect(page.locator("#replay")).to_have_attribute("data-shown", "1")
        assert page.locator(".replay-text").all_inner_texts() == ["はじまりました"]


def test_unplayable_recording_falls_back_to_the_whole_chat(server, tmp_path):
    (tmp_path / "media" / "replay.webm").write_bytes(b"not a video")
    with chromium() as browser:
        page = browser.new_page(locale="ja-JP")
        log_in(page, server.url, "member@example.jp", lands=None)
        page.goto(f"{server.url}/archive/{server.broadcast_id}")
        expect(page.locator("#replay")).to_have_attribute("data-shown", str(len(COMMENTS)))
        assert "録画を読み込めない" in page.inner_text(".replay-status")
