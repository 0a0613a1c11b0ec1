"""Reading the schedule and the hosts' state changes; ScheduleError, the refusal of the whole package.

Programs are edited in `programs`, exceptions in `exceptions`, broadcasts made from them in
`materialise`.

Handlers call these; every refusal is a ScheduleError with a stable code and a Japanese
message (per form field in `errors` when it comes from a form).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.errors import Refusal, found
from core.events import EventBus
from core.members.models import Member, Status
from core.sections import Section
from core.sections.service import section_choices
from core.timefmt import JST
from live.access import require_host
from live.models import Broadcast, BroadcastState, Program, ProgramException
from live.schedule.transitions import TransitionResult, transition


class ScheduleError(Refusal):
    """A refusal shown to the user; `fields` maps form fields to Japanese messages."""

    def __init__(self, code: str, message: str, errors: dict[str, str] | None = None, status: int = 400) -> None:
        super().__init__(code, message, status, fields=errors)


# --- reading -----------------------------------------------------------------------------------


async def get_program(db: AsyncSession, program_id: int) -> Program:
    return found(await db.get(Program, program_id), ScheduleError("not_found", "番組が見つかりません。", status=404))


async def get_broadcast(db: AsyncSession, broadcast_id: int) -> Broadcast:
    broadcast = (
        await db.execute(
            select(Broadcast).where(Broadcast.id == broadcast_id).execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if broadcast is None:
        raise ScheduleError("not_found", "放送が見つかりません。", status=404)
    return broadcast


async def get_personality(db: AsyncSession, member_id: int) -> Member:
    member = await db.get(Member, member_id)
    if member is None or member.status is not Status.APPROVED:
        raise ScheduleError("not_found", "パーソナリティが見つかりません。", status=404)
    return member


async def list_programs(db: AsyncSession, *, personality_id: int | None = None) -> list[Program]:
    query = select(Program).order_by(Program.active.desc(), Program.rotation, Program.dtstart)
    if personality_id is not None:
        query = query.where(Program.personality_id == personality_id)
    return list((await db.execute(query)).unique().scalars())


async def exceptions_of(db: AsyncSession, program_id: int) -> list[ProgramException]:
    query = select(ProgramException).where(ProgramException.program_id == program_id)
    return list((await db.execute(query.order_by(ProgramException.occurrence_start))).scalars())


async def broadcasts_between(
    db: AsyncSession,
    start: dt.datetime,
    end: dt.datetime,
    *,
    section_id: int | None = None,
    personality_id: int | None = None,
    program_id: int | None = None,
    include_cancelled: bool = True,
    limit: int = 2000,
) -> list[Broadcast]:
    query = select(Broadcast).where(Broadcast.starts_at >= start, Broadcast.starts_at < end)
    if section_id is not None:
        query = query.where(Broadcast.program_id.in_(select(Program.id).where(Program.section_id == section_id)))
    if personality_id is not None:
        query = query.where(Broadcast.personality_id == personality_id)
    if program_id is not None:
        query = query.where(Broadcast.program_id == program_id)
    if not include_cancelled:
        query = query.where(Broadcast.state != BroadcastState.CANCELLED)
    query = query.order_by(Broadcast.starts_at, Broadcast.id).limit(limit)
    return list((await db.execute(query)).unique().scalars())


@dataclass
class Lineup:
    now_on_air: list[Broadcast]
    next_up: Broadcast | None
    today: list[Broadcast]


def jst_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(0, 0), JST).astimezone(dt.UTC)
    return start, start + dt.timedelta(days=1)


async def lineup(db: AsyncSession, now: dt.datetime | None = None) -> Lineup:
    """What the home page shows: on air now, the next one, today's line-up (JST day).

    One query for the three (and one for their programs' guests): every page view asks for it.
    """
    now = now or utcnow()
    start, end = jst_day_bounds(now.astimezone(JST).date())
    next_id = (
        select(Broadcast.id)
        .where(Broadcast.state.in_([BroadcastState.SCHEDULED, BroadcastState.OPEN]), Broadcast.ends_at > now)
        .order_by(Broadcast.starts_at, Broadcast.id)
        .limit(1)
        .scalar_subquery()
    )
    on_air = Broadcast.state == BroadcastState.LIVE
    today = (Broadcast.starts_at >= start) & (Broadcast.starts_at < end)
    query = (
        select(Broadcast, next_id.label("next_id"))
        .where(on_air | today | (Broadcast.id == next_id))
        .order_by(Broadcast.starts_at, Broadcast.id)
    )
    rows = (await db.execute(query)).unique().all()
    return Lineup(
        now_on_air=[b for b, _ in rows if b.state == BroadcastState.LIVE],
        next_up=next((b for b, wanted in rows if b.id == wanted), None),
        today=[b for b, _ in rows if start <= b.starts_at < end][:2000],  # broadcasts_between's limit
    )


async def active_members(db: AsyncSession) -> list[Member]:
    query = select(Member).where(Member.status == Status.APPROVED).order_by(Member.name)
    return list((await db.execute(query)).scalars())


async def sections(db: AsyncSession) -> list[Section]:
    """The 課 filter and (operator-only) program forms offer the one shared list of active 課."""
    return await section_choices(db)


def stream_label(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    if host.endswith(("youtube.com", "youtu.be")):
        return "YouTube"
    if host.endswith("zoom.us"):
        return "Zoom"
    if host.endswith(("facebook.com", "fb.watch")):
        return "Facebook"
    return "配信ページ"


# --- host actions --------------------------------------------------------------------------------

HOST_ACTIONS = {"open": BroadcastState.OPEN, "live": BroadcastState.LIVE, "end": BroadcastState.ENDED}


async def host_action(
    db: AsyncSession, bus: EventBus, broadcast_id: int, action: str, member: Member, now: dt.datetime | None = None
) -> Broadcast:
    """Open the lobby, go live or end early (action: open | live | end)."""
    target = HOST_ACTIONS.get(action)
    if target is None:
        await require_host(db, member, await get_broadcast(db, broadcast_id))  # no hints for outsiders
        raise ScheduleError("bad_action", "操作が正しくありません（open / live / end）。")
    return (await change_state(db, bus, broadcast_id, target, member, now)).broadcast


async def change_state(
    db: AsyncSession,
    bus: EventBus,
    broadcast_id: int,
    target: BroadcastState,
    member: Member,
    now: dt.datetime | None = None,
) -> TransitionResult:
    """The one way a person moves a broadcast: the schedule page, /api/schedule and the control page.

    Hosts (live.access) may open, go live and end; a broadcast that has not started cannot end.
    """
    broadcast = await get_broadcast(db, broadcast_id)
    await require_host(db, member, broadcast)
    if target not in HOST_ACTIONS.values():
        raise ScheduleError("invalid_state", "指定できる状態は「開場」「放送開始」「終了」です。")
    if target is BroadcastState.ENDED and broadcast.state is BroadcastState.SCHEDULED:
        raise ScheduleError("not_started", "まだ開始していない放送は終了できません。", status=409)
    return await transition(db, bus, broadcast_id, target, actor=member, now=now)
