"""Occurrences of a program: RFC 5545 RRULE (dateutil) in the program's zone, Japanese holidays, exceptions.

Boundary rule: everything in and out of this module is an aware UTC datetime; the rule
is expanded on naive wall-clock times of the program's zone (Asia/Tokyo by default).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from dateutil import rrule as _dateutil_rrule
from dateutil.rrule import rrule, rrulestr

from live.models import ExceptionKind, Program, ProgramException

DEFAULT_TZ = "Asia/Tokyo"
MAX_RRULE_LENGTH = 500
#: No expansion looks further than this past its window (or past the rule's start when
#: validating): a rule that yields nothing (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) would
#: otherwise make dateutil walk every day to year 9999 on the event loop.
HORIZON_YEARS = 10


class HorizonReached(Exception):
    """dateutil walked past the last year an expansion may look at."""


class _BoundedIterinfo(_dateutil_rrule._iterinfo):  # type: ignore[misc]
    """dateutil's per-expansion calendar; it is rebuilt for every month or year the walk enters.

    dateutil checks UNTIL only when a date matches, so a rule that never matches walks every
    period to year 9999 (15 s for FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30). A rule marked with
    `_chonai_last_year` stops as soon as the walk passes that year.
    """

    def rebuild(self, year: int, month: int) -> None:
        last = getattr(self.rrule, "_chonai_last_year", None)
        if last is not None and year > last:
            raise HorizonReached
        super().rebuild(year, month)


# rrule._iter looks `_iterinfo` up in its module on every expansion (python-dateutil < 3, pinned).
_dateutil_rrule._iterinfo = _BoundedIterinfo


def _bounded(rule: rrule, last_year: int) -> rrule:
    rule._chonai_last_year = last_year
    return rule


def _first_within(rule: rrule, start: dt.datetime) -> dt.datetime | None:
    """The rule's first date in the HORIZON_YEARS from `start`, or None (bounded walk)."""
    try:
        found = _bounded(rule, start.year + HORIZON_YEARS).after(start, inc=True)
    except HorizonReached:
        return None
    return found if isinstance(found, dt.datetime) else None


def _between(rule: rrule, lo: dt.datetime, hi: dt.datetime) -> list[dt.datetime]:
    """Like rule.between(lo, hi, inc=True), but a bounded rule stops at its last year."""
    out: list[dt.datetime] = []
    try:
        for when in rule.xafter(lo, inc=True):
            if when > hi:
                break
            out.append(when)
    except HorizonReached:
        pass
    return out


WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKDAY_LABELS = ("月", "火", "水", "木", "金", "土", "日")


