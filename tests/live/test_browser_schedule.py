"""In Chromium: an operator sets up a daily rotation; a broadcast flips to live by itself on open pages."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt

import icalendar
import pytest
import recurring_ical_events

from tests.browser import chromium, log_in, screenshot
from tests.factories import session_at
from tests.servers import serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(tmp_path):
    with serve(tmp_path, CHONAI_SCHEDULER="embedded", CHONAI_SCHEDULER_TICK="0.3") as proc:
        yield proc


def insert_broadcast_starting_in(db_url: str, seconds: int) -> int:
    """A one-off program starting a few seconds from now (no lobby), materialised like the form does."""

    async def go() -> int:
        from sqlalchemy import select

        from core.db import utcnow
        from core.events import InProcessBus
        from core.members.models import Member
        from live.models import Broadcast, Program
        from live.schedule.materialise import materialise_program

        async with session_at(db_url) as s:
            host = (await s.execute(select(Member).where(Member.email == "host@example.jp"))).scalar_one()
            p = Program(
                title="まもなく生放送",
                personality_id=host.id,
                rrule="",
                duration_minutes=30,
                lobby_minutes=0,
                dtstart=utcnow().replace(microsecond=0) + dt.timedelta(seconds=seconds),
            )
            s.add(p)
            await s.commit()
            await materialise_program(s, InProcessBus(), p.id)
            b = (await s.execute(select(Broadcast).where(Broadcast.program_id == p.id))).unique().scalar_one()
            return b.id

    # Playwright's sync API owns this thread's event loop: run the database work in another thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


def test_rotation_home_and_live_flip(server):
    from playwright.sync_api import expect

    with chromium() as browser:
        errors: list[str] = []
        operator = browser.new_context(locale="ja-JP").new_page()
        operator.on("pageerror", lambda e: errors.append(str(e)))
        log_in(operator, server.url, "operator@example.jp")

        # The operator sets up a daily rotation; a mistake first, answered in Japanese.
        operator.goto(server.url + "/schedule/rotation/new")
        operator.fill("#f-title", "夕方の庁内ラジオ")
        operator.fill("#f-start_time", "17:30")
        operator.fill("#f-end_time", "17:00")
        operator.get_by_role("button", name="ローテーションを作成").click()
        assert "少なくとも1つの曜日" in operator.inner_text("#e-days")
        assert "終了時刻は開始時刻より後に" in operator.inner_text("#e-end_time")
        for code, name in (
            ("mo", "放送 さくら"),
            ("tu", "博多 美咲"),
            ("we", "比嘉 翔太"),
            ("th", "坂本 涼"),
            ("fr", "見守 健太"),
        ):
            operator.select_option(f"#f-personality_{code}", label=name)
        operator.fill("#f-end_time", "17:50")
        screenshot(operator, "schedule-rotation-form")
        operator.get_by_role("button", name="ローテーションを作成").click()
        expect(operator.locator(".notice")).to_contain_text("日替わりローテーションを作成しました。")
        assert "夕方の庁内ラジオ" in operator.inner_text("h1")
        operator.goto(server.url + "/schedule/programs")
        assert operator.get_by_role("link", name="夕方の庁内ラジオ", exact=True).count() == 5

        # A member's home page and broadcast page are open when the start time passes.
        broadcast_id = insert_broadcast_starting_in(server.db_url, 8)
        phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="ja-JP")
        home = phone.new_page()
        home.on("pageerror", lambda e: errors.append(str(e)))
        log_in(home, server.url, "member@example.jp")
        expect(home.locator(".nextup")).to_contain_text("まもなく生放送")
        page = phone.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server.url}/broadcasts/{broadcast_id}")
        badge = page.locator(f"#broadcast-status [data-broadcast-id='{broadcast_id}']")
        expect(badge).to_have_text("予定")
        page.evaluate("window.__notReloaded = true")
        page.wait_for_selector("html[data-schedule-connected]")
        expect(badge).to_have_text("放送中", timeout=30_000)
        assert page.evaluate("window.__notReloaded === true")
        expect(page.locator(".onair-mark")).to_have_text("ON AIR")
        expect(home.locator(".onair")).to_contain_text("まもなく生放送", timeout=10_000)
        screenshot(page, "schedule-broadcast-live-phone")
        screenshot(home, "schedule-home-onair-phone")
        assert home.evaluate("document.documentElement.scrollWidth") <= 390

        # The operator ends it early from the broadcast page; the member's page follows.
        operator.goto(f"{server.url}/broadcasts/{broadcast_id}")
        operator.get_by_role("button", name="放送を終了").click()
        expect(operator.locator(".notice")).to_contain_text("放送を終了しました。")
        expect(badge).to_have_text("終了", timeout=10_000)

        # The calendar feed imports in a real parser.
        response = operator.request.get(server.url + "/schedule.ics")
        assert response.ok
        cal = icalendar.Calendar.from_ical(response.body())
        now = dt.datetime.now(dt.UTC)
        titles = {str(e["SUMMARY"]) for e in recurring_ical_events.of(cal).between(now, now + dt.timedelta(days=8))}
        assert any(t.startswith("夕方の庁内ラジオ") for t in titles)
        assert errors == []
