"""iCalendar feeds (icalendar): one recurring VEVENT per program with RRULE, EXDATE and overrides.

Calendar apps cannot log in, so each member has a private feed token. The link carries
`member_id.HMAC(secret_key, member_id:nonce)`; only the nonce is stored, and replacing it
revokes every link of that member at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

import icalendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.members.models import Member, Status
from live.models import Broadcast, BroadcastState, CalendarFeedToken, ExceptionKind, Program, ProgramException
from live.schedule import recurrence

HOLIDAY_LOOKBACK = dt.timedelta(days=365)


# --- tokens --------------------------------------------------------------------------------------


def _sign(secret_key: str, member_id: int, nonce: str) -> str:
    mac = hmac.new(secret_key.encode(), f"calendar:{member_id}:{nonce}".encode(), hashlib.sha256)
    return mac.hexdigest()[:40]


async def feed_token(db: AsyncSession, member: Member, secret_key: str) -> str | None:
    row = await db.get(CalendarFeedToken, member.id)
    return f"{member.id}.{_sign(secret_key, member.id, row.nonce)}" if row else None


async def issue_feed_token(db: AsyncSession, member: Member, secret_key: str) -> str:
    """Create the member's token, or replace it (which revokes the old links)."""
    row = await db.get(CalendarFeedToken, member.id)
    nonce = secrets.token_hex(16)
    if row is None:
        db.add(CalendarFeedToken(member_id=member.id, nonce=nonce))
    else:
        row.nonce = nonce
        row.created_at = utcnow()
    await db.commit()
    return f"{member.id}.{_sign(secret_key, member.id, nonce)}"


async def revoke_feed_token(db: AsyncSession, member: Member) -> None:
    row = await db.get(CalendarFeedToken, member.id)
    if row is not None:
        await db.delete(row)
        await db.commit()


async def member_for_feed_token(db: AsyncSession, token: str, secret_key: str) -> Member | None:
    member_part, _, mac = (token or "").partition(".")
    if not member_part.isdigit() or len(member_part) > 10 or len(mac) != 40:
        return None
    member_id = int(member_part)
    row = await db.get(CalendarFeedToken, member_id)
    if row is None or not hmac.compare_digest(mac, _sign(secret_key, member_id, row.nonce)):
        return None
    member = await db.get(Member, member_id)
    return member if member is not None and member.status is Status.APPROVED else None


# --- feeds ---------------------------------------------------------------------------------------


def _local(value: dt.datetime, program: Program | None) -> dt.datetime:
    tz = recurrence.zone((program.timezone if program else "") or recurrence.DEFAULT_TZ)
    return value.astimezone(tz)


def _description(program: Program, personality: Member | None, base_url: str) -> str:
    lines = []
    if personality:
        lines.append(f"パーソナリティ: {personality.name}")
    guests = [g.display_name for g in program.guests]
    if guests:
        lines.append("ゲスト: " + "、".join(guests))
    if program.section:
        lines.append(f"課: {program.section.name}")
    if program.stream_url:
        lines.append(f"配信: {program.stream_url}")
    if program.description:
        lines.append("")
        lines.append(program.description)
    lines.append("")
    lines.append(f"{base_url}/schedule/programs/{program.id}")
    return "\n".join(lines)


def _event(uid: str, summary: str, start: dt.datetime, end: dt.datetime, program: Program | None) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", utcnow())
    event.add("summary", summary)
    event.add("dtstart", _local(start, program))
    event.add("dtend", _local(end, program))
    return event


