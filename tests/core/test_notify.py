"""core.notify: batched fan-out, settings, and the mail worker (claims, retries, quiet hours, digest)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email
from collections.abc import AsyncIterator
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from core.db import Database
from core.members.models import Member, Status
from core.notify import follows, inbox, prefs, worker
from core.notify.models import Delivery, DeliveryState, Kind, Notification, Target
from core.notify.service import followers, members, notify
from core.settings import Settings
from core.timefmt import JST
from tests.factories import new_member

NOON_JST = dt.datetime(2026, 12, 1, 12, 0, tzinfo=JST).astimezone(dt.UTC)
NIGHT_JST = dt.datetime(2026, 12, 1, 23, 0, tzinfo=JST).astimezone(dt.UTC)
T0 = NOON_JST - dt.timedelta(minutes=1)  # when the events in these tests happen


async def people(db, n: int = 3, **overrides) -> list[Member]:
    rows = [new_member(f"p{i}@example.jp", f"利用者{i}", **overrides) for i in range(n)]
    db.add_all(rows)
    await db.commit()
    return rows


async def deliveries(db) -> list[Delivery]:
    rows = await db.execute(select(Delivery).order_by(Delivery.id).execution_options(populate_existing=True))
    return list(rows.scalars())


@contextlib.asynccontextmanager
async def mail_worker(settings: Settings) -> AsyncIterator[worker.MailWorker]:
    """A mail worker on a database of its own (as the scheduler process has), disposed afterwards."""
    database = Database(settings.database_url)
    try:
        yield worker.MailWorker(database, settings, timeout=60)
    finally:
        await database.dispose()


def mails(outbox: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in sorted(outbox.glob("notify-*.eml"))
    ]


async def test_fan_out_is_two_statements_and_skips_suspended_and_duplicates(db):
    a, b, c = await people(db)
    c.status = Status.SUSPENDED
    await db.commit()
    for m in (a, b, c):
        await follows.follow(db, m.id, Target.PROGRAM, 7)
    await follows.follow(db, a.id, Target.PERSONALITY, 9)  # follows both: still one notification
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        n = await notify(
            db,
            Kind.PROGRAM_LIVE,
            followers([(Target.PROGRAM, 7), (Target.PERSONALITY, 9)]),
            event_key="live:1",
            title="放送が始まりました",
            url="/broadcasts/1",
            now=T0,
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    await db.commit()
    assert n == 2
    # Notifications, deliveries (none: program_live mail is off by default), who to ring: three statements.
    assert [s.split()[0] + " " + s.split()[2] for s in statements] == [
        "INSERT notifications",
        "INSERT notify_deliveries",
        "SELECT FROM",
    ]
    assert await deliveries(db) == []
    rows = (await db.execute(select(Notification.member_id).order_by(Notification.member_id))).scalars().all()
    assert rows == [a.id, b.id]
    # The same event again (a replay) inserts nothing.
    assert (
        await notify(db, Kind.PROGRAM_LIVE, followers([(Target.PROGRAM, 7)]), event_key="live:1", title="x", now=T0)
        == 0
    )


async def test_settings_choose_app_and_mail_per_kind(db):
    a, b, _ = await people(db)
    p = await prefs.load(db, a.id)
    p.kinds[Kind.QUESTION_ANSWERED] = (False, True)  # mail only
    await prefs.save(db, a.id, p)
    p = await prefs.load(db, b.id)
    p.kinds[Kind.QUESTION_ANSWERED] = (False, False)  # nothing at all
    await prefs.save(db, b.id, p)
    await notify(db, Kind.QUESTION_ANSWERED, members([a.id, b.id]), event_key="q:1:answered", title="回答", now=T0)
    await db.commit()
    rows = (await db.execute(select(Notification.member_id, Notification.in_app))).all()
    assert [(r[0], bool(r[1])) for r in rows] == [(a.id, False)]
    assert [(d.member_id, d.state) for d in await deliveries(db)] == [(a.id, DeliveryState.PENDING)]
    assert await inbox.listing(db, a.id) == []  # not shown in the app


async def test_worker_sends_once_with_unsubscribe_headers_and_html(db, settings):
    a, _, _ = await people(db)
    await notify(
        db,
        Kind.FAQ_PUBLISHED,
        members([a.id]),
        event_key="faq:1:v1",
        title="FAQ資料が公開されました",
        body="PDF: /faq/documents/1/v/1/download/pdf",
        url="/faq/documents/1",
        now=T0,
    )
    await db.commit()
    async with mail_worker(settings) as w:
        assert await w.step(NOON_JST) == 1
        assert await w.step(NOON_JST) == 0
    [msg] = mails(settings.outbox_dir)
    assert msg["Subject"] == "【Chonai】FAQ資料が公開されました"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Unsubscribe"].startswith(
        f"<{settings.base_url}/notifications/unsubscribe?m={a.id}&k=faq_published&s="
    )
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert f"PDF: {settings.base_url}/faq/documents/1/v/1/download/pdf" in text
    assert f'<a href="{settings.base_url}/faq/documents/1/v/1/download/pdf">' in html
    [d] = await deliveries(db)
    assert d.state is DeliveryState.SENT and d.attempts == 1 and d.claimed_by is None


async def test_quiet_hours_hold_until_morning_and_suspension_drops(db, settings):
    a, b, _ = await people(db)
    await notify(db, Kind.SESSION_REMINDER, members([a.id, b.id]), event_key="s:1", title="明日開催", now=T0)
    await db.commit()
    b.status = Status.SUSPENDED
    await db.commit()
    async with mail_worker(settings) as w:
        assert await w.step(NIGHT_JST) == 0
        held, dropped = await deliveries(db)
        assert dropped.state is DeliveryState.DROPPED
        morning = dt.datetime(2026, 12, 2, 7, 0, tzinfo=JST).astimezone(dt.UTC)
        assert held.state is DeliveryState.PENDING and held.next_attempt_at == morning
        assert await w.step(morning - dt.timedelta(minutes=1)) == 0
        assert await w.step(morning) == 1
    assert len(mails(settings.outbox_dir)) == 1


async def test_smtp_failures_are_retried_with_backoff_nothing_lost_or_doubled(db, settings, monkeypatch):
    a, _, _ = await people(db)
    await notify(db, Kind.SIGNUP_PENDING, members([a.id]), event_key="signup:1", title="新しい登録申請", now=T0)
    await db.commit()
    real = worker.mail_deliver
    failures = {"left": 2}

    async def flaky(s, msg, name):  # type: ignore[no-untyped-def]
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionRefusedError("SMTP down")
        await real(s, msg, name)

    monkeypatch.setattr(worker, "mail_deliver", flaky)
    async with mail_worker(settings) as w:
        assert await w.step(NOON_JST) == 0
        [d] = await deliveries(db)
        assert d.state is DeliveryState.PENDING and d.attempts == 1
        assert d.next_attempt_at == NOON_JST + dt.timedelta(seconds=30) and "SMTP down" in d.last_error
        assert await w.step(NOON_JST + dt.timedelta(seconds=10)) == 0  # not yet due
        assert await w.step(NOON_JST + dt.timedelta(seconds=30)) == 0
        [d] = await deliveries(db)
        assert d.attempts == 2 and d.next_attempt_at == NOON_JST + dt.timedelta(seconds=90)
        assert await w.step(NOON_JST + dt.timedelta(seconds=90)) == 1
    assert len(mails(settings.outbox_dir)) == 1


async def test_two_workers_claim_each_mail_once(db, settings):
    group = await people(db, 30)
    await notify(db, Kind.SIGNUP_PENDING, members([m.id for m in group]), event_key="signup:9", title="申請", now=T0)
    await db.commit()
    dbs = [Database(settings.database_url), Database(settings.database_url)]
    workers = [worker.MailWorker(d, settings, timeout=60, batch=7) for d in dbs]
    try:
        sent = 0
        for _ in range(6):
            results = await asyncio.gather(*(w.step(NOON_JST) for w in workers))
            sent += sum(results)
    finally:
        for d in dbs:
            await d.dispose()
    assert sent == 30
    assert len(mails(settings.outbox_dir)) == 30
    states = (await db.execute(select(Delivery.state, func.count()).group_by(Delivery.state))).all()
    assert states == [(DeliveryState.SENT, 30)]


async def test_a_dead_workers_claim_is_taken_over_with_the_same_message_id(db, settings):
    a, _, _ = await people(db)
    await notify(db, Kind.SIGNUP_PENDING, members([a.id]), event_key="signup:2", title="申請", now=T0)
    await db.commit()
    database = Database(settings.database_url)
    try:
        dead = worker.MailWorker(database, settings, timeout=60, holder="dead")
        [pending] = await deliveries(db)
        async with database.session() as s:
            assert await dead._claim(s, NOON_JST) == [pending.id]  # …and then the process dies
        [d] = await deliveries(db)
        assert d.state is DeliveryState.SENDING and d.claimed_by == "dead"
        alive = worker.MailWorker(database, settings, timeout=60, holder="alive")
        assert await alive.step(NOON_JST + dt.timedelta(seconds=30)) == 0  # the claim is still fresh
        assert await alive.step(NOON_JST + dt.timedelta(seconds=61)) == 1
    finally:
        await database.dispose()
    [msg] = mails(settings.outbox_dir)
    assert msg["Message-ID"].startswith(f"<chonai.notify.{d.id}.")


async def test_digest_bundles_the_days_mails_into_one(db, settings):
    a, _, _ = await people(db)
    p = await prefs.load(db, a.id)
    p.digest = True
    p.quiet = None
    await prefs.save(db, a.id, p)
    for i in range(3):
        await notify(
            db,
            Kind.QUESTION_ANSWERED,
            members([a.id]),
            event_key=f"q:{i}:answered",
            title=f"回答{i}",
            url=f"/faq/sessions/1#q{i}",
            now=NOON_JST,
        )
    await db.commit()
    async with mail_worker(settings) as w:
        assert await w.step(NOON_JST) == 0
        assert {d.state for d in await deliveries(db)} == {DeliveryState.DIGEST}
        next_morning = dt.datetime(2026, 12, 2, 7, 30, tzinfo=JST).astimezone(dt.UTC)
        assert await w.step(next_morning - dt.timedelta(minutes=1)) == 0
        assert await w.step(next_morning) == 1
        assert await w.step(next_morning + dt.timedelta(minutes=5)) == 0
    [msg] = mails(settings.outbox_dir)
    assert msg["Subject"] == "【Chonai】お知らせのまとめ（3件）"
    text = msg.get_body(("plain",)).get_content()
    assert all(f"回答{i}" in text for i in range(3))
    assert "k=all" in msg["List-Unsubscribe"]


def test_quiet_hours_across_midnight_and_within_a_day():
    at = lambda h, m=0: dt.datetime(2026, 12, 1, h, m, tzinfo=JST).astimezone(dt.UTC)  # noqa: E731
    assert prefs.quiet_until(("22:00", "07:00"), at(21, 59)) is None
    assert prefs.quiet_until(("22:00", "07:00"), at(22, 0)) == at(7) + dt.timedelta(days=1)
    assert prefs.quiet_until(("22:00", "07:00"), at(6, 59)) == at(7)
    assert prefs.quiet_until(("12:00", "13:00"), at(12, 30)) == at(13)
    assert prefs.quiet_until(None, at(23)) is None


async def test_retention_keeps_90_days(db):
    a, _, _ = await people(db)
    old = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)
    await notify(db, Kind.QUESTION_MERGED, members([a.id]), event_key="old", title="古い", now=old)
    await notify(db, Kind.QUESTION_MERGED, members([a.id]), event_key="new", title="新しい", now=NOON_JST)
    await db.commit()
    assert await inbox.purge(db, NOON_JST) == 1
    assert (await db.execute(select(Notification.title))).scalars().all() == ["新しい"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_mark_read_some_or_all(db):
    a, b, _ = await people(db)
    for i in range(3):
        await notify(db, Kind.QUESTION_MERGED, members([a.id, b.id]), event_key=f"m{i}", title=f"統合{i}", now=T0)
    await db.commit()
    ids = [n.id for n in await inbox.listing(db, a.id)]
    assert await inbox.mark_read(db, a.id, ids[:1]) == 1
    assert await inbox.unread(db, a.id) == 2
    assert await inbox.mark_read(db, a.id, None) == 2
    assert await inbox.unread(db, a.id) == 0 and await inbox.unread(db, b.id) == 3
