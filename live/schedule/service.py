# size: over 400 lines; add_exception and _materialise_program are long rule lists kept whole; splitting materialising out is listed in docs/architecture.md.
"""What can happen to the schedule: programs, exceptions, materialised broadcasts, host actions.

Handlers call these; every refusal is a ScheduleError with a stable code and a Japanese
message (per form field in `errors` when it comes from a form).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.bounds import EARLIEST, LATEST
from core.db import utcnow
from core.errors import Refusal
from core.events import EventBus
from core.members.models import Member, Status
from core.sections import Section
from core.sections.service import section_choices
from core.text import clean_line
from core.timefmt import JST
from live import search_feed
from live.access import require_host
from live.models import Broadcast, BroadcastState, ExceptionKind, Program, ProgramException, ProgramGuest
from live.schedule import recurrence
from live.schedule.inputs import (
    ExceptionInput,
    ProgramData,
    RotationInput,
    approved_member,
    validate_program,
)
from live.schedule.recurrence import WEEKDAY_CODES, WEEKDAY_LABELS
from live.schedule.transitions import TransitionError, TransitionResult, transition

log = logging.getLogger("chonai.schedule")

HORIZON = dt.timedelta(days=30)
MAX_GUESTS = 10
MAX_DURATION = 12 * 60
#: How far an exception may move one occurrence.
MAX_MOVE = dt.timedelta(days=366)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ScheduleError(Refusal):
    """A refusal shown to the user; `fields` maps form fields to Japanese messages."""

    def __init__(self, code: str, message: str, errors: dict[str, str] | None = None, status: int = 400) -> None:
        super().__init__(code, message, status, fields=errors)


# --- reading -----------------------------------------------------------------------------------


async def get_program(db: AsyncSession, program_id: int) -> Program:
    program = await db.get(Program, program_id)
    if program is None:
        raise ScheduleError("not_found", "番組が見つかりません。", status=404)
    return program


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


def _apply(program: Program, data: ProgramData) -> None:
    program.title = data.title
    program.description = data.description
    program.section_id = data.section_id
    program.personality_id = data.personality_id
    program.dtstart = data.dtstart
    program.duration_minutes = data.duration_minutes
    program.lobby_minutes = data.lobby_minutes
    program.stream_url = data.stream_url
    program.rrule = data.rrule
    program.timezone = data.timezone
    program.skip_holidays = data.skip_holidays
    program.active = data.active
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


async def create_rotation(
    db: AsyncSession, bus: EventBus, form: RotationInput, now: dt.datetime | None = None
) -> tuple[list[Program], dict[str, str]]:
    """The daily-rotation form: one weekly program per weekday that has a personality."""
    data, errors = await validate_program(db, form, rotation_days=True)
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
    if data is not None and not errors:
        taken = await db.execute(select(Program.id).where(Program.rotation == data.title).limit(1))
        if taken.first() is not None:
            errors["title"] = (
                "同じ名前のローテーションが既にあります。別の番組名にするか、既存の番組を編集してください。"
            )
    if data is None or errors:
        return [], errors
    tz = recurrence.zone(data.timezone)
    local_start = data.dtstart.astimezone(tz)
    until = data.extra.get("until")
    programs = []
    for weekday, personality_id in days:
        first = local_start + dt.timedelta(days=(weekday - local_start.weekday()) % 7)
        rule = f"FREQ=WEEKLY;BYDAY={WEEKDAY_CODES[weekday]}"
        if until:
            rule = recurrence.with_until(rule, dt.date.fromisoformat(until), tz)
        program = Program(rotation=data.title)
        _apply(program, data)
        program.personality_id = personality_id
        program.active = True
        program.dtstart = first.astimezone(dt.UTC)
        program.rrule = rule
        db.add(program)
        programs.append(program)
    await db.commit()
    for program in programs:
        await materialise_program(db, bus, program.id, now)
    return programs, {}


# --- exceptions --------------------------------------------------------------------------------


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
    if len(note) > 200:
        errors["note"] = "メモは200文字以内にしてください。"
    personality_id: int | None = None
    raw_p = form.personality_id
    if raw_p is not None:
        if await approved_member(db, raw_p) is None:
            errors["personality_id"] = "指定されたメンバーが見つかりません。"
        else:
            personality_id = raw_p
    if kind is ExceptionKind.SUBSTITUTE and personality_id is None and "personality_id" not in errors:
        errors["personality_id"] = "代役のパーソナリティを選んでください。"
    elif kind is ExceptionKind.SUBSTITUTE and personality_id == program.personality_id and personality_id:
        errors["personality_id"] = "代役には番組のパーソナリティ以外のメンバーを選んでください。"
    new_start: dt.datetime | None = None
    if kind is ExceptionKind.MOVE:
        new_start = parse_local_datetime(form.new_start, tz)
        if new_start is None:
            errors["new_start"] = "変更後の日時を入力してください。"
        elif new_start <= now:
            errors["new_start"] = "変更後の日時は未来の日時にしてください。"
        elif occurrence is not None and new_start == occurrence:
            errors["new_start"] = "変更後の日時が元の日時と同じです。"
        elif occurrence is not None and abs(new_start - occurrence) > MAX_MOVE:
            errors["new_start"] = "日時変更は元の日時の前後1年以内にしてください。"
    if occurrence is not None and "occurrence" not in errors:
        existing = (
            await db.execute(
                select(ProgramException).where(
                    ProgramException.program_id == program.id, ProgramException.occurrence_start == occurrence
                )
            )
        ).scalar_one_or_none()
        if existing is not None:
            errors["occurrence"] = (
                f"この回には既に「{existing.kind.label}」が登録されています。変更するには先に削除してください。"
            )
        row = (
            (
                await db.execute(
                    select(Broadcast).where(
                        Broadcast.program_id == program.id, Broadcast.occurrence_start == occurrence
                    )
                )
            )
            .unique()
            .scalar_one_or_none()
        )
        if row is not None and row.state not in (BroadcastState.SCHEDULED, BroadcastState.CANCELLED):
            errors["occurrence"] = "開始済み・終了済みの回は変更できません。"
        elif row is None and occurrence + dt.timedelta(minutes=program.duration_minutes) <= now:
            errors["occurrence"] = "過去の回は変更できません。"
    if not errors and personality_id is not None and occurrence is not None:
        start = new_start or occurrence
        end = start + dt.timedelta(minutes=program.duration_minutes)
        clash = await _overlapping(db, personality_id, start, end, program.id)
        if clash is not None:
            who = (await db.get(Member, personality_id)) or None
            errors["personality_id"] = (
                f"{who.name if who else 'このメンバー'}さんはその時間に別の番組「{clash.title}」を担当しています。"
            )
    if errors:
        raise ScheduleError("invalid_exception", next(iter(errors.values())), errors)
    assert occurrence is not None
    exc = ProgramException(
        program_id=program.id,
        occurrence_start=occurrence,
        kind=kind,
        personality_id=personality_id,
        starts_at=new_start,
        note=note,
        created_by_id=actor.id if actor else None,
    )
    db.add(exc)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise ScheduleError(
            "duplicate_exception",
            "この回には既に変更が登録されています。",
            {"occurrence": "この回には既に変更が登録されています。"},
        ) from None
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


# --- materialising broadcasts -----------------------------------------------------------------


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


async def _materialise_program(
    db: AsyncSession, bus: EventBus, program_id: int, now: dt.datetime, horizon: dt.timedelta
) -> int:
    program = (
        (await db.execute(select(Program).where(Program.id == program_id).execution_options(populate_existing=True)))
        .unique()
        .scalar_one_or_none()
    )
    if program is None:
        return 0
    window_start = now - dt.timedelta(minutes=program.duration_minutes)
    window_end = now + horizon
    wanted = (
        recurrence.occurrences(program, await exceptions_of(db, program.id), window_start, window_end)
        if program.active
        else []
    )
    rows = {
        b.occurrence_start: b
        for b in (
            await db.execute(
                select(Broadcast)
                .where(
                    Broadcast.program_id == program.id,
                    or_(
                        and_(Broadcast.starts_at >= window_start, Broadcast.starts_at < window_end),
                        and_(Broadcast.occurrence_start >= window_start, Broadcast.occurrence_start < window_end),
                    ),
                )
                .execution_options(populate_existing=True)
            )
        )
        .unique()
        .scalars()
    }
    changes = 0
    to_cancel: list[int] = []
    to_reinstate: list[int] = []
    lobby = dt.timedelta(minutes=program.lobby_minutes)
    keep: set[dt.datetime] = set()
    for occ in wanted:
        keep.add(occ.occurrence_start)
        row = rows.get(occ.occurrence_start)
        values = {
            "title": program.title,
            "description": program.description,
            "personality_id": occ.personality_id,
            "starts_at": occ.starts_at,
            "ends_at": occ.ends_at,
            "opens_at": occ.starts_at - lobby,
            "stream_url": program.stream_url,
            "note": occ.note,
        }
        if row is None:
            if occ.ends_at <= now:
                continue  # never create broadcasts that are already over
            db.add(
                Broadcast(
                    program_id=program.id,
                    occurrence_start=occ.occurrence_start,
                    state=BroadcastState.CANCELLED if occ.cancelled else BroadcastState.SCHEDULED,
                    **values,
                )
            )
            changes += 1
            continue
        if row.state not in (BroadcastState.SCHEDULED, BroadcastState.CANCELLED):
            continue  # open, live or ended: history, never rewritten
        if occ.starts_at <= now and row.state is BroadcastState.SCHEDULED and not occ.cancelled:
            continue  # the scheduler is about to act on it; don't move it under its feet
        dirty = False
        for key, value in values.items():
            if getattr(row, key) != value:
                setattr(row, key, value)
                dirty = True
        changes += dirty
        if occ.cancelled and row.state is BroadcastState.SCHEDULED:
            to_cancel.append(row.id)
        elif not occ.cancelled and row.state is BroadcastState.CANCELLED and occ.starts_at > now:
            to_reinstate.append(row.id)
    # Occurrences that no longer exist (rule edited, program paused): drop them if nothing happened yet.
    gone = [
        b.id
        for start, b in rows.items()
        if start is not None
        and start not in keep
        and window_start <= start < window_end
        and b.state in (BroadcastState.SCHEDULED, BroadcastState.CANCELLED)
        and b.starts_at > now
    ]
    if gone:
        await db.execute(delete(Broadcast).where(Broadcast.id.in_(gone)).execution_options(synchronize_session=False))
        changes += len(gone)
    await db.commit()
    for broadcast_id in to_cancel:
        await _safe_transition(db, bus, broadcast_id, BroadcastState.CANCELLED, now)
    for broadcast_id in to_reinstate:
        await _safe_transition(db, bus, broadcast_id, BroadcastState.SCHEDULED, now)
    return changes + len(to_cancel) + len(to_reinstate)


async def _safe_transition(
    db: AsyncSession, bus: EventBus, broadcast_id: int, state: BroadcastState, now: dt.datetime
) -> None:
    try:
        await transition(db, bus, broadcast_id, state, now=now)
    except TransitionError as exc:  # someone (a host) moved it meanwhile: theirs wins
        log.info("skipped %s on broadcast %s: %s", state.value, broadcast_id, exc.message)


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
