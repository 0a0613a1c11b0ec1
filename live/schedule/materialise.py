"""Materialising: each program's occurrences (its rule, holidays and exceptions) become broadcast rows.

Broadcasts exist 30 days ahead (`HORIZON`); further weeks are projected (live.schedule.projection).
Only scheduled or cancelled rows are ever rewritten: open, live and ended broadcasts are history.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.events import EventBus
from live.models import Broadcast, BroadcastState, Program
from live.schedule import recurrence
from live.schedule.service import exceptions_of
from live.schedule.transitions import TransitionError, transition

log = logging.getLogger("chonai.schedule")

HORIZON = dt.timedelta(days=30)
_REWRITABLE = (BroadcastState.SCHEDULED, BroadcastState.CANCELLED)


async def materialise(db: AsyncSession, bus: EventBus, now: dt.datetime | None = None) -> int:
    """Create/update the broadcasts of every program for the next 30 days; returns how many changed."""
    now = now or utcnow()
    ids = list((await db.execute(select(Program.id))).scalars())
    changed = 0
    for program_id in ids:
        changed += await materialise_program(db, bus, program_id, now)
    return changed


async def materialise_program(
    db: AsyncSession, bus: EventBus, program_id: int, now: dt.datetime | None = None, horizon: dt.timedelta = HORIZON
) -> int:
    """Idempotent: run it twice, or from two processes, and the broadcasts are the same."""
    now = now or utcnow()
    for attempt in range(3):
        try:
            return await _materialise_program(db, bus, program_id, now, horizon)
        except IntegrityError:  # another process inserted the same occurrence first
            await db.rollback()
            if attempt == 2:
                raise
    return 0


@dataclass
class _Window:
    """One program's broadcasts in [start, end): the rows there are and what is to change."""

    program: Program
    start: dt.datetime
    end: dt.datetime
    now: dt.datetime
    rows: dict[dt.datetime | None, Broadcast] = field(default_factory=dict)
    keep: set[dt.datetime] = field(default_factory=set)
    changes: int = 0
    to_cancel: list[int] = field(default_factory=list)
    to_reinstate: list[int] = field(default_factory=list)


async def _materialise_program(
    db: AsyncSession, bus: EventBus, program_id: int, now: dt.datetime, horizon: dt.timedelta
) -> int:
    query = select(Program).where(Program.id == program_id).execution_options(populate_existing=True)
    program = (await db.execute(query)).unique().scalar_one_or_none()
    if program is None:
        return 0
    window = _Window(program, now - dt.timedelta(minutes=program.duration_minutes), now + horizon, now)
    wanted = (
        recurrence.occurrences(program, await exceptions_of(db, program.id), window.start, window.end)
        if program.active
        else []
    )
    window.rows = await _rows_in(db, window)
    for occ in wanted:
        window.keep.add(occ.occurrence_start)
        _follow(db, window, occ)
    await _drop_gone(db, window)
    await db.commit()
    for broadcast_id in window.to_cancel:
        await _safe_transition(db, bus, broadcast_id, BroadcastState.CANCELLED, now)
    for broadcast_id in window.to_reinstate:
        await _safe_transition(db, bus, broadcast_id, BroadcastState.SCHEDULED, now)
    return window.changes + len(window.to_cancel) + len(window.to_reinstate)


async def _rows_in(db: AsyncSession, window: _Window) -> dict[dt.datetime | None, Broadcast]:
    """The program's broadcasts that start, or whose occurrence started, in the window."""
    starts, originals = Broadcast.starts_at, Broadcast.occurrence_start
    query = (
        select(Broadcast)
        .where(
            Broadcast.program_id == window.program.id,
            or_(
                and_(starts >= window.start, starts < window.end),
                and_(originals >= window.start, originals < window.end),
            ),
        )
        .execution_options(populate_existing=True)
    )
    return {b.occurrence_start: b for b in (await db.execute(query)).unique().scalars()}


def _values(program: Program, occ: recurrence.Occurrence) -> dict[str, Any]:
    """The columns a broadcast takes from its program and occurrence."""
    return {
        "title": program.title,
        "description": program.description,
        "personality_id": occ.personality_id,
        "starts_at": occ.starts_at,
        "ends_at": occ.ends_at,
        "opens_at": occ.starts_at - dt.timedelta(minutes=program.lobby_minutes),
        "stream_url": program.stream_url,
        "note": occ.note,
    }


def _follow(db: AsyncSession, window: _Window, occ: recurrence.Occurrence) -> None:
    """Create, update, cancel or reinstate the broadcast of one wanted occurrence."""
    now, row, values = window.now, window.rows.get(occ.occurrence_start), _values(window.program, occ)
    if row is None:
        if occ.ends_at <= now:
            return  # never create broadcasts that are already over
        state = BroadcastState.CANCELLED if occ.cancelled else BroadcastState.SCHEDULED
        db.add(Broadcast(program_id=window.program.id, occurrence_start=occ.occurrence_start, state=state, **values))
        window.changes += 1
        return
    if row.state not in _REWRITABLE:
        return  # open, live or ended: history, never rewritten
    if occ.starts_at <= now and row.state is BroadcastState.SCHEDULED and not occ.cancelled:
        return  # the scheduler is about to act on it; don't move it under its feet
    dirty = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            dirty = True
    window.changes += dirty
    if occ.cancelled and row.state is BroadcastState.SCHEDULED:
        window.to_cancel.append(row.id)
    elif not occ.cancelled and row.state is BroadcastState.CANCELLED and occ.starts_at > now:
        window.to_reinstate.append(row.id)


async def _drop_gone(db: AsyncSession, window: _Window) -> None:
    """Occurrences that no longer exist (rule edited, program paused): drop them if nothing happened yet."""
    gone = [
        b.id
        for start, b in window.rows.items()
        if start is not None
        and start not in window.keep
        and window.start <= start < window.end
        and b.state in _REWRITABLE
        and b.starts_at > window.now
    ]
    if gone:
        await db.execute(delete(Broadcast).where(Broadcast.id.in_(gone)).execution_options(synchronize_session=False))
        window.changes += len(gone)


async def _safe_transition(
    db: AsyncSession, bus: EventBus, broadcast_id: int, state: BroadcastState, now: dt.datetime
) -> None:
    try:
        await transition(db, bus, broadcast_id, state, now=now)
    except TransitionError as exc:  # someone (a host) moved it meanwhile: theirs wins
        log.info("skipped %s on broadcast %s: %s", state.value, broadcast_id, exc.message)
