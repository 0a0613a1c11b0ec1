"""Past broadcasts to archive (created directly: the schedule is not under test here)."""

from __future__ import annotations

import datetime as dt

import pytest

from live.models import BroadcastState
from tests.factories import make_broadcast

JST = dt.timezone(dt.timedelta(hours=9))


@pytest.fixture
async def past(db, demo):
    """Three ended broadcasts in two months and one still scheduled."""
    a = await make_broadcast(
        db,
        title="動画のつくりかた 第1回",
        host_email="host@example.jp",
        section="動画課",
        start=dt.datetime(2026, 10, 5, 12, 0, tzinfo=JST),
        description="スマホで撮る広報動画",
    )
    b = await make_broadcast(
        db,
        title="財政のきほん 予算編成",
        host_email="fukuoka@example.jp",
        section="みんなの財政課",
        start=dt.datetime(2026, 11, 2, 21, 0, tzinfo=JST),
    )
    c = await make_broadcast(
        db,
        title="動画のつくりかた 第2回",
        host_email="host@example.jp",
        section="動画課",
        start=dt.datetime(2026, 11, 9, 12, 0, tzinfo=JST),
    )
    future = await make_broadcast(
        db,
        title="未来の放送",
        host_email="host@example.jp",
        section="動画課",
        start=dt.datetime(2026, 12, 24, 12, 0, tzinfo=JST),
        state=BroadcastState.SCHEDULED,
    )
    return {"a": a, "b": b, "c": c, "future": future}
