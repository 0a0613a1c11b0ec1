"""What the FAQ domain tells members: Q&A outcomes, FAQ資料 distribution, session reminders, attendance."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.db import utcnow
from core.events import InProcessBus
from core.members.models import Member
from core.notify import follows
from core.notify.models import Delivery, DeliveryState, Kind, Notification, Target
from faq import attendance, board, documents, notices, service
from faq.models import FaqDocument, StudySeries, StudySession


async def who(db, *emails: str) -> dict[str, Member]:
    rows = (await db.execute(select(Member).where(Member.email.in_(emails)))).scalars()
    return {m.email.split("@")[0]: m for m in rows}


async def received(db, kind: Kind, key_prefix: str = "") -> dict[str, Notification]:
    rows = await db.execute(
        select(Member.email, Notification)
        .join(Member, Member.id == Notification.member_id)
        .where(Notification.kind == kind, Notification.event_key.startswith(key_prefix))
    )
    return {email.split("@")[0]: n for email, n in rows.all()}


async def live_session(db) -> StudySession:
    return (await db.execute(select(StudySession).where(StudySession.number == 3))).scalar_one()


async def test_answered_dismissed_and_merged_reach_every_asker(demo, db):
    p = await who(db, "member@example.jp", "fukuoka@example.jp", "kochi@example.jp", "naha@example.jp")
    session, bus = await live_session(db), InProcessBus()
    q1 = await board.ask(db, bus, p["member"], session, "駐車場は足りていますか？")
    q2 = await board.ask(db, bus, p["fukuoka"], session, "駐車場の台数の目安は？", anonymous=True)
    q3 = await board.ask(db, bus, p["kochi"], session, "会場の照明は？")
    await board.merge(db, bus, p["naha"], q2.id, q1.id)
    await board.dismiss(db, bus, p["naha"], q3.id, "今回のテーマの範囲外のため")
    await board.answer(db, bus, p["naha"], q1.id, "1会場あたり50台を目安にしました。")
    merged = await received(db, Kind.QUESTION_MERGED)
    assert set(merged) == {"fukuoka"} and merged["fukuoka"].url == f"/faq/sessions/{session.id}#q{q1.id}"
    dismissed = await received(db, Kind.QUESTION_DISMISSED)
    assert set(dismissed) == {"kochi"} and dismissed["kochi"].body == "理由: 今回のテーマの範囲外のため"
    answered = await received(db, Kind.QUESTION_ANSWERED, f"q:{q1.id}:")
    assert set(answered) == {"member", "fukuoka"}  # the duplicate's asker hears the answer too
    assert answered["member"].body == "回答: 1会場あたり50台を目安にしました。"
    # Answering again (an edit) does not notify twice.
    await board.answer(db, bus, p["naha"], q1.id, "1会場あたり50〜60台を目安にしました。")
    assert len(await received(db, Kind.QUESTION_ANSWERED, f"q:{q1.id}:")) == 2


async def test_publishing_distributes_to_followers_attendees_and_section_followers(demo, db):
    p = await who(db, *(f"{x}@example.jp" for x in ("member", "fukuoka", "kochi", "naha", "mhlw", "host")))
    series = (await db.execute(select(StudySeries))).scalars().one()
    upcoming = await service.create_session(
        db,
        p["naha"],
        series,
        title="次回",
        starts_at=utcnow() + dt.timedelta(days=7),
        meeting_url="https://meet.example.jp/x",
    )
    assert await service.register(db, p["kochi"], upcoming)
    assert [(f.target, f.target_id) for f in await follows.follows_of(db, p["kochi"].id)] == [
        (Target.SERIES, series.id)
    ]
    assert series.section_id is not None
    await follows.follow(db, p["host"].id, Target.SECTION, series.section_id)
    second = (await db.execute(select(StudySession).where(StudySession.number == 2))).scalar_one()
    doc = (await db.execute(select(FaqDocument).where(FaqDocument.session_id == second.id))).scalar_one()
    version = await documents.publish(db, p["naha"], doc, "カテゴリを整理")
    got = await received(db, Kind.FAQ_PUBLISHED, f"faq:{doc.id}:v{version.number}")
    # kochi follows the series (registered), host follows its 課, member/fukuoka/mhlw took part; naha published it.
    assert set(got) == {"kochi", "host", "member", "fukuoka", "mhlw"}
    n = got["kochi"]
    assert n.title == f"FAQ資料が改訂（第{version.number}版）されました: {version.title}"
    assert (
        f"PDF: /faq/documents/{doc.id}/v/{version.number}/download/pdf" in n.body
        and "変更内容: カテゴリを整理" in n.body
    )
    mails = (
        await db.execute(select(Delivery).where(Delivery.notification_id.in_([x.id for x in got.values()])))
    ).scalars()
    assert len(list(mails)) == 5  # faq_published mails are on by default


async def test_session_reminders_day_before_hour_before_and_moved(demo, db):
    p = await who(db, "member@example.jp", "naha@example.jp")
    series = (await db.execute(select(StudySeries))).scalars().one()
    now = utcnow()
    s = await service.create_session(
        db,
        p["naha"],
        series,
        title="接種記録",
        starts_at=now + dt.timedelta(hours=20),
        meeting_url="https://meet.example.jp/r",
    )
    await service.register(db, p["member"], s)
    assert await notices.session_reminders(db, now) == 1
    assert await notices.session_reminders(db, now + dt.timedelta(minutes=1)) == 0  # once
    [day] = (await received(db, Kind.SESSION_REMINDER)).values()
    assert (
        "開催" in day.title
        and "参加リンク: https://meet.example.jp/r" in day.body
        and day.url == f"/faq/sessions/{s.id}"
    )
    assert await notices.session_reminders(db, now + dt.timedelta(hours=19, minutes=5)) == 1
    hour = [n for n in (await received(db, Kind.SESSION_REMINDER)).values()]
    assert len(hour) == 1  # received() keys by member: the newer one
    titles = set(
        (await db.execute(select(Notification.title).where(Notification.kind == Kind.SESSION_REMINDER))).scalars()
    )
    assert any(t.startswith("1時間後に始まります") for t in titles)

    # A session moved after its reminder was written: the unsent reminder is withdrawn, not mailed.
    moved = await service.create_session(
        db, p["naha"], series, title="移動する回", starts_at=now + dt.timedelta(hours=10)
    )
    await service.register(db, p["member"], moved)
    assert await notices.session_reminders(db, now) == 1
    moved.starts_at = now + dt.timedelta(days=3)
    await db.commit()
    await notices.session_reminders(db, now + dt.timedelta(minutes=1))
    key = notices.reminder_key(moved.id, "day", now + dt.timedelta(hours=10))
    state = (
        await db.execute(
            select(Delivery.state)
            .join(Notification, Notification.id == Delivery.notification_id)
            .where(Notification.event_key == key)
        )
    ).scalar_one()
    assert state is DeliveryState.DROPPED


async def test_attendance_is_counted_apart_from_registration(demo, db):
    p = await who(db, "naha@example.jp", "host@example.jp", "member@example.jp")
    series = (await db.execute(select(StudySeries))).scalars().one()
    stats = await attendance.series_stats(db, series.id)
    # Demo: two sessions held, five registrations each, four took part each (豊中市, 福岡市, 那覇市, 厚生労働省).
    assert (stats.sessions_held, stats.registrations, stats.attendances, stats.municipalities) == (2, 10, 8, 3)
    first = (await db.execute(select(StudySession).where(StudySession.number == 1))).scalar_one()
    await attendance.mark(db, p["naha"], first, p["host"].id, True)  # 札幌市, registered but not recorded
    stats = await attendance.series_stats(db, series.id)
    assert (stats.attendances, stats.municipalities) == (9, 4)
    roll = {r.member.email: (r.registered, r.attended, r.source) for r in await attendance.roll(db, first)}
    assert roll["host@example.jp"] == (True, True, "organiser")
    assert roll["kochi@example.jp"] == (True, False, "")
    assert roll["mhlw@example.jp"] == (False, True, "board")
    # Opening the board counts only while the session runs.
    live = await live_session(db)
    assert await attendance.record(db, live, p["member"].id) is True
    assert await attendance.record(db, live, p["member"].id) is False
    assert await attendance.record(db, first, p["member"].id) is False  # ended