class RecurrenceError(ValueError):
    """A rule or time zone we refuse; the message is Japanese and shown to the operator."""


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA zone, or a Japanese refusal."""
    if not name or len(name) > 50 or not re.fullmatch(r"[A-Za-z0-9_+\-/]+", name) or ".." in name:
        raise RecurrenceError(f"タイムゾーン「{name[:50]}」は使えません。例: Asia/Tokyo")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise RecurrenceError(f"タイムゾーン「{name}」は存在しません。例: Asia/Tokyo") from None


def normalise_rrule(text: str, tz: ZoneInfo | None = None) -> str:
    """Validate an RRULE value (with or without the "RRULE:" prefix) and return it upper-cased.

    Refused: DTSTART/EXDATE lines (Chonai manages those), sub-daily frequencies (a broadcast
    every hour is a typo), and anything dateutil cannot parse.
    """
    value = re.sub(r"\s+", "", text or "").upper()
    if value.startswith("RRULE:"):
        value = value[6:]
    if not value:
        return ""
    if len(value) > MAX_RRULE_LENGTH:
        raise RecurrenceError("繰り返しルールが長すぎます。")
    if any(bad in value for bad in ("DTSTART", "EXDATE", "RDATE", ":")):
        raise RecurrenceError("繰り返しルールには RRULE の部分だけを書いてください（例: FREQ=WEEKLY;BYDAY=FR）。")
    parts: dict[str, str] = {}
    for part in filter(None, value.split(";")):
        key, _, val = part.partition("=")
        parts[key] = val
    _check_freq(parts.get("FREQ"))
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError("COUNT と UNTIL は同時に指定できません。")
    if "COUNT" in parts and not (parts["COUNT"].isdigit() and 1 <= int(parts["COUNT"]) <= 1000):
        raise RecurrenceError("COUNT は 1〜1000 の数字で指定してください。")
    if "INTERVAL" in parts and not (parts["INTERVAL"].isdigit() and 1 <= int(parts["INTERVAL"]) <= 366):
        raise RecurrenceError("INTERVAL は 1〜366 の数字で指定してください。")
    if "UNTIL" in parts:
        value = _utc_until(value, parts["UNTIL"], tz)
    probe_start = dt.datetime(2026, 1, 1, 12, 0)
    try:
        rule = rrulestr(value, dtstart=probe_start, ignoretz=True, forceset=False)
        first = _first_within(rule, probe_start) if isinstance(rule, rrule) else None
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise RecurrenceError(f"繰り返しルールを解釈できません（{str(exc)[:80]}）。例: FREQ=WEEKLY;BYDAY=MO") from None
    if not isinstance(rule, rrule):
        raise RecurrenceError("繰り返しルールは1つだけ指定してください。")
    if first is None:
        raise RecurrenceError("この繰り返しルールでは10年以内に放送日が1日もありません（例: 2月30日）。")
    if "BYHOUR" in parts or "BYMINUTE" in parts or "BYSECOND" in parts:
        raise RecurrenceError("時刻は開始時刻の欄で指定してください（BYHOUR / BYMINUTE は使えません）。")
    return value


def _utc_until(value: str, until: str, tz: ZoneInfo | None) -> str:
    """The rule with a checked UNTIL, a local one turned into UTC."""
    match = re.fullmatch(r"(\d{8})(T\d{6})?(Z?)", until)
    if not match or (match.group(3) and not match.group(2)):
        raise RecurrenceError("UNTIL は 20271231 または 20271231T235959Z の形式で指定してください。")
    try:
        if match.group(2):
            local_until = dt.datetime.strptime(match.group(1) + match.group(2), "%Y%m%dT%H%M%S")
        else:
            local_until = dt.datetime.strptime(match.group(1) + "T235959", "%Y%m%dT%H%M%S")
    except ValueError:
        raise RecurrenceError(f"UNTIL の日付「{until}」が正しくありません。") from None
    if not match.group(3):
        # RFC 5545: with a zoned DTSTART, UNTIL must be UTC. Store it that way.
        utc = local_until.replace(tzinfo=tz or zone(DEFAULT_TZ)).astimezone(dt.UTC)
        value = value.replace(f"UNTIL={until}", f"UNTIL={utc:%Y%m%dT%H%M%SZ}")
    return value


def _check_freq(freq: str | None) -> None:
    if freq is None:
        raise RecurrenceError("繰り返しルールに FREQ がありません（例: FREQ=DAILY）。")
    if freq in {"HOURLY", "MINUTELY", "SECONDLY"}:
        raise RecurrenceError(
            "放送の繰り返しは「毎日」より細かくできません（FREQ=DAILY / WEEKLY / MONTHLY / YEARLY）。"
        )
    if freq not in {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}:
        raise RecurrenceError(f"FREQ={freq} は使えません（DAILY / WEEKLY / MONTHLY / YEARLY）。")


def with_until(rule: str, until_local: dt.date, tz: ZoneInfo) -> str:
    """Add UNTIL (end of that local day, in UTC as RFC 5545 requires with a zoned DTSTART)."""
    end = dt.datetime.combine(until_local, dt.time(23, 59, 59), tz).astimezone(dt.UTC)
    return f"{rule};UNTIL={end:%Y%m%dT%H%M%SZ}"


_JP_HOLIDAYS = holidays.country_holidays("JP", language="ja")
#: The end of the last year the holiday calendar knows (holidays' JP tables end in 2099).
HOLIDAYS_KNOWN_UNTIL = dt.datetime(int(type(_JP_HOLIDAYS).end_year) + 1, 1, 1, tzinfo=dt.UTC)


def holiday_name(day: dt.date) -> str | None:
    """The Japanese public holiday on that date (振替休日 included), or None."""
    name = _JP_HOLIDAYS.get(day)
    return str(name) if name else None


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One occurrence after holidays and exceptions are applied."""

    occurrence_start: dt.datetime  # the rule's original start (UTC)
    starts_at: dt.datetime
    ends_at: dt.datetime
    personality_id: int | None
    cancelled: bool = False
    note: str = ""


