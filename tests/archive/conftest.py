"""Past broadcasts to archive (created directly: the schedule is not under test here)."""

from __future__ import annotations

import datetime as dt

import pytest

from live.models import BroadcastState
from tests.factories import make_broadcast

JST = dt.timezone(dt.timedelta(hours=9))


# key: (title, host, 課, start in JST, state, description), created in this order
PAST = {
    "a": ("動画のつくりかた 第1回", "host", "動画課", (2026, 10, 5, 12), BroadcastState.ENDED, "スマホで撮る広報動画"),
    "b": ("財政のきほん 予算編成", "fukuoka", "みんなの財政課", (2026, 11, 2, 21), BroadcastState.ENDED, ""),
    "c": ("動画のつくりかた 第2回", "host", "動画課", (2026, 11, 9, 12), BroadcastState.ENDED, ""),
    "future": ("未来の放送", "host", "動画課", (2026, 12, 24, 12), BroadcastState.SCHEDULED, ""),
}


@pytest.fixture
async def past(db, demo):
    """Three ended broadcasts in two months and one still scheduled."""
    return {
        key: await make_broadcast(
            db,
            title=title,
            host_email=f"{host}@example.jp",
            section=section,
            start=dt.datetime(*start, 0, tzinfo=JST),
            state=state,
            description=description,
        )
        for key, (title, host, section, start, state, description) in PAST.items()
    }
