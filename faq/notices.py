"""What the FAQ domain tells members: answers to their questions, new FAQ資料, session reminders.

Each function writes notifications inside the caller's transaction (core.notify); the caller commits.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.notify.models import Kind, Target
from core.notify.service import any_of, followers, notify, withdraw_stale
from core.timefmt import format_jst, to_jst
from faq.models import (
    Attendance,
    FaqDocument,
    FaqVersion,
    Question,
    QuestionAsker,
    Registration,
    SessionState,
    StudySession,
)
from live.public import Broadcast, BroadcastState


def _short(text: str, n: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _askers(question_id: int):  # type: ignore[no-untyped-def]
    return select(QuestionAsker.member_id).where(QuestionAsker.question_id == question_id)


def _question_url(q: Question) -> str:
    return f"/faq/sessions/{q.session_id}#q{q.id}"


async def _tell_askers(
    db: AsyncSession, kind: Kind, q: Question, event: str, title: str, body: str, url: str, actor_id: int
) -> None:
    """Everyone who asked (or joined) question `q`, except the member who acted on it."""
    await notify(
        db, kind, _askers(q.id), event_key=f"q:{q.id}:{event}", title=title, body=body, url=url, exclude=[actor_id]
    )


async def question_answered(db: AsyncSession, q: Question, actor_id: int) -> None:
    title = f"あなたの質問に回答がありました: {_short(q.body)}"
    body = f"回答: {q.answer}" if q.answer else "勉強会の中で回答されました。"
    await _tell_askers(db, Kind.QUESTION_ANSWERED, q, "answered", title, body, _question_url(q), actor_id)


async def question_dismissed(db: AsyncSession, q: Question, actor_id: int) -> None:
    title = f"あなたの質問は見送りになりました: {_short(q.body)}"
    body = f"理由: {q.dismiss_reason}"
    await _tell_askers(db, Kind.QUESTION_DISMISSED, q, "dismissed", title, body, _question_url(q), actor_id)


async def question_merged(db: AsyncSession, source: Question, target: Question, actor_id: int) -> None:
    title = f"あなたの質問は同じ内容の質問 #{target.id} に統合されました"
    body = f"統合先の質問: {target.body}"
    await _tell_askers(db, Kind.QUESTION_MERGED, source, "merged", title, body, _question_url(target), actor_id)


async def document_published(
    db: AsyncSession, doc: FaqDocument, session: StudySession, version: FaqVersion, actor_id: int | None
) -> None:
    """Followers of the series or its 課, and everyone who took part in a session of the series."""
    attended = (
        select(Attendance.member_id)
        .join(StudySession, StudySession.id == Attendance.session_id)
        .where(StudySession.series_id == session.series_id)
    )
    recipients = any_of(
        followers([(Target.SERIES, session.series_id), (Target.SECTION, session.series.section_id)]), attended
    )
    pdf = f"/faq/documents/{doc.id}/v/{version.number}/download/pdf"
    what = "公開" if version.number == 1 else f"改訂（第{version.number}版）"
    note = "" if version.number == 1 else f"\n変更内容: {version.note}"
    await notify(
        db,
        Kind.FAQ_PUBLISHED,
        recipients,
        event_key=f"faq:{doc.id}:v{version.number}",
        title=f"FAQ資料が{what}されました: {version.title}",
        body=f"{session.series.title} 第{session.number}回「{session.title}」のFAQ資料です。{note}\nPDF: {pdf}",
        url=f"/faq/documents/{doc.id}",
        exclude=[actor_id] if actor_id else (),
    )


def session_link(session: StudySession) -> str:
    if session.meeting_url:
        return session.meeting_url
    if session.broadcast_id:
        return f"/broadcasts/{session.broadcast_id}"
    return f"/faq/sessions/{session.id}"


def reminder_key(session_id: int, which: str, starts_at: dt.datetime) -> str:
    return f"session:{session_id}:{which}:{starts_at.astimezone(dt.UTC).isoformat()}"


async def session_reminders(db: AsyncSession, now: dt.datetime) -> int:
    """Scheduler step: the day before and one hour before, to everyone registered; commits."""
    rows = (
        await db.execute(
            select(StudySession)
            .outerjoin(Broadcast, Broadcast.id == StudySession.broadcast_id)
            .where(
                StudySession.state == SessionState.SCHEDULED,
                StudySession.starts_at > now,
                StudySession.starts_at <= now + dt.timedelta(hours=24),
                (Broadcast.id.is_(None)) | (Broadcast.state != BroadcastState.CANCELLED),
            )
            .limit(200)
        )
    ).scalars()
    written = 0
    for s in list(rows):
        hour = s.starts_at - now <= dt.timedelta(hours=1)
        day = to_jst(s.starts_at).date()
        when = (
            "本日" if day == to_jst(now).date() else "明日" if day == to_jst(now).date() + dt.timedelta(days=1) else ""
        )
        title = (
            f"1時間後に始まります: {s.series.title} 第{s.number}回「{s.title}」"
            if hour
            else f"{when}開催: {s.series.title} 第{s.number}回「{s.title}」（{format_jst(s.starts_at)}）"
        )
        written += await notify(
            db,
            Kind.SESSION_REMINDER,
            select(Registration.member_id).where(Registration.session_id == s.id),
            event_key=reminder_key(s.id, "hour" if hour else "day", s.starts_at),
            title=title,
            body=f"開始: {format_jst(s.starts_at)}\n参加リンク: {session_link(s)}",
            url=f"/faq/sessions/{s.id}",
            now=now,
        )
    await withdraw_stale(db, Kind.SESSION_REMINDER, now, _stale)
    await db.commit()
    return written


async def _stale(db: AsyncSession, keys: set[str]) -> list[str]:
    """Reminder keys with unsent mail whose session moved, ended or whose broadcast was cancelled."""
    stale = []
    for key in keys:
        _, sid, which, _ = key.split(":", 3)
        s = await db.get(StudySession, int(sid))
        broadcast = await db.get(Broadcast, s.broadcast_id) if s and s.broadcast_id else None
        if (
            s is None
            or s.state is SessionState.ENDED
            or reminder_key(s.id, which, s.starts_at) != key
            or (broadcast is not None and broadcast.state is BroadcastState.CANCELLED)
        ):
            stale.append(key)
    return stale
