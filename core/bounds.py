"""Declared bounds for every integer and date a request can carry (paths, queries, JSON, forms).

Ids and positions are INTEGER columns (PostgreSQL int4), so anything past 2**31 - 1 cannot
name a row: it is refused as bad input (400, typed) before it reaches the database, where it
would overflow (SQLite) or look like an outage (asyncpg). Dates outside 2000-2100 are typos
or attacks, never a broadcast; refusing them keeps date arithmetic far from year 1 and 9999.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from litestar.params import PathParameter, QueryParameter

from core.errors import Invalid

MAX_ID = 2**31 - 1
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2100, 12, 31)

#: Path parameters: `{broadcast_id:int}` etc.
PathId = Annotated[int, PathParameter(ge=1, le=MAX_ID)]
#: Query parameters: positions to resume from (0 = from the start) and other counts.
QueryPosition = Annotated[int, QueryParameter(ge=0, le=MAX_ID)]
QueryId = Annotated[int, QueryParameter(ge=1, le=MAX_ID)]
OptionalQueryId = Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)]
#: JSON fields (msgspec structs).
Id = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
Position = Annotated[int, msgspec.Meta(ge=0, le=MAX_ID)]


def in_range(day: dt.date, label: str = "日付") -> dt.date:
    """The date itself, if it lies in 2000-01-01 .. 2100-12-31."""
    plain = day.date() if isinstance(day, dt.datetime) else day
    if not EARLIEST <= plain <= LATEST:
        raise Invalid(f"{label}は2000年から2100年までの範囲で指定してください。", fields={label: "範囲外の日付です。"})
    return day
