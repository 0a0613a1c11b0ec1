"""Reminders before a followed program starts: a durable scheduler step (each member's lead time).

Each tick looks at the broadcasts starting within the longest lead time. The event key carries
the start time, so a moved broadcast reminds again at its new time, and the unsent reminder
for the old time (or for a cancelled broadcast) is withdrawn.
"""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.notify.models import Kind, Target
from core.notify.prefs import MAX_LEAD
from core.notify.service import followers, notify, with_lead_time, withdraw_stale
from core.timefmt import format_jst
from live.models import Broadcast, BroadcastState

WAITING = (BroadcastState.SCHEDULED, BroadcastState.OPEN)


def reminder_key(broadcast_id: int, starts_at: dt.datetime) -> str:
    return f"remind:{broadcast_id}:{starts_at.astimezone(dt.UTC).isoformat()}"


async def program_reminders(db: AsyncSession, now: dt.datetime) -> int:
    """Write the reminders now due; withdraw stale ones; commits. Returns how many were written."""
    upcoming = (
        await db.execute(
            select(Broadcast.id, Broadcast.title, Broadcast.starts_at, Broadcast.program_id, Broadcast.personality_id)
            .where(
                Broadcast.state.in_(WAITING),
                Broadcast.starts_at > now,
                Broadcast.starts_at <= now + dt.timedelta(minutes=MAX_LEAD),
            )
            .order_by(Broadcast.starts_at)
            .limit(200)
        )
    ).all()
    written = 0
    for b in upcoming:
        minutes_left = math.ceil((b.starts_at - now).total_seconds() / 60)
        written += await notify(
            db,
            Kind.PROGRAM_REMINDER,
            with_lead_time(
                followers([(Target.PROGRAM, b.program_id), (Target.PERSONALITY, b.personality_id)]), minutes_left
            ),
            event_key=reminder_key(b.id, b.starts_at),
            title=f"まもなく放送: {b.title}（{format_jst(b.starts_at)} 開始）",
            url=f"/broadcasts/{b.id}",
            now=now,
        )
    await withdraw_stale(db, Kind.PROGRAM_REMINDER, now, _stale)
    await db.commit()
    return written


async def _stale(db: AsyncSession, keys: set[str]) -> list[str]:
    """Keys of reminders with unsent mail whose broadcast was cancelled, moved or removed."""
    ids = {int(k.split(":")[1]) for k in keys}
    current = {
        row.id: (row.state, reminder_key(row.id, row.starts_at))
        for row in (
            await db.execute(select(Broadcast.id, Broadcast.state, Broadcast.starts_at).where(Broadcast.id.in_(ids)))
        ).all()
    }
    stale = []
    for key in keys:
        state, live_key = current.get(int(key.split(":")[1]), (None, None))
        if state is BroadcastState.CANCELLED or state is None or live_key != key:
            stale.append(key)
    return stale
