"""What the live domain tells members: reminders before followed programs, VALARMs, viewer reports."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select

from core.db import utcnow
from core.members.models import Member
from core.notify import follows, prefs
from core.notify.models import Delivery, DeliveryState, Kind, Notification, Target
from live.models import BroadcastState
from live.moderation import reports
from live.schedule.reminders import program_reminders, reminder_key
from tests.factories import make_broadcast, member_id
from tests.helpers import login


async def broadcast_in(db, minutes: int):
    return await make_broadcast(
        db,
        title="夜の庁内放送",
        host_email="host@example.jp",
        section="ワクチン接種情報交換課",
        start=utcnow() + dt.timedelta(minutes=minutes),
        state=BroadcastState.SCHEDULED,
    )


async def reminders(db) -> list[tuple[int, str]]:
    rows = await db.execute(
        select(Notification.member_id, Notification.event_key).where(Notification.kind == Kind.PROGRAM_REMINDER)
    )
    return sorted((int(m), k) for m, k in rows.all())


async def test_reminders_follow_each_members_lead_time(demo, db):
    b = await broadcast_in(db, 25)
    member, kochi = await member_id(db, "member@example.jp"), await member_id(db, "kochi@example.jp")
    fukuoka = await member_id(db, "fukuoka@example.jp")
    for m in (member, kochi, fukuoka):
        await follows.follow(db, m, Target.PROGRAM, b.program_id)
    p = await prefs.load(db, kochi)
    p.lead_minutes = 30
    await prefs.save(db, kochi, p)
    p = await prefs.load(db, fukuoka)
    p.lead_minutes = 0  # no reminders
    await prefs.save(db, fukuoka, p)
    now = utcnow()
    key = reminder_key(b.id, b.starts_at)
    assert await program_reminders(db, now) == 1
    assert await reminders(db) == [(kochi, key)]  # 25 minutes ahead: only the 30-minute lead
    assert await program_reminders(db, now + dt.timedelta(minutes=16)) == 1  # 9 minutes ahead: default 10
    assert await reminders(db) == sorted([(kochi, key), (member, key)])
    assert await program_reminders(db, now + dt.timedelta(minutes=17)) == 0  # nothing twice
    n = (
        await db.execute(
            select(Notification).where(Notification.member_id == member, Notification.kind == Kind.PROGRAM_REMINDER)
        )
    ).scalar_one()
    assert n.title.startswith("まもなく放送: 夜の庁内放送") and n.url == f"/broadcasts/{b.id}"


async def test_moved_or_cancelled_broadcasts_remind_right_or_not_at_all(demo, db):
    b = await broadcast_in(db, 5)
    member = await member_id(db, "member@example.jp")
    await follows.follow(db, member, Target.PROGRAM, b.program_id)
    p = await prefs.load(db, member)
    p.kinds[Kind.PROGRAM_REMINDER] = (True, True)  # mail too (off by default)
    await prefs.save(db, member, p)
    now = utcnow()
    assert await program_reminders(db, now) == 1
    old_key = reminder_key(b.id, b.starts_at)
    # Moved an hour later before the mail went out: the old reminder's mail is withdrawn…
    b.starts_at += dt.timedelta(hours=1)
    b.ends_at += dt.timedelta(hours=1)
    await db.commit()
    assert await program_reminders(db, now + dt.timedelta(seconds=5)) == 0
    states = dict(
        (
            await db.execute(
                select(Notification.event_key, Delivery.state)
                .join(Delivery, Delivery.notification_id == Notification.id)
                .where(Notification.kind == Kind.PROGRAM_REMINDER)
            )
        ).all()
    )
    assert states == {old_key: DeliveryState.DROPPED}
    # …and the new time reminds again when its lead time comes.
    assert await program_reminders(db, now + dt.timedelta(minutes=56)) == 1
    assert (member, reminder_key(b.id, b.starts_at)) in await reminders(db)
    # Cancelled: no reminder at all.
    c = await broadcast_in(db, 8)
    await follows.follow(db, member, Target.PROGRAM, c.program_id)
    c.state = BroadcastState.CANCELLED
    await db.commit()
    assert await program_reminders(db, now) == 0


async def test_calendar_feeds_carry_the_members_lead_time(client, demo, db):
    await broadcast_in(db, 60 * 24)
    await login(client, "member@example.jp")
    ics = (await client.get("/schedule.ics")).text
    assert "BEGIN:VALARM" in ics and "TRIGGER:-PT10M" in ics and "ACTION:DISPLAY" in ics
    r = await client.put(
        "/api/notifications/settings",
        json={"lead_minutes": 45},
        headers={"x-csrftoken": client.cookies["chonai_csrf"], "accept": "application/json"},
    )
    assert r.status_code == 200
    ics = (await client.get("/schedule.ics")).text
    assert "TRIGGER:-PT45M" in ics and "TRIGGER:-PT10M" not in ics
    await client.put(
        "/api/notifications/settings",
        json={"lead_minutes": 0},
        headers={"x-csrftoken": client.cookies["chonai_csrf"], "accept": "application/json"},
    )
    assert "BEGIN:VALARM" not in (await client.get("/schedule.ics")).text


async def test_viewer_reports_reach_the_broadcasts_moderators(demo, db):
    await db.execute(delete(Notification))
    await db.commit()
    b = await broadcast_in(db, -5)
    reporter = (await db.execute(select(Member).where(Member.email == "member@example.jp"))).scalar_one()
    await reports.report(db, reporter, b, 3, "個人情報が含まれています")
    rows = await db.execute(
        select(Member.email, Notification.url, Notification.body)
        .join(Member, Member.id == Notification.member_id)
        .where(Notification.kind == Kind.REPORT_RECEIVED)
    )
    got = {e: (u, body) for e, u, body in rows.all()}
    # The broadcast's personality (host) and the site moderator; not the reporter, not other members.
    assert set(got) == {"host@example.jp", "moderator@example.jp"}
    assert got["host@example.jp"] == (f"/broadcasts/{b.id}/control", "理由: 個人情報が含まれています")