def rule_starts(program: Program, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Original starts (UTC) of the rule in [start, end), before holidays and exceptions."""
    tz = zone(program.timezone or DEFAULT_TZ)
    if not program.rrule:
        return [program.dtstart] if start <= program.dtstart < end else []
    lo = start.astimezone(tz).replace(tzinfo=None)
    hi = end.astimezone(tz).replace(tzinfo=None)
    rule = _bounded(_local_rule(program, tz), hi.year + 1)
    out = []
    for local in _between(rule, lo, hi):
        utc = local.replace(tzinfo=tz).astimezone(dt.UTC)
        if start <= utc < end:
            out.append(utc)
    return out


def _local_rule(program: Program, tz: ZoneInfo) -> rrule:
    """The rule on naive local times; an UNTIL given in UTC is converted to local wall time."""
    local_start = program.dtstart.astimezone(tz).replace(tzinfo=None)
    text = program.rrule
    match = re.search(r"UNTIL=(\d{8}(T\d{6})?)(Z?)", text)
    if match:
        raw, has_time, zulu = match.group(1), match.group(2), match.group(3)
        if has_time:
            until = dt.datetime.strptime(raw, "%Y%m%dT%H%M%S")
            if zulu:
                until = until.replace(tzinfo=dt.UTC).astimezone(tz).replace(tzinfo=None)
            text = text.replace(match.group(0), f"UNTIL={until:%Y%m%dT%H%M%S}")
        else:
            until_day = dt.datetime.strptime(raw, "%Y%m%d")
            text = text.replace(match.group(0), f"UNTIL={until_day:%Y%m%d}T235959")
    rule = rrulestr(text, dtstart=local_start, ignoretz=True, forceset=False)
    assert isinstance(rule, rrule)
    return rule


def is_holiday_skipped(program: Program, occurrence_start: dt.datetime) -> str | None:
    if not program.skip_holidays:
        return None
    tz = zone(program.timezone or DEFAULT_TZ)
    return holiday_name(occurrence_start.astimezone(tz).date())


def occurrences(
    program: Program,
    exceptions: Iterable[ProgramException],
    start: dt.datetime,
    end: dt.datetime,
    *,
    include_cancelled: bool = True,
) -> list[Occurrence]:
    """Occurrences whose (possibly moved) start is in [start, end), sorted by start.

    Holiday-skipped and cancelled occurrences are returned with cancelled=True (and a note)
    unless include_cancelled is False.
    """
    by_start = {e.occurrence_start: e for e in exceptions}
    duration = dt.timedelta(minutes=program.duration_minutes)
    out: list[Occurrence] = []
    seen: set[dt.datetime] = set()
    candidates = set(rule_starts(program, start, end))
    # A moved occurrence may come into the window from outside it.
    for exc in by_start.values():
        if exc.kind is ExceptionKind.MOVE and exc.starts_at is not None and start <= exc.starts_at < end:
            candidates.add(exc.occurrence_start)
    for original in sorted(candidates):
        if original in seen or not is_rule_start(program, original):
            continue
        seen.add(original)
        occ = _apply(program, by_start.get(original), original, duration)
        if not start <= occ.starts_at < end:
            continue
        if occ.cancelled and not include_cancelled:
            continue
        out.append(occ)
    out.sort(key=lambda o: (o.starts_at, o.occurrence_start))
    return out


def _apply(program: Program, exc: ProgramException | None, original: dt.datetime, duration: dt.timedelta) -> Occurrence:
    holiday = is_holiday_skipped(program, original)
    if holiday:
        return Occurrence(
            original, original, original + duration, program.personality_id, True, f"祝日（{holiday}）のため休止"
        )
    if exc is None:
        return Occurrence(original, original, original + duration, program.personality_id)
    if exc.kind is ExceptionKind.CANCEL:
        note = "中止" + (f"：{exc.note}" if exc.note else "")
        return Occurrence(original, original, original + duration, program.personality_id, True, note)
    personality = exc.personality_id or program.personality_id
    if exc.kind is ExceptionKind.SUBSTITUTE:
        who = exc.personality.name if exc.personality else ""
        note = f"代役：{who}" if who else "代役"
        return Occurrence(original, original, original + duration, personality, False, _join(note, exc.note))
    new_start = exc.starts_at or original
    return Occurrence(original, new_start, new_start + duration, personality, False, _join("日時変更", exc.note))


def _join(a: str, b: str) -> str:
    return f"{a}（{b}）" if b else a


def holiday_skips(program: Program, start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, ...]:
    """Original starts in [start, end) that fall on a holiday the program skips (for EXDATE lists).

    Walking a rule to 2099 takes a tenth of a second, and every feed request asks again: cached per
    rule and day, so a feed costs that once a day per process.
    """
    if not program.skip_holidays or not program.rrule:
        return ()
    return _holiday_skips(program.rrule, program.dtstart, program.timezone or DEFAULT_TZ, start, end)


@lru_cache(maxsize=512)
def _holiday_skips(
    rule: str, dtstart: dt.datetime, tzname: str, start: dt.datetime, end: dt.datetime
) -> tuple[dt.datetime, ...]:
    probe = Program(rrule=rule, dtstart=dtstart, timezone=tzname, skip_holidays=True)
    tz = zone(tzname)
    return tuple(s for s in rule_starts(probe, start, end) if s.astimezone(tz).date() in _JP_HOLIDAYS)


def is_rule_start(program: Program, when: dt.datetime) -> bool:
    """Whether the rule produces an occurrence starting exactly at `when` (UTC)."""
    return when in rule_starts(program, when, when + dt.timedelta(seconds=1))


def next_rule_starts(program: Program, after: dt.datetime, limit: int) -> list[dt.datetime]:
    """The next `limit` original starts strictly after `after` (for forms: pick an occurrence)."""
    tz = zone(program.timezone or DEFAULT_TZ)
    if not program.rrule:
        return [program.dtstart] if program.dtstart > after else []
    out: list[dt.datetime] = []
    local = after.astimezone(tz).replace(tzinfo=None)
    rule = _bounded(_local_rule(program, tz), local.year + HORIZON_YEARS)
    try:
        for nxt in rule.xafter(local, count=limit, inc=False):
            out.append(nxt.replace(tzinfo=tz).astimezone(dt.UTC))
    except HorizonReached:  # nothing more within HORIZON_YEARS
        pass
    return out


def describe(program: Program) -> str:
    """A short Japanese description such as 「隔週 土曜 10:00〜11:30」."""
    tz = zone(program.timezone or DEFAULT_TZ)
    local = program.dtstart.astimezone(tz)
    end = local + dt.timedelta(minutes=program.duration_minutes)
    times = f"{local:%H:%M}〜{end:%H:%M}"
    if not program.rrule:
        return f"{local.year}年{local.month}月{local.day}日({WEEKDAY_LABELS[local.weekday()]}) {times}（1回のみ）"
    parts = dict(p.split("=", 1) for p in program.rrule.split(";") if "=" in p)
    interval = int(parts.get("INTERVAL", "1") or 1)
    freq = parts.get("FREQ", "")
    base = {"DAILY": "日", "WEEKLY": "週", "MONTHLY": "月", "YEARLY": "年"}.get(freq, "")
    head = ("隔" + base) if interval == 2 else (f"{interval}{base}ごと" if interval > 2 else "毎" + base)
    days = ""
    if "BYDAY" in parts:
        codes = [re.sub(r"^[+-]?\d*", "", d) for d in parts["BYDAY"].split(",")]
        days = "・".join(WEEKDAY_LABELS[WEEKDAY_CODES.index(c)] for c in codes if c in WEEKDAY_CODES) + "曜"
    elif freq == "WEEKLY":
        days = WEEKDAY_LABELS[local.weekday()] + "曜"
    text = " ".join(x for x in (head, days, times) if x)
    if program.skip_holidays:
        text += "（祝日は休み）"
    return text