def program_events(
    program: Program,
    exceptions: Iterable[ProgramException],
    base_url: str,
    members: dict[int, Member],
    *,
    personality_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[icalendar.Event]:
    """The master VEVENT (with RRULE/EXDATE) and its overrides; filtered to one personality if given."""
    now = now or utcnow()
    exceptions = list(exceptions)
    if not program.rrule:
        return _one_off_events(program, exceptions, base_url, members, personality_id)
    # To the rule's end, or as far as the holiday calendar is known (2099): a subscribed calendar
    # repeats the rule for ever, so every skipped holiday must be listed. Day-aligned, so it caches.
    since = (now - HOLIDAY_LOOKBACK).replace(hour=0, minute=0, second=0, microsecond=0)
    skipped = list(recurrence.holiday_skips(program, max(program.dtstart, since), recurrence.HOLIDAYS_KNOWN_UNTIL))
    mine = personality_id is None or program.personality_id == personality_id
    skipped_set = set(skipped)
    split = _Split(exdates=list(skipped))
    for exc in exceptions:
        if exc.occurrence_start in skipped_set or not recurrence.is_rule_start(program, exc.occurrence_start):
            continue
        _place_exception(split, exc, program, base_url, members, personality_id, mine)
    if not mine:
        return split.singles
    return [_master(program, members, base_url, split.exdates), *split.singles, *split.overrides]


def _one_off_events(
    program: Program,
    exceptions: list[ProgramException],
    base_url: str,
    members: dict[int, Member],
    personality_id: int | None,
) -> list[icalendar.Event]:
    """A program without a rule: one VEVENT per occurrence (exceptions applied)."""
    uid = f"program-{program.id}@chonai"
    end = program.dtstart + dt.timedelta(days=3650)
    events = []
    for occ in recurrence.occurrences(program, exceptions, program.dtstart, end, include_cancelled=False):
        if personality_id is None or occ.personality_id == personality_id:
            person = members.get(occ.personality_id or 0)
            event = _event(uid, _summary(program, person, occ.note), occ.starts_at, occ.ends_at, program)
            event.add("description", _description(program, person, base_url))
            events.append(event)
    return events


@dataclass
class _Split:
    """Where a rule's exceptions go: dates the master skips, its overrides, and events of their own."""

    exdates: list[dt.datetime]
    overrides: list[icalendar.Event] = field(default_factory=list)
    singles: list[icalendar.Event] = field(default_factory=list)


def _place_exception(
    split: _Split,
    exc: ProgramException,
    program: Program,
    base_url: str,
    members: dict[int, Member],
    personality_id: int | None,
    mine: bool,
) -> None:
    if exc.kind is ExceptionKind.CANCEL:
        split.exdates.append(exc.occurrence_start)
        return
    start = exc.starts_at if exc.kind is ExceptionKind.MOVE and exc.starts_at else exc.occurrence_start
    end = start + dt.timedelta(minutes=program.duration_minutes)
    person_id = exc.personality_id or program.personality_id
    person = members.get(person_id or 0)
    label = "代役" if exc.kind is ExceptionKind.SUBSTITUTE else "日時変更"
    if mine and (personality_id is None or person_id == personality_id):
        override = _event(f"program-{program.id}@chonai", _summary(program, person, label), start, end, program)
        override.add("recurrence-id", _local(exc.occurrence_start, program))
        override.add("description", _description(program, person, base_url))
        split.overrides.append(override)
    elif mine:
        split.exdates.append(exc.occurrence_start)  # substituted away from this personality
    elif person_id == personality_id:
        uid = f"program-{program.id}-{exc.occurrence_start:%Y%m%dT%H%M%SZ}@chonai"
        single = _event(uid, _summary(program, person, label), start, end, program)
        single.add("description", _description(program, person, base_url))
        split.singles.append(single)


def _master(program: Program, members: dict[int, Member], base_url: str, exdates: list[dt.datetime]) -> icalendar.Event:
    """The rule's own VEVENT, skipping `exdates`."""
    owner = members.get(program.personality_id or 0)
    end = program.dtstart + dt.timedelta(minutes=program.duration_minutes)
    master = _event(f"program-{program.id}@chonai", _summary(program, owner, ""), program.dtstart, end, program)
    master.add("rrule", icalendar.vRecur.from_ical(program.rrule))
    if exdates:
        master.add("exdate", [_local(x, program) for x in sorted(set(exdates))])
    master.add("description", _description(program, owner, base_url))
    if program.stream_url:
        master.add("url", program.stream_url)
    return master


def _summary(program: Program, person: Member | None, note: str) -> str:
    text = program.title
    if person:
        text += f"（{person.name}）"
    if note:
        text += f" [{note}]"
    return text


def one_off_event(broadcast: Broadcast, base_url: str) -> icalendar.Event:
    person = broadcast.personality
    event = _event(
        f"broadcast-{broadcast.id}@chonai",
        broadcast.title + (f"（{person.name}）" if person else ""),
        broadcast.starts_at,
        broadcast.ends_at,
        None,
    )
    event.add("description", f"{base_url}/broadcasts/{broadcast.id}")
    return event


def alarm(lead_minutes: int) -> icalendar.Alarm:
    """A display reminder `lead_minutes` before the start (the member's notification lead time)."""
    valarm = icalendar.Alarm()
    valarm.add("action", "DISPLAY")
    valarm.add("description", f"{lead_minutes}分後に放送が始まります")
    valarm.add("trigger", -dt.timedelta(minutes=lead_minutes))
    return valarm


def render(name: str, events: Iterable[icalendar.Event], lead_minutes: int = 0) -> bytes:
    """The VCALENDAR; with `lead_minutes` > 0 every event carries a VALARM that many minutes before."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Chonai//庁内放送//JA")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", recurrence.DEFAULT_TZ)
    cal.add("refresh-interval", dt.timedelta(hours=1), parameters={"VALUE": "DURATION"})
    for event in events:
        if lead_minutes > 0:
            event.add_component(alarm(lead_minutes))
        cal.add_component(event)
    cal.add_missing_timezones()
    return bytes(cal.to_ical())


async def feed(
    db: AsyncSession,
    base_url: str,
    *,
    program_id: int | None = None,
    personality_id: int | None = None,
    now: dt.datetime | None = None,
    lead_minutes: int = 0,
) -> bytes:
    """The whole schedule, one program, or one personality's broadcasts, as iCalendar bytes (VALARM at lead)."""
    now = now or utcnow()
    query = select(Program).where(Program.active.is_(True))
    if program_id is not None:
        query = query.where(Program.id == program_id)
    programs = list((await db.execute(query.order_by(Program.id))).unique().scalars())
    ids = [p.id for p in programs]
    exceptions: dict[int, list[ProgramException]] = {i: [] for i in ids}
    if ids:
        for exc in (await db.execute(select(ProgramException).where(ProgramException.program_id.in_(ids)))).scalars():
            exceptions[exc.program_id].append(exc)
    members = {m.id: m for m in (await db.execute(select(Member))).scalars()}
    events: list[icalendar.Event] = []
    for program in programs:
        events.extend(
            program_events(program, exceptions[program.id], base_url, members, personality_id=personality_id, now=now)
        )
    if program_id is None:
        singles = select(Broadcast).where(
            Broadcast.program_id.is_(None),
            Broadcast.state != BroadcastState.CANCELLED,
            Broadcast.starts_at >= now - HOLIDAY_LOOKBACK,
        )
        if personality_id is not None:
            singles = singles.where(Broadcast.personality_id == personality_id)
        events.extend(one_off_event(b, base_url) for b in (await db.execute(singles)).unique().scalars())
    if program_id is not None and programs:
        name = f"Chonai {programs[0].title}"
    elif personality_id is not None:
        person = members.get(personality_id)
        name = f"Chonai {person.name if person else ''}さんの番組"
    else:
        name = "Chonai 庁内放送"
    return render(name, events, lead_minutes)
