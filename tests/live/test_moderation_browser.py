"""Done means (issue 5): a host control page and two viewers in Chromium, the viewers on another
server process through Redis, all on one PostgreSQL database."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from live.models import Program
from tests.browser import chromium, log_in, screenshot
from tests.conftest import REDIS_TEST_URL, asyncpg_url, redis_available, require, scratch_postgres
from tests.factories import member_id, session_at
from tests.live.rooms_support import make_broadcast
from tests.servers import serve_two

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]
WAIT_MS = 10_000


@pytest.fixture
def servers(tmp_path):
    require(redis_available(), "Redis")

    async def setup(database_url: str) -> int:
        async with session_at(asyncpg_url(database_url)) as s:
            host = await member_id(s, "host@example.jp")
            program = Program(title="子育て支援の時間", personality_id=host, dtstart=dt.datetime.now(dt.UTC))
            s.add(program)
            await s.commit()
            return await make_broadcast(s, title="子育て支援の時間 第3回", personality_id=host, program_id=program.id)

    with (
        scratch_postgres("chonai_mod") as database_url,
        serve_two(tmp_path, database_url, seed=lambda url: asyncio.run(setup(url)), REDIS_URL=REDIS_TEST_URL) as (
            procs,
            room,
        ),
    ):
        yield room, procs


def texts(page) -> list[str]:
    return page.locator("#room-comments li .text").all_inner_texts()


def wait_for_texts(page, expected: list[str]) -> None:
    page.wait_for_function(
        "want => JSON.stringify([...document.querySelectorAll('#room-comments li .text')].map(e => e.textContent))"
        " === JSON.stringify(want)",
        arg=expected,
        timeout=WAIT_MS,
    )


def say(page, text: str, question: bool = False) -> None:
    if question:
        page.check("#room-question")
    page.fill("#room-text", text)
    page.keyboard.press("Enter")


def feed_item(host, text: str):
    return host.locator("#c-feed li", has_text=text)


def menu(host, text: str, action: str) -> None:
    item = feed_item(host, text)
    item.locator("summary").click()
    item.locator(f"[data-act={action}]").click()


def test_host_moderates_two_viewers_on_another_process(servers):
    room, (a, b) = servers
    with chromium() as browser:
        errors: list[str] = []
        host_ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="ja-JP")
        one_ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="ja-JP")
        two_ctx = browser.new_context(locale="ja-JP")
        host, one, two = host_ctx.new_page(), one_ctx.new_page(), two_ctx.new_page()
        for page in (host, one, two):
            page.on("pageerror", lambda e: errors.append(str(e)))
        log_in(host, a.url, "host@example.jp")
        log_in(one, b.url, "member@example.jp")
        log_in(two, b.url, "fukuoka@example.jp")
        # A viewer cannot open the control page.
        assert one.goto(f"{b.url}/broadcasts/{room}/control").status == 403
        host.goto(f"{a.url}/broadcasts/{room}/control")
        one.goto(f"{b.url}/broadcasts/{room}/room")
        two.goto(f"{b.url}/broadcasts/{room}/room")
        host.wait_for_selector("#control[data-connected='1']", timeout=WAIT_MS)
        for page in (one, two):
            page.wait_for_selector("#room[data-connected='1']", timeout=WAIT_MS)

        # Pinned announcement: on every viewer's screen at once.
        host.fill("#c-pin", "資料は概要欄にあります")
        host.get_by_role("button", name="固定する").click()
        for page in (one, two):
            page.wait_for_selector("#room-pinned:not([hidden])", timeout=WAIT_MS)
            assert page.inner_text("#room-pinned-text") == "資料は概要欄にあります"

        # Hide: the comment disappears from both viewers on the other process.
        say(one, "電話番号は090-1234-5678です")
        say(two, "よろしくお願いします")
        for page in (one, two):
            wait_for_texts(page, ["電話番号は090-1234-5678です", "よろしくお願いします"])
        feed_item(host, "よろしくお願いします").wait_for(timeout=WAIT_MS)
        menu(host, "電話番号は090-1234-5678です", "hide")
        for page in (one, two):
            wait_for_texts(page, ["よろしくお願いします"])
        feed_item(host, "電話番号").and_(host.locator(".is-hidden")).wait_for(timeout=WAIT_MS)

        # Timeout: the viewer's comment box shows the remaining time.
        item = feed_item(host, "電話番号は090-1234-5678です")
        item.locator("summary").click()
        item.locator("[data-role=seconds]").select_option("300")
        item.locator("[data-act=timeout]").click()
        one.wait_for_selector("#room-limit:not([hidden])", timeout=WAIT_MS)
        limit = one.inner_text("#room-limit")
        assert limit.startswith("タイムアウト中：あと") and "分" in limit, limit
        assert one.is_disabled("#room-text") and one.is_disabled("#room-send")
        assert two.is_enabled("#room-text")
        host.locator("#c-sanctions li", has_text="市民 一郎").wait_for(timeout=WAIT_MS)
        assert host.inner_text("#c-sanctions li .org").startswith(" タイムアウト ")  # the server's label
        screenshot(one, "moderation-viewer-timed-out")
        host.locator("#c-sanctions li", has_text="市民 一郎").get_by_role("button", name="解除").click()
        one.wait_for_selector("#room-limit", state="hidden", timeout=WAIT_MS)
        assert one.is_enabled("#room-text")

        # A blocked word is held, then approved into the room for everyone.
        host.fill("#c-word", "宣伝")
        host.select_option("#c-word-action", "hold")
        host.get_by_role("button", name="追加").click()
        host.locator("#c-words li", has_text="宣伝").wait_for(timeout=WAIT_MS)
        assert host.locator("#c-words li", has_text="宣伝").locator(".org").inner_text() == " 保留して確認"
        say(one, "来週の勉強会の宣伝です")
        one.wait_for_selector("#room-note:has-text('確認待ち')", timeout=WAIT_MS)
        held = host.locator("#c-held li", has_text="来週の勉強会の宣伝です")
        held.wait_for(timeout=WAIT_MS)
        assert texts(two) == ["よろしくお願いします"]
        held.get_by_role("button", name="承認").click()
        for page in (one, two):
            wait_for_texts(page, ["よろしくお願いします", "来週の勉強会の宣伝です"])
        host.locator("#c-held li", has_text="確認待ちのコメントはありません").wait_for(timeout=WAIT_MS)

        # A question is picked: highlighted on every viewer's screen.
        say(two, "保育園の入所基準は公開していますか？", question=True)
        picked = host.locator("#c-questions li", has_text="保育園の入所基準")
        picked.wait_for(timeout=WAIT_MS)
        picked.get_by_role("button", name="ピックアップ").click()
        for page in (one, two):
            page.wait_for_selector("#room-picked:not([hidden])", timeout=WAIT_MS)
            assert page.inner_text("#room-picked-text") == "保育園の入所基準は公開していますか？"
            page.wait_for_selector("#room-comments li.is-picked", timeout=WAIT_MS)

        # A viewer reports a comment; the host sees it.
        one.once("dialog", lambda d: d.accept())
        one.locator("#room-comments li", has_text="保育園の入所基準").locator("button.report").click()
        host.locator("#c-reports li", has_text="保育園の入所基準").wait_for(timeout=WAIT_MS)

        # Slow mode: one comment per 30 s; the box shows the wait.
        host.select_option("#c-slow", "30")
        two.wait_for_function("() => document.getElementById('room').dataset.ready === '1'", timeout=WAIT_MS)
        host.locator("#c-audit li[data-action=slow_mode]").wait_for(timeout=WAIT_MS)
        say(two, "スローモードの一件目")
        two.wait_for_selector("#room-limit:has-text('スローモード中')", timeout=WAIT_MS)
        assert two.is_disabled("#room-send")
        # Slow mode off: the countdown goes with it, at once (it used to stay until it ran out).
        host.select_option("#c-slow", "0")
        two.wait_for_selector("#room-limit", state="hidden", timeout=WAIT_MS)
        two.fill("#room-text", "スローモード解除後")
        assert not two.is_disabled("#room-send")

        # The audit log records it all.
        host.wait_for_function(
            "n => document.querySelectorAll('#c-audit li[data-action]').length >= n", arg=8, timeout=WAIT_MS
        )
        actions = host.eval_on_selector_all("#c-audit li[data-action]", "els => els.map(e => e.dataset.action)")
        for action in ("pin", "hide", "timeout", "lift", "word_add", "approve", "pick", "slow_mode"):
            assert action in actions, (action, actions)
        audit_text = host.inner_text("#c-audit")
        assert "放送 さくら：コメントを非表示 → 市民 一郎" in audit_text
        screenshot(host, "moderation-control-page")
        screenshot(two, "moderation-viewer-slow-mode")
        assert errors == []
