"""Past broadcasts to archive (created directly: the schedule is not under test here)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.members.models import Member
from core.sections import Section
from live.models import Broadcast, BroadcastState, Program

JST = dt.timezone(dt.timedelta(hours=9))


async def make_broadcast(db, *, title, host_email, section, start, state=BroadcastState.ENDED, description=""):
    host = (await db.execute(select(Member).where(Member.email == host_email))).scalar_one()
    sec = (await db.execute(select(Section).where(Section.name == section))).unique().scalar_one()
    program = Program(
        title=title.split(" ")[0], section_id=sec.id, personality_id=host.id, dtstart=start, duration_minutes=60
    )
    db.add(program)
    await db.flush()
    broadcast = Broadcast(
        program_id=program.id,
        title=title,
        description=description,
        personality_id=host.id,
        starts_at=start,
        ends_at=start + dt.timedelta(hours=1),
        opens_at=start - dt.timedelta(minutes=10),
        state=state,
        live_at=start if state is BroadcastState.ENDED else None,
        ended_at=start + dt.timedelta(hours=1) if state is BroadcastState.ENDED else None,
    )
    db.add(broadcast)
    await db.commit()
    return broadcast


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
