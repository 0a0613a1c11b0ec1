"""The program form's recurrence editor: days of the week, every N, nth weekday of the month → an RRULE.

The form sends `repeat` (once / daily / weekly / monthly / custom) with `interval`, `day_MO` … `day_SU`,
`nth` and `nth_day`; `custom` (and any client that sends only `rrule`, like the JSON API) uses the
raw RRULE as typed. The end date stays the form's `until` field, for every kind.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from live.schedule.recurrence import WEEKDAY_CODES, WEEKDAY_LABELS

REPEATS = (
    ("once", "1回だけ"),
    ("daily", "毎日（N日ごと）"),
    ("weekly", "毎週（曜日を選ぶ・N週ごと）"),
    ("monthly", "毎月 第n ○曜日"),
    ("custom", "RRULE を直接入力（上級者向け）"),
)
NTHS = (("1", "第1"), ("2", "第2"), ("3", "第3"), ("4", "第4"), ("-1", "最終"))
MAX_INTERVAL = 52

_SIMPLE = re.compile(
    r"^FREQ=(DAILY|WEEKLY|MONTHLY)(?:;INTERVAL=(\d+))?(?:;BYDAY=((?:-?[1-4])?[A-Z]{2}(?:,[A-Z]{2})*))?$"
)


class EditorError(ValueError):
    """A choice in the editor that makes no rule; the message is Japanese and names what to fix."""


def rule_from_form(form: dict[str, str]) -> str:
    """The RRULE text the editor describes (before normalisation), or the raw `rrule` for custom."""
    repeat = (form.get("repeat") or "custom").strip()
    if repeat == "custom":
        return form.get("rrule", "")
    if repeat == "once":
        return ""
    raw_interval = (form.get("interval") or "1").strip()
    if not raw_interval.isdigit() or not 1 <= int(raw_interval) <= MAX_INTERVAL:
        raise EditorError(f"間隔は1〜{MAX_INTERVAL}の数で入力してください。")
    interval = int(raw_interval)
    every = f";INTERVAL={interval}" if interval > 1 else ""
    if repeat == "daily":
        return f"FREQ=DAILY{every}"
    if repeat == "weekly":
        days = [code for code in WEEKDAY_CODES if form.get(f"day_{code}") == "on"]
        if not days:
            raise EditorError("毎週の放送では曜日を1つ以上選んでください。")
        return f"FREQ=WEEKLY{every};BYDAY={','.join(days)}"
    if repeat == "monthly":
        nth, day = (form.get("nth") or "").strip(), (form.get("nth_day") or "").strip()
        if nth not in {n for n, _ in NTHS} or day not in WEEKDAY_CODES:
            raise EditorError("毎月の放送では「第何」と曜日を選んでください。")
        return f"FREQ=MONTHLY{every};BYDAY={nth}{day}"
    raise EditorError("繰り返しの種類を選んでください。")


def form_from_rule(rule: str) -> dict[str, str]:
    """Editor values for a stored rule; anything the editor cannot show stays `custom` (raw RRULE)."""
    if not rule:
        return {"repeat": "once", "interval": "1"}
    match = _SIMPLE.match(rule)
    if match is None:
        return {"repeat": "custom", "interval": "1"}
    freq, interval, byday = match.group(1), match.group(2) or "1", match.group(3) or ""
    values = {"interval": interval}
    if freq == "DAILY" and not byday:
        values["repeat"] = "daily"
    elif freq == "WEEKLY" and byday and byday[0] not in "-1234":
        values["repeat"] = "weekly"
        values.update({f"day_{code}": "on" for code in byday.split(",")})
    elif freq == "MONTHLY" and re.fullmatch(r"-?[1-4][A-Z]{2}", byday):
        values.update(repeat="monthly", nth=byday[:-2], nth_day=byday[-2:])
    else:
        values["repeat"] = "custom"
    return values


def describe(rule: str) -> str:
    """A Japanese summary of a rule the editor can make ("2週ごと 月・水曜日"); the raw rule otherwise."""
    values = form_from_rule(rule)
    n = int(values.get("interval", "1"))
    repeat = values["repeat"]
    if repeat == "once":
        return "1回だけ"
    if repeat == "daily":
        return "毎日" if n == 1 else f"{n}日ごと"
    if repeat == "weekly":
        days = "・".join(
            label for code, label in zip(WEEKDAY_CODES, WEEKDAY_LABELS, strict=True) if values.get(f"day_{code}")
        )
        return ("毎週 " if n == 1 else f"{n}週ごと ") + f"{days}曜日"
    if repeat == "monthly":
        nth = dict(NTHS)[values["nth"]]
        day = WEEKDAY_LABELS[WEEKDAY_CODES.index(values["nth_day"])]
        return ("毎月 " if n == 1 else f"{n}か月ごと ") + f"{nth}{day}曜日"
    return rule


def edit_values(rule: str, tz: ZoneInfo) -> dict[str, str]:
    """Form values for editing a stored rule: the editor's fields, `rrule` and the end date (`until`)."""
    match = re.search(r";UNTIL=(\d{8}T\d{6})Z", rule)
    base, until = rule, ""
    if match:
        end = dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC).astimezone(tz)
        base, until = rule.replace(match.group(0), ""), end.date().isoformat()
    values = form_from_rule(base)
    if values["repeat"] == "custom":  # shown exactly as stored
        return {**values, "rrule": rule, "until": ""}
    return {**values, "rrule": base, "until": until}
