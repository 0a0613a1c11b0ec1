"""Editing programs: create, update, and the daily rotation (one weekly program per weekday).

Every edit commits, then re-materialises the program's broadcasts (live.schedule.materialise).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.events import EventBus
from live import search_feed
from live.models import Program, ProgramGuest
from live.schedule import recurrence
from live.schedule.inputs import ProgramData, RotationInput, approved_member, validate_program
from live.schedule.materialise import materialise_program
from live.schedule.recurrence import WEEKDAY_CODES, WEEKDAY_LABELS
from live.schedule.service import get_program

# The program's columns the editor sets, each from the ProgramData field of the same name.
_EDITED = (
    "title",
    "description",
    "section_id",
    "personality_id",
    "dtstart",
    "duration_minutes",
    "lobby_minutes",
    "stream_url",
    "rrule",
    "timezone",
    "skip_holidays",
    "active",
)


def _apply(program: Program, data: ProgramData) -> None:
    for name in _EDITED:
        setattr(program, name, getattr(data, name))
    program.guests = [ProgramGuest(member_id=m, name=n, position=i) for i, (m, n) in enumerate(data.guests)]


async def create_program(db: AsyncSession, bus: EventBus, data: ProgramData, now: dt.datetime | None = None) -> Program:
    program = Program(rotation=data.rotation)
    _apply(program, data)
    db.add(program)
    await db.flush()
    await search_feed.sync_program(db, program.id)
    await db.commit()
    await materialise_program(db, bus, program.id, now)
    return await get_program(db, program.id)


async def update_program(
    db: AsyncSession, bus: EventBus, program: Program, data: ProgramData, now: dt.datetime | None = None
) -> Program:
    _apply(program, data)
    program.updated_at = utcnow()
    await search_feed.sync_program(db, program.id)
    await db.commit()
    await materialise_program(db, bus, program.id, now)
    return await get_program(db, program.id)


async def _rotation_days(db: AsyncSession, form: RotationInput, errors: dict[str, str]) -> list[tuple[int, int]]:
    """(weekday index, personality id) of every weekday the form gives an approved personality."""
    days: list[tuple[int, int]] = []
    chosen = form.weekday_personalities()
    for index, code in enumerate(WEEKDAY_CODES):
        raw = chosen.get(code.lower())
        if raw is None:
            continue
        if await approved_member(db, raw) is None:
            errors[f"personality_{code.lower()}"] = f"{WEEKDAY_LABELS[index]}曜日のパーソナリティが見つかりません。"
        else:
            days.append((index, raw))
    if not days and not any(k.startswith("personality_") for k in errors):
        errors["days"] = "少なくとも1つの曜日にパーソナリティを選んでください。"
    return days


def _weekday_program(data: ProgramData, weekday: int, personality_id: int) -> Program:
    """The rotation's program for one weekday: weekly from the first such day on or after the start."""
    tz = recurrence.zone(data.timezone)
    local_start = data.dtstart.astimezone(tz)
    first = local_start + dt.timedelta(days=(weekday - local_start.weekday()) % 7)
    rule = f"FREQ=WEEKLY;BYDAY={WEEKDAY_CODES[weekday]}"
    until = data.extra.get("until")
    if until:
        rule = recurrence.with_until(rule, dt.date.fromisoformat(until), tz)
    program = Program(rotation=data.title)
    _apply(program, data)
    program.personality_id = personality_id
    program.active = True
    program.dtstart = first.astimezone(dt.UTC)
    program.rrule = rule
    return program


async def create_rotation(
    db: AsyncSession, bus: EventBus, form: RotationInput, now: dt.datetime | None = None
) -> tuple[list[Program], dict[str, str]]:
    """The daily-rotation form: one weekly program per weekday that has a personality."""
    data, errors = await validate_program(db, form, rotation_days=True)
    days = await _rotation_days(db, form, errors)
    if data is not None and not errors:
        taken = await db.execute(select(Program.id).where(Program.rotation == data.title).limit(1))
        if taken.first() is not None:
            errors["title"] = (
                "同じ名前のローテーションが既にあります。別の番組名にするか、既存の番組を編集してください。"
            )
    if data is None or errors:
        return [], errors
    programs = [_weekday_program(data, weekday, personality_id) for weekday, personality_id in days]
    db.add_all(programs)
    await db.commit()
    for program in programs:
        await materialise_program(db, bus, program.id, now)
    return programs, {}
