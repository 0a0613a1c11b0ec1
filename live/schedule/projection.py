"""Any week of the 番組表: stored broadcasts, plus what the rules say beyond the materialised horizon.

Broadcasts are created 30 days ahead (`materialise.HORIZON`). Further weeks are computed from each
active program's RRULE and exceptions — the same `recurrence.occurrences` the materialiser uses —
and shown as planned entries; nothing is written, so a member paging years ahead costs no rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.members.models import Member
from live.models import Broadcast, BroadcastState, Program, ShownTimes
from live.schedule import recurrence, service

#: The last week the 番組表 can show: as far as the holiday calendar (and so holiday skipping) is known.
LAST_DAY = (recurrence.HOLIDAYS_KNOWN_UNTIL - dt.timedelta(days=1)).date()


@dataclass(frozen=True, slots=True)
class Planned(ShownTimes):
    """An occurrence not yet materialised: the attributes the schedule templates read from a Broadcast."""

    program: Program
    personality: Member | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    state: BroadcastState
    note: str
    id: None = None

    @property
    def title(self) -> str:
        return self.program.title


async def week_entries(
    db: AsyncSession,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    *,
    section_id: int | None = None,
    personality_id: int | None = None,
) -> list[Broadcast | Planned]:
    """Broadcasts in [start, end) and, for future occurrences without one, the planned entry."""
    stored = await service.broadcasts_between(db, start, end, section_id=section_id, personality_id=personality_id)
    if end <= now:
        return list(stored)
    query = select(Program).where(Program.active.is_(True))
    if section_id is not None:
        query = query.where(Program.section_id == section_id)
    programs = list((await db.execute(query)).unique().scalars())
    if not programs:
        return list(stored)
    # Occurrences that have a broadcast (wherever it moved to) are the broadcast's business.
    have = set(
        (
            await db.execute(
                select(Broadcast.program_id, Broadcast.occurrence_start).where(
                    Broadcast.program_id.in_([p.id for p in programs]),
                    or_(
                        and_(Broadcast.starts_at >= start - dt.timedelta(days=31), Broadcast.starts_at < end),
                        and_(Broadcast.occurrence_start >= start, Broadcast.occurrence_start < end),
                    ),
                )
            )
        ).all()
    )
    found: list[tuple[Program, recurrence.Occurrence]] = []
    for program in programs:
        exceptions = await service.exceptions_of(db, program.id)
        for occ in recurrence.occurrences(program, exceptions, max(start, now), end):
            if (program.id, occ.occurrence_start) in have:
                continue
            if personality_id is not None and occ.personality_id != personality_id:
                continue
            found.append((program, occ))
    people = await _people(db, {occ.personality_id for _, occ in found if occ.personality_id})
    planned: list[Broadcast | Planned] = [
        Planned(
            program,
            people.get(occ.personality_id or 0),
            occ.starts_at,
            occ.ends_at,
            BroadcastState.CANCELLED if occ.cancelled else BroadcastState.SCHEDULED,
            occ.note,
        )
        for program, occ in found
    ]
    merged = [*stored, *planned]
    merged.sort(key=lambda b: (b.starts_at, b.title))
    return merged


async def _people(db: AsyncSession, ids: set[int]) -> dict[int, Member]:
    if not ids:
        return {}
    return {m.id: m for m in (await db.execute(select(Member).where(Member.id.in_(ids)))).scalars()}
