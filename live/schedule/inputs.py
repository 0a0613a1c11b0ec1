"""Schedule inputs: one msgspec struct per input, shared by the HTML form and the JSON API, and their validate step.

The JSON API decodes straight into these structs; a form is read once (core.forms.read_form) and
converted once with `from_form`. Declared bounds are the hard caps of the input (what any client
may send); the product's rules with their Japanese messages (a title of 100 characters, an end
after the start, a recurrence that happens at least once, members that exist) are checked in
`validate_program` / the exception and rotation actions, keyed by field for the form to show.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.bounds import EARLIEST, LATEST
from core.forms import MAX_FIELD
from core.members.models import Member, Status
from core.sections import Section
from core.text import clean_block, clean_line
from live.models import Program
from live.schedule import recurrence, rule_editor
from live.schedule.recurrence import WEEKDAY_CODES, RecurrenceError

MAX_GUESTS = 10
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CHECKED = frozenset({"on", "1", "true", "yes"})

Text = Annotated[str, msgspec.Meta(max_length=MAX_FIELD)]
Short = Annotated[str, msgspec.Meta(max_length=200)]  # dates, times, rules, ids as typed
Id = Annotated[int, msgspec.Meta(ge=0, lt=2**31)]


def _form_id(raw: str | None) -> int | None:
    """A form's id field: empty is None; anything but digits is 0, an id no row has (so "not found")."""
    raw = (raw or "").strip()
    if not raw:
        return None
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else 0


class ProgramInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One program: the operator form and POST/PUT /api/schedule/programs. Times are local to `timezone`."""

    title: Text
    start_date: Short  # 2026-11-23
    start_time: Short  # 21:00
    end_time: Short  # 22:00, the same day
    personality_id: Id | None = None
    description: Text = ""
    section_id: Id | None = None
    guests: Annotated[list[Short], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)
    lobby_minutes: Annotated[int, msgspec.Meta(ge=-1, le=9999)] = 10  # the product allows 0–120
    stream_url: Text = ""
    rrule: Short = ""
    until: Short = ""
    timezone: Short = recurrence.DEFAULT_TZ
    skip_holidays: bool = False
    active: bool = True

    @classmethod
    def from_form(cls, form: dict[str, str]) -> ProgramInput:
        return cls.from_editor_form(form)[0]

    @classmethod
    def from_editor_form(cls, form: dict[str, str]) -> tuple[ProgramInput, str | None]:
        """The operator form, whose repeat editor (live.schedule.rule_editor) writes the RRULE; its error if any."""
        try:
            rule, repeat_error = rule_editor.rule_from_form(form), None
        except rule_editor.EditorError as exc:
            rule, repeat_error = form.get("rrule", ""), str(exc)
        return cls._from_form(form, rule[:200]), repeat_error

    @classmethod
    def _from_form(cls, form: dict[str, str], rule: str) -> ProgramInput:
        lobby = (form.get("lobby_minutes") or "10").strip()
        return cls(
            title=form.get("title", ""),
            start_date=form.get("start_date", "")[:200],
            start_time=form.get("start_time", "")[:200],
            end_time=form.get("end_time", "")[:200],
            personality_id=_form_id(form.get("personality_id")),
            description=form.get("description", ""),
            section_id=_form_id(form.get("section_id")),
            guests=[line[:200] for line in form.get("guests", "").splitlines()][:50],
            lobby_minutes=int(lobby) if lobby.isdigit() and len(lobby) < 4 else -1,
            stream_url=form.get("stream_url", ""),
            rrule=rule,
            until=form.get("until", "")[:200],
            timezone=(form.get("timezone") or recurrence.DEFAULT_TZ)[:200],
            skip_holidays=form.get("skip_holidays", "") in _CHECKED,
            active=form.get("active", "") in _CHECKED,
        )


def program_form_values(program: Program) -> dict[str, str]:
    """A stored program as the edit form shows it (the inverse of ProgramInput.from_form)."""
    tz = recurrence.zone(program.timezone or recurrence.DEFAULT_TZ)
    local = program.dtstart.astimezone(tz)
    end = local + dt.timedelta(minutes=program.duration_minutes)
    guests = [g.member.email if g.member else g.name for g in program.guests]
    return {
        "title": program.title,
        "description": program.description,
        "section_id": str(program.section_id or ""),
        "personality_id": str(program.personality_id or ""),
        "guests": "\n".join(guests),
        "start_date": local.date().isoformat(),
        "start_time": f"{local:%H:%M}",
        "end_time": f"{end:%H:%M}",
        "lobby_minutes": str(program.lobby_minutes),
        "stream_url": program.stream_url,
        **rule_editor.edit_values(program.rrule, tz),
        "timezone": program.timezone,
        "skip_holidays": "on" if program.skip_holidays else "",
        "active": "on" if program.active else "",
    }


class RotationInput(ProgramInput, forbid_unknown_fields=True, kw_only=True):
    """A daily rotation: one personality per weekday (keys mo … su), one weekly program per day."""

    personalities: Annotated[dict[Short, Id], msgspec.Meta(max_length=7)] = msgspec.field(default_factory=dict)

    @classmethod
    def from_form(cls, form: dict[str, str]) -> RotationInput:
        program = msgspec.structs.asdict(ProgramInput.from_form(form))
        days = {c.lower(): _form_id(form.get(f"personality_{c.lower()}")) for c in WEEKDAY_CODES}
        return cls(**program, personalities={day: pid for day, pid in days.items() if pid is not None})

    def weekday_personalities(self) -> dict[str, int]:
        """mo … su -> member id (keys as the API sends them, e.g. "MO" or "monday", folded to two letters)."""
        return {key.lower()[:2]: value for key, value in self.personalities.items()}


class ExceptionInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Cancel, substitute or move one occurrence: the program page's form and the JSON API."""

    occurrence: Short  # original start, local ISO (2026-11-27T21:00) or with offset
    kind: Short  # cancel | substitute | move
    personality_id: Id | None = None
    new_start: Short = ""
    note: Text = ""

    @classmethod
    def from_form(cls, form: dict[str, str]) -> ExceptionInput:
        return cls(
            occurrence=form.get("occurrence", "")[:200],
            kind=form.get("kind", "")[:200],
            personality_id=_form_id(form.get("personality_id")),
            new_start=form.get("new_start", "")[:200],
            note=form.get("note", ""),
        )


