"""In Chromium: member A registers for a session and follows a program; the bell rings live when it goes on
air, the session reminder and the FAQ資料 mail reach the outbox, and the mail's unsubscribe link stops the next one.

One `chonai serve` with the scheduler and the mail worker inside (CHONAI_SCHEDULER=embedded), mail to var/outbox.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import json
import sqlite3
import time
import urllib.request
from email import policy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.db import utcnow
from core.members import service as members
from core.members.models import Member
from core.sections import Section
from faq import service as faq
from faq.models import FaqDocument, StudySeries, StudySession
from live.models import Broadcast, BroadcastState, Program
from tests.browser import chromium, log_in, screenshot
from tests.factories import session_at
from tests.servers import ServerProcess, prepare_database

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT = 20_000
MEETING = "https://meet.example.jp/notify-browser-test"


async def _scene(url: str) -> dict[str, object]:
    """A standalone session in 30 minutes; the host's program with a broadcast in an hour; a host token."""
    async with session_at(url) as s:
        by = {m.email: m for m in (await s.execute(select(Member))).scalars()}
        series = (await s.execute(select(StudySeries))).scalars().one()
        session = await faq.create_session(
            s,
            by["naha@example.jp"],
            series,
            title="通知のテスト回",
            starts_at=utcnow() + dt.timedelta(minutes=30),
            meeting_url=MEETING,
        )
        section = (await s.execute(select(Section))).unique().scalars().first()
        start = utcnow() + dt.timedelta(hours=1)
        program = Program(
            title="通知テスト放送",
            section_id=section.id if section else None,
            personality_id=by["host@example.jp"].id,
            dtstart=start,
            duration_minutes=60,
        )
        s.add(program)
        await s.flush()
        broadcast = Broadcast(
            program_id=program.id,
            title="通知テスト放送",
            personality_id=by["host@example.jp"].id,
            starts_at=start,
            ends_at=start + dt.timedelta(hours=1),
            opens_at=start - dt.timedelta(minutes=10),
            state=BroadcastState.SCHEDULED,
        )
        s.add(broadcast)
        await s.commit()
        _, token = await members.create_api_token(s, by["host@example.jp"], "test")
        second = (await s.execute(select(StudySession).where(StudySession.number == 2))).scalar_one()
        doc = (await s.execute(select(FaqDocument).where(FaqDocument.session_id == second.id))).scalar_one()
        return {
            "session": session.id,
            "program": program.id,
            "broadcast": broadcast.id,
            "token": token,
            "doc": doc.id,
            "version": doc.current_version,
            "a": by["member@example.jp"].id,
        }


def _queued(path: Path, member_id: int, event_key: str) -> tuple[bool, bool]:
    """(the in-app notification exists, a mail delivery exists) for that member and event (plain sqlite3:
    Playwright's sync API already runs an event loop in this thread)."""
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT id FROM notifications WHERE member_id = ? AND event_key = ?", (member_id, event_key)
        ).fetchone()
        if row is None:
            return False, False
        mail = conn.execute("SELECT 1 FROM notify_deliveries WHERE notification_id = ?", (row[0],)).fetchone()
        return True, mail is not None


def _mail(outbox: Path, to: str, needle: str, timeout: float = 30) -> email.message.EmailMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(outbox.glob("notify-*.eml")):
            msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            if msg["To"] == to and needle in msg.get_body(("plain",)).get_content():  # type: ignore[union-attr]
                return msg  # type: ignore[return-value]
        time.sleep(0.1)
    raise AssertionError(f"no mail to {to} containing {needle!r} in {sorted(p.name for p in outbox.glob('*.eml'))}")


