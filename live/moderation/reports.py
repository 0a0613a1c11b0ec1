"""Viewers' reports of a comment: one per viewer and comment, notified to the broadcast's moderators."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.members.models import Member, Role
from core.notify.models import Kind
from core.notify.service import any_of, members, notify
from core.text import clean_line
from live.models import Broadcast, Program, ProgramModerator
from live.moderation import audit
from live.moderation.decisions import decide_once
from live.moderation.errors import ModerationError
from live.moderation.models import CommentReport

REPORT_REASON_MAX = 200
_ALREADY = "このコメントは既に通報済みです。"


async def report(db: AsyncSession, reporter: Member, broadcast: Broadcast, position: int, reason: str) -> CommentReport:
    existing = await db.execute(
        select(CommentReport.id).where(
            CommentReport.broadcast_id == broadcast.id,
            CommentReport.position == position,
            CommentReport.reporter_id == reporter.id,
        )
    )
    if existing.first() is not None:
        raise ModerationError("already_reported", _ALREADY, 409)
    entry = CommentReport(
        broadcast_id=broadcast.id,
        position=position,
        reporter_id=reporter.id,
        reason=clean_line(reason)[:REPORT_REASON_MAX],
    )
    db.add(entry)
    try:
        await db.flush()
        await _notify_report(db, reporter, broadcast, entry)
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise ModerationError("already_reported", _ALREADY, 409) from None
    return entry


async def _notify_report(db: AsyncSession, reporter: Member, broadcast: Broadcast, entry: CommentReport) -> None:
    """The broadcast's own moderators (personality, program personality, named moderators) and site moderators."""
    personal = [i for i in (broadcast.personality_id,) if i]
    if broadcast.program_id is not None:
        program = await db.get(Program, broadcast.program_id)
        if program is not None and program.personality_id:
            personal.append(program.personality_id)
        named = select(ProgramModerator.member_id).where(ProgramModerator.program_id == broadcast.program_id)
        personal.extend((await db.execute(named)).scalars())
    site = select(Member.id).where(Member.role == Role.MODERATOR)
    await notify(
        db,
        Kind.REPORT_RECEIVED,
        any_of(members(personal), site) if personal else site,
        event_key=f"report:{entry.id}",
        title=f"コメントが通報されました: {broadcast.title}",
        body=f"理由: {entry.reason}" if entry.reason else "",
        url=f"/broadcasts/{broadcast.id}/control",
        exclude=[reporter.id],
    )


async def open_reports(db: AsyncSession, broadcast_id: int) -> list[CommentReport]:
    rows = await db.execute(
        select(CommentReport)
        .where(CommentReport.broadcast_id == broadcast_id, CommentReport.handled_at.is_(None))
        .order_by(CommentReport.created_at)
    )
    return list(rows.unique().scalars())


async def handle_report(db: AsyncSession, actor: Member, broadcast: Broadcast, report_id: int) -> CommentReport:
    """Mark a report handled exactly once; the second moderator gets `already_handled`."""
    entry = await decide_once(
        db,
        actor,
        broadcast,
        (CommentReport, report_id),
        CommentReport.handled_at.is_(None),
        {"handled_at": utcnow()},
        missing="通報が見つかりません。",
        taken=("already_handled", "この通報は既に対応済みです。"),
    )
    detail = {"report": report_id}
    audit.record(db, broadcast.id, actor, "report_handled", target_position=entry.position, detail=detail)
    await db.commit()
    return entry