@dataclass
class ProgramData:
    title: str
    description: str
    section_id: int | None
    personality_id: int | None
    guests: list[tuple[int | None, str]]
    dtstart: dt.datetime
    duration_minutes: int
    lobby_minutes: int
    stream_url: str
    rrule: str
    timezone: str
    skip_holidays: bool
    active: bool
    rotation: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def validate_url(raw: str) -> tuple[str, str | None]:
    url = (raw or "").strip()
    if not url:
        return "", None
    if len(url) > 500:
        return url, "配信URLは500文字以内にしてください。"
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or any(c.isspace() for c in url):
        return url, "配信URLは https:// で始まるURLを入力してください（YouTube・Zoom・Facebook など）。"
    return url, None


def _parse_date(raw: str) -> dt.date | None:
    try:
        day = dt.date.fromisoformat((raw or "").strip())
    except ValueError:
        return None
    return day if EARLIEST <= day <= LATEST else None


def _parse_time(raw: str) -> dt.time | None:
    raw = (raw or "").strip()
    if not re.fullmatch(r"\d{1,2}:\d{2}", raw):
        return None
    hour, minute = (int(x) for x in raw.split(":"))
    if hour > 23 or minute > 59:
        return None
    return dt.time(hour, minute)


async def approved_member(db: AsyncSession, member_id: int) -> Member | None:
    member = await db.get(Member, member_id)
    return member if member is not None and member.status is Status.APPROVED else None


async def _parse_guests(db: AsyncSession, raw: list[str], errors: dict[str, str]) -> list[tuple[int | None, str]]:
    guests: list[tuple[int | None, str]] = []
    lines = [clean_line(x) for x in raw if clean_line(x)]
    if len(lines) > MAX_GUESTS:
        errors["guests"] = f"ゲストは{MAX_GUESTS}人までです。"
        return []
    for line in lines:
        if _EMAIL.match(line):
            member = (await db.execute(select(Member).where(Member.email == line.lower()))).scalar_one_or_none()
            if member is None or member.status is not Status.APPROVED:
                errors["guests"] = (
                    f"メンバー「{line}」が見つかりません。メンバーはメールアドレス、外部の方はお名前で入力してください。"
                )
                return []
            guests.append((member.id, ""))
        elif len(line) > 100:
            errors["guests"] = "ゲストの名前は100文字以内にしてください。"
            return []
        else:
            guests.append((None, line))
    return guests


@dataclass
class _Times:
    tz_name: str
    tz: ZoneInfo | None
    start_date: dt.date | None
    start_time: dt.time | None
    duration: int


def _check_text(form: ProgramInput, errors: dict[str, str]) -> tuple[str, str]:
    title = clean_line(form.title)
    if not title:
        errors["title"] = "番組名を入力してください。"
    elif len(title) > 100:
        errors["title"] = "番組名は100文字以内にしてください。"
    description = clean_block(form.description)
    if len(description) > 5000:
        errors["description"] = "説明は5000文字以内にしてください。"
    return title, description


async def _check_people(
    db: AsyncSession, form: ProgramInput, errors: dict[str, str], rotation_days: bool
) -> tuple[int | None, int | None, list[tuple[int | None, str]]]:
    section_id = form.section_id
    if section_id is not None and await db.get(Section, section_id) is None:
        errors["section_id"] = "指定された課が見つかりません。"
        section_id = None
    personality_id: int | None = None
    if not rotation_days:  # a rotation names one personality per weekday instead
        raw_p = form.personality_id
        if raw_p is None:
            errors["personality_id"] = "パーソナリティを選んでください。"
        elif await approved_member(db, raw_p) is None:
            errors["personality_id"] = "指定されたパーソナリティ（メンバー）が見つかりません。"
        else:
            personality_id = raw_p
    return section_id, personality_id, await _parse_guests(db, form.guests, errors)