def _login(browser, url: str, email_address: str):  # type: ignore[no-untyped-def]
    page = browser.new_context(locale="ja-JP", viewport={"width": 1000, "height": 900}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in(page, url, email_address)
    page.set_default_timeout(TIMEOUT)
    return page, errors


def test_member_hears_about_what_they_follow(tmp_path: Path) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'chonai.db'}"
    env = {
        "VAR_DIR": str(tmp_path),
        "SECRET_KEY": "n" * 48,
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'chonai.db'}",
        "CHONAI_SCHEDULER": "embedded",
        "CHONAI_SCHEDULER_TICK": "0.2",
    }
    prepare_database(env)
    scene = asyncio.run(_scene(db_url))
    server = ServerProcess(env, tmp_path / "server.log").start()
    outbox = tmp_path / "outbox"
    try:
        with chromium() as browser:
            a, errors = _login(browser, server.url, "member@example.jp")
            # A lets mail through at any hour (the default holds mail 22:00–07:00 JST until morning).
            a.goto(server.url + "/settings/notifications")
            a.uncheck("#f-quiet")
            a.get_by_role("button", name="保存する").click()
            expect(a.locator(".notice")).to_contain_text("保存しました")

            # A registers for the session (which follows its series) and follows the program.
            a.goto(f"{server.url}/faq/sessions/{scene['session']}")
            a.get_by_role("button", name="参加登録する").click()
            expect(a.get_by_text("参加登録済みです。")).to_be_visible()
            reminder = _mail(outbox, "member@example.jp", MEETING)  # the 1-hour reminder, with its link
            assert reminder["Subject"].startswith("【Chonai】1時間後に始まります")

            a.goto(f"{server.url}/schedule/programs/{scene['program']}")
            follow = a.locator(f'form.follow-form[data-follow-id="{scene["program"]}"] button')
            expect(follow).to_have_text("フォローする")
            follow.click()
            expect(follow).to_have_text("フォロー中")
            bell = a.locator("#bell")
            expect(bell).not_to_have_attribute("data-count", "")
            before = int(bell.get_attribute("data-count") or "0")

            # The host goes on air (API token); A's bell rings without a reload.
            request = urllib.request.Request(
                f"{server.url}/api/schedule/broadcasts/{scene['broadcast']}/live",
                method="POST",
                headers={"authorization": f"Bearer {scene['token']}", "accept": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=10) as r:
                assert json.loads(r.read())["state"] == "live"
            expect(bell).to_have_attribute("data-count", str(before + 1))
            expect(a.locator("#bell-count")).to_have_text(str(before + 1))
            screenshot(a, "notify-bell")
            a.locator("#bell").click()
            expect(a.locator(".notification").first).to_contain_text("放送が始まりました: 通知テスト放送")

            # The organiser publishes the FAQ資料: A gets the mail with the PDF link.
            organiser, org_errors = _login(browser, server.url, "naha@example.jp")
            version = int(scene["version"]) + 1

            def publish(note: str) -> None:
                organiser.goto(f"{server.url}/faq/documents/{scene['doc']}/edit")
                organiser.fill("#f-note", note)
                organiser.get_by_role("button", name=f"v{version}として公開").click()
                organiser.wait_for_url(f"{server.url}/faq/documents/{scene['doc']}")

            publish("回答を更新しました")
            pdf = f"{server.url}/faq/documents/{scene['doc']}/v/{version}/download/pdf"
            faq_mail = _mail(outbox, "member@example.jp", pdf)
            assert faq_mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            html = faq_mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
            assert f'href="{pdf}"' in html

            # The unsubscribe link, opened without logging in, stops the next one.
            link = faq_mail["List-Unsubscribe"].strip("<>")
            assert urlsplit(link).netloc == urlsplit(server.url).netloc
            stranger = browser.new_context(locale="ja-JP").new_page()
            stranger.goto(link)
            stranger.get_by_role("button", name="配信を停止する").click()
            expect(stranger.locator("#unsubscribed")).to_contain_text("停止しました")
            version += 1
            publish("誤字を修正しました")
            key = f"faq:{scene['doc']}:v{version}"
            deadline = time.monotonic() + 15
            while (state := _queued(tmp_path / "chonai.db", int(scene["a"]), key)) != (True, False):
                assert time.monotonic() < deadline, state
                time.sleep(0.2)
            # In the app it is still there; by mail nothing was queued, so nothing can arrive.
            a.goto(server.url + "/notifications")
            expect(a.locator(".notification").first).to_contain_text(f"FAQ資料が改訂（第{version}版）")
            assert not any(
                f"/v/{version}/download/pdf" in p.read_text(errors="replace")
                and "member@example.jp" in p.read_text(errors="replace")
                for p in outbox.glob("notify-*.eml")
            )
            assert errors == [] and org_errors == []
    finally:
        server.stop()
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log, log[-3000:]
