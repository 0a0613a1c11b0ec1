"""Exceptions to a program's rule: cancel, substitute or move one occurrence (then re-materialise)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.bounds import EARLIEST, LATEST
from core.db import save_unique, utcnow
from core.events import EventBus
from core.members.models import Member
from core.text import clean_line
from live.models import Broadcast, BroadcastState, ExceptionKind, Program, ProgramException
from live.schedule import recurrence
from live.schedule.inputs import ExceptionInput, approved_member
from live.schedule.materialise import materialise_program
from live.schedule.service import ScheduleError

#: How far an exception may move one occurrence.
MAX_MOVE = dt.timedelta(days=366)
NOTE_MAX = 200


def parse_local_datetime(raw: str, tz: dt.tzinfo) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat((raw or "").strip())
    except ValueError:
        return None
    if not EARLIEST <= value.date() <= LATEST:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(dt.UTC)


@dataclass
class _Draft:
    """An exception being checked: what the form asked for and, per field, what is wrong with it."""

    occurrence: dt.datetime | None
    kind: ExceptionKind
    note: str
    personality_id: int | None = None
    new_start: dt.datetime | None = None
    errors: dict[str, str] = field(default_factory=dict)


def _read_occurrence(program: Program, form: ExceptionInput, tz: dt.tzinfo) -> _Draft:
    """The occurrence, the kind and the note: the checks that need no database."""
    errors: dict[str, str] = {}
    occurrence = parse_local_datetime(form.occurrence, tz)
    if occurrence is None:
        errors["occurrence"] = "対象の回を選んでください。"
    elif not recurrence.is_rule_start(program, occurrence):
        errors["occurrence"] = "指定された回はこの番組の予定にありません。"
    try:
        kind = ExceptionKind(form.kind)
    except ValueError:
        errors["kind"] = "変更の種類（中止・代役・日時変更）を選んでください。"
        kind = ExceptionKind.CANCEL
    note = clean_line(form.note)
    if len(note) > NOTE_MAX:
        errors["note"] = f"メモは{NOTE_MAX}文字以内にしてください。"
    return _Draft(occurrence, kind, note, errors=errors)


async def _check_personality(db: AsyncSession, program: Program, form: ExceptionInput, draft: _Draft) -> None:
    errors = draft.errors
    if form.personality_id is not None:
        if await approved_member(db, form.personality_id) is None:
            errors["personality_id"] = "指定されたメンバーが見つかりません。"
        else:
            draft.personality_id = form.personality_id
    if draft.kind is not ExceptionKind.SUBSTITUTE:
        return
    if draft.personality_id is None and "personality_id" not in errors:
        errors["personality_id"] = "代役のパーソナリティを選んでください。"
    elif draft.personality_id and draft.personality_id == program.personality_id:
        errors["personality_id"] = "代役には番組のパーソナリティ以外のメンバーを選んでください。"


def _check_move(form: ExceptionInput, draft: _Draft, tz: dt.tzinfo, now: dt.datetime) -> None:
    if draft.kind is not ExceptionKind.MOVE:
        return
    occurrence = draft.occurrence
    draft.new_start = new_start = parse_local_datetime(form.new_start, tz)
    if new_start is None:
        draft.errors["new_start"] = "変更後の日時を入力してください。"
    elif new_start <= now:
        draft.errors["new_start"] = "変更後の日時は未来の日時にしてください。"
    elif occurrence is not None and new_start == occurrence:
        draft.errors["new_start"] = "変更後の日時が元の日時と同じです。"
    elif occurrence is not None and abs(new_start - occurrence) > MAX_MOVE:
        draft.errors["new_start"] = "日時変更は元の日時の前後1年以内にしてください。"


async def _check_occurrence_free(db: AsyncSession, program: Program, draft: _Draft, now: dt.datetime) -> None:
    """One exception per occurrence, and only for one that has not started (nor is over)."""
    occurrence = draft.occurrence
    if occurrence is None or "occurrence" in draft.errors:
        return
    same = ProgramException.program_id == program.id, ProgramException.occurrence_start == occurrence
    existing = (await db.execute(select(ProgramException).where(*same))).scalar_one_or_none()
    if existing is not None:
        draft.errors["occurrence"] = (
            f"この回には既に「{existing.kind.label}」が登録されています。変更するには先に削除してください。"
        )
    query = select(Broadcast).where(Broadcast.program_id == program.id, Broadcast.occurrence_start == occurrence)
    row = (await db.execute(query)).unique().scalar_one_or_none()
    if row is not None and row.state not in (BroadcastState.SCHEDULED, BroadcastState.CANCELLED):
        draft.errors["occurrence"] = "開始済み・終了済みの回は変更できません。"
    elif row is None and occurrence + dt.timedelta(minutes=program.duration_minutes) <= now:
        draft.errors["occurrence"] = "過去の回は変更できません。"


async def _overlapping(
    db: AsyncSession, personality_id: int, start: dt.datetime, end: dt.datetime, exclude_program: int
) -> Broadcast | None:
    query = (
        select(Broadcast)
        .where(
            Broadcast.personality_id == personality_id,
            Broadcast.state != BroadcastState.CANCELLED,
            Broadcast.starts_at < end,
            Broadcast.ends_at > start,
            or_(Broadcast.program_id.is_(None), Broadcast.program_id != exclude_program),
        )
        .limit(1)
    )
    return (await db.execute(query)).unique().scalar_one_or_none()


async def _check_clash(db: AsyncSession, program: Program, draft: _Draft) -> None:
    """A substitute (or the moved occurrence's personality) must be free at that time."""
    if draft.errors or draft.personality_id is None or draft.occurrence is None:
        return
    start = draft.new_start or draft.occurrence
    end = start + dt.timedelta(minutes=program.duration_minutes)
    clash = await _overlapping(db, draft.personality_id, start, end, program.id)
    if clash is not None:
        who = (await db.get(Member, draft.personality_id)) or None
        draft.errors["personality_id"] = (
            f"{who.name if who else 'このメンバー'}さんはその時間に別の番組「{clash.title}」を担当しています。"
        )


async def add_exception(
    db: AsyncSession,
    bus: EventBus,
    program: Program,
    form: ExceptionInput,
    actor: Member | None,
    now: dt.datetime | None = None,
) -> ProgramException:
    """Cancel, substitute or move one occurrence."""
    now = now or utcnow()
    tz = recurrence.zone(program.timezone or recurrence.DEFAULT_TZ)
    draft = _read_occurrence(program, form, tz)
    await _check_personality(db, program, form, draft)
    _check_move(form, draft, tz, now)
    await _check_occurrence_free(db, program, draft, now)
    await _check_clash(db, program, draft)
    if draft.errors:
        raise ScheduleError("invalid_exception", next(iter(draft.errors.values())), draft.errors)
    assert draft.occurrence is not None
    exc = ProgramException(
        program_id=program.id,
        occurrence_start=draft.occurrence,
        kind=draft.kind,
        personality_id=draft.personality_id,
        starts_at=draft.new_start,
        note=draft.note,
        created_by_id=actor.id if actor else None,
    )
    db.add(exc)
    taken = "この回には既に変更が登録されています。"
    await save_unique(db, ScheduleError("duplicate_exception", taken, {"occurrence": taken}))
    await materialise_program(db, bus, program.id, now)
    return exc


async def remove_exception(
    db: AsyncSession, bus: EventBus, program: Program, exception_id: int, now: dt.datetime | None = None
) -> None:
    exc = await db.get(ProgramException, exception_id)
    if exc is None or exc.program_id != program.id:
        raise ScheduleError("not_found", "指定された変更が見つかりません。", status=404)
    await db.delete(exc)
    await db.commit()
    await materialise_program(db, bus, program.id, now)