def _check_times(form: ProgramInput, errors: dict[str, str]) -> _Times:
    tz_name = (form.timezone or recurrence.DEFAULT_TZ).strip()
    tz = None
    try:
        tz = recurrence.zone(tz_name)
    except RecurrenceError as exc:
        errors["timezone"] = str(exc)
    start_date = _parse_date(form.start_date)
    if start_date is None:
        errors["start_date"] = "開始日を 2026-11-23 の形式で入力してください。"
    start_time = _parse_time(form.start_time)
    if start_time is None:
        errors["start_time"] = "開始時刻を 21:00 の形式で入力してください。"
    end_time = _parse_time(form.end_time)
    duration = 0
    if end_time is None:
        errors["end_time"] = "終了時刻を 22:00 の形式で入力してください。"
    elif start_time is not None:
        duration = (end_time.hour * 60 + end_time.minute) - (start_time.hour * 60 + start_time.minute)
        if duration <= 0:
            errors["end_time"] = "終了時刻は開始時刻より後にしてください（日をまたぐ放送はできません）。"
    return _Times(tz_name, tz, start_date, start_time, duration)


async def _check_recurrence(
    form: ProgramInput, times: _Times, errors: dict[str, str], rotation_days: bool, repeat_error: str | None
) -> tuple[str, dt.date | None]:
    rule = ""
    if repeat_error and not rotation_days:
        errors["repeat"] = repeat_error
    elif not rotation_days:
        try:
            # Bounded (a few ms, at most ~40 ms for a rule that never matches), still kept off the loop.
            rule = await asyncio.to_thread(recurrence.normalise_rrule, form.rrule, times.tz)
        except RecurrenceError as exc:
            errors["rrule"] = str(exc)
    until_raw = form.until.strip()
    until = _parse_date(until_raw) if until_raw else None
    if until_raw and until is None:
        errors["until"] = "繰り返しの終了日を 2027-03-31 の形式で入力してください。"
    elif until is not None and times.start_date is not None and until < times.start_date:
        errors["until"] = "繰り返しの終了日は開始日より後にしてください。"
    elif until is not None and not rotation_days and not rule and "rrule" not in errors and "repeat" not in errors:
        errors["until"] = "繰り返しの終了日は繰り返しルールと一緒に指定してください。"
    elif until is not None and ("UNTIL=" in rule or "COUNT=" in rule):
        errors["until"] = "繰り返しルールに UNTIL / COUNT がある場合は終了日を空欄にしてください。"
    return rule, until


async def validate_program(
    db: AsyncSession, form: ProgramInput, *, rotation_days: bool = False, repeat_error: str | None = None
) -> tuple[ProgramData | None, dict[str, str]]:
    """The validate step of a ProgramInput (form or JSON): field rules, cross-field rules, lookups.

    Errors are keyed by field name, in Japanese, in the form's order (the API's message is the first).
    """
    errors: dict[str, str] = {}
    title, description = _check_text(form, errors)
    section_id, personality_id, guests = await _check_people(db, form, errors, rotation_days)
    times = _check_times(form, errors)
    if not 0 <= form.lobby_minutes <= 120:
        errors["lobby_minutes"] = "待機室を開く時間は0〜120分で入力してください。"
    stream_url, url_error = validate_url(form.stream_url)
    if url_error:
        errors["stream_url"] = url_error
    rule, until = await _check_recurrence(form, times, errors, rotation_days, repeat_error)
    if errors or times.start_date is None or times.start_time is None or times.tz is None:
        return None, errors
    if until is not None and rule:
        rule = recurrence.with_until(rule, until, times.tz)
    dtstart = dt.datetime.combine(times.start_date, times.start_time, times.tz).astimezone(dt.UTC)
    if rule and not rotation_days:
        probe = Program(dtstart=dtstart, rrule=rule, timezone=times.tz_name, duration_minutes=times.duration)
        if not recurrence.next_rule_starts(probe, dtstart - dt.timedelta(seconds=1), 1):
            return None, {"rrule": "この繰り返しルールでは放送日が1日もありません。"}
    return ProgramData(
        title=title,
        description=description,
        section_id=section_id,
        personality_id=personality_id,
        guests=guests,
        dtstart=dtstart,
        duration_minutes=times.duration,
        lobby_minutes=form.lobby_minutes,
        stream_url=stream_url,
        rrule=rule,
        timezone=times.tz_name,
        skip_holidays=form.skip_holidays,
        active=form.active,
        extra={"until": until.isoformat()} if until else {},
    ), {}
