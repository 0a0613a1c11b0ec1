"""Rows tests need but whose own features are tested elsewhere."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.members.models import Member
from core.sections import Section
from live.models import Broadcast, BroadcastState, Program


async def member_id(db, email: str) -> int:
    return (await db.execute(select(Member.id).where(Member.email == email))).scalar_one()


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
    from live.search_feed import sync_broadcast

    await sync_broadcast(db, broadcast.id)  # inserted directly, so index it as ending would have
    await db.commit()
    return broadcast
