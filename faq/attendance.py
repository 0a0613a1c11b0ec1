"""Attendance: who took part in a session, apart from who registered.

A member took part when they opened the session's Q&A board while it ran (recorded here),
opened its broadcast's comment room between going live and the end (room visits, read from
the live domain's table), or an organiser marked them. Series totals count 申込 (registrations),
参加 (participants) and the municipalities that took part.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import delete, distinct, func, or_, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.members.models import Member, OrgKind
from faq.models import Attendance, Registration, SessionState, StudySession
from faq.service import require_organiser
from live.public import Broadcast, RoomVisit


async def record(db: AsyncSession, session: StudySession, member_id: int, source: str = "board") -> bool:
    """Note that the member took part (only while the session runs); idempotent, commits."""
    if session.state is not SessionState.LIVE:
        return False
    if await db.get(Attendance, (session.id, member_id)) is not None:
        return False
    db.add(Attendance(session_id=session.id, member_id=member_id, source=source))
    try:
        await db.commit()
    except IntegrityError:  # the same member opening two tabs at once
        await db.rollback()
        return False
    return True


async def mark(db: AsyncSession, organiser: Member, session: StudySession, member_id: int, attended: bool) -> None:
    """An organiser marks a member as having taken part (or removes the mark)."""
    await require_organiser(db, organiser, session.series_id)
    if await db.get(Member, member_id) is None:
        raise NotFound("メンバーが見つかりません。")
    await db.execute(delete(Attendance).where(Attendance.session_id == session.id, Attendance.member_id == member_id))
    if attended:
        db.add(Attendance(session_id=session.id, member_id=member_id, source="organiser"))
    await db.commit()


def participants(session_ids: Any) -> Any:
    """(session_id, member_id) of everyone who took part in these sessions (a SELECT of ids)."""
    direct = select(Attendance.session_id, Attendance.member_id).where(Attendance.session_id.in_(session_ids))
    via_room = (
        select(StudySession.id, RoomVisit.member_id)
        .join(Broadcast, Broadcast.id == StudySession.broadcast_id)
        .join(RoomVisit, RoomVisit.broadcast_id == Broadcast.id)
        .where(
            StudySession.id.in_(session_ids),
            Broadcast.live_at.is_not(None),
            or_(Broadcast.ended_at.is_(None), RoomVisit.first_seen_at <= Broadcast.ended_at),
        )
    )
    return union(direct, via_room).subquery()


@dataclasses.dataclass
class SeriesStats:
    sessions_held: int
    registrations: int  # 申込 (over held sessions)
    attendances: int  # 参加
    municipalities: int  # municipalities that took part


async def series_stats(db: AsyncSession, series_id: int) -> SeriesStats:
    held = select(StudySession.id).where(StudySession.series_id == series_id, StudySession.state == SessionState.ENDED)
    sessions_held = int((await db.execute(select(func.count()).select_from(held.subquery()))).scalar_one())
    registrations = int(
        (
            await db.execute(select(func.count()).select_from(Registration).where(Registration.session_id.in_(held)))
        ).scalar_one()
    )
    took_part = participants(held)
    attendances = int((await db.execute(select(func.count()).select_from(took_part))).scalar_one())
    municipalities = int(
        (
            await db.execute(
                select(func.count(distinct(Member.prefecture + Member.organisation)))
                .select_from(took_part)
                .join(Member, Member.id == took_part.c[1])
                .where(Member.org_kind == OrgKind.MUNICIPALITY)
            )
        ).scalar_one()
    )
    return SeriesStats(sessions_held, registrations, attendances, municipalities)


@dataclasses.dataclass
class Roll:
    member: Member
    registered: bool
    attended: bool
    source: str  # board, room, organiser or ""


async def roll(db: AsyncSession, session: StudySession) -> list[Roll]:
    """Registrants and participants of one session, for its organisers."""
    ids = select(StudySession.id).where(StudySession.id == session.id)
    took = participants(ids)
    attended = {int(r[1]) for r in (await db.execute(select(took))).all()}
    sources = dict(
        (
            await db.execute(select(Attendance.member_id, Attendance.source).where(Attendance.session_id == session.id))
        ).all()
    )
    registered = set(
        (await db.execute(select(Registration.member_id).where(Registration.session_id == session.id))).scalars()
    )
    people = (
        await db.execute(select(Member).where(Member.id.in_(attended | registered)).order_by(Member.id))
    ).scalars()
    return [
        Roll(m, m.id in registered, m.id in attended, sources.get(m.id, "room" if m.id in attended else ""))
        for m in people
    ]
