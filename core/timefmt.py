"""Display times in Asia/Tokyo, the only time zone members see."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")
WEEKDAYS = "月火水木金土日"


def to_jst(value: dt.datetime) -> dt.datetime:
    return value.astimezone(JST)


def format_jst(value: dt.datetime | None, with_weekday: bool = True) -> str:
    """2026年11月22日(日) 21:00"""
    if value is None:
        return ""
    local = to_jst(value)
    day = f"{local.year}年{local.month}月{local.day}日"
    if with_weekday:
        day += f"({WEEKDAYS[local.weekday()]})"
    return f"{day} {local:%H:%M}"
