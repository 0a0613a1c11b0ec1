"""The one place a broadcast changes state: a conditional UPDATE, commit, then publish.

Every transition is idempotent: asking for the state a broadcast is already in changes
nothing and publishes nothing. Two schedulers (or a scheduler and a host) racing for the
same transition both succeed, but only the one whose UPDATE matched publishes.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.errors import Refusal
from core.events import EventBus, publish_committed
from core.members.models import Member
from core.notify.models import Kind, Target
from core.notify.service import followers, notify
from live import search_feed
from live.events import SCHEDULE_CHANNEL, BroadcastStateChanged, broadcast_channel
from live.models import Broadcast, BroadcastState

log = logging.getLogger("chonai.schedule")

S = BroadcastState
#: Target state -> the states it may be reached from.
SOURCES: dict[BroadcastState, frozenset[BroadcastState]] = {
    S.OPEN: frozenset({S.SCHEDULED}),
    S.LIVE: frozenset({S.SCHEDULED, S.OPEN}),
    # From SCHEDULED only when the scheduler catches up on a broadcast that passed entirely.
    S.ENDED: frozenset({S.SCHEDULED, S.OPEN, S.LIVE}),
    S.CANCELLED: frozenset({S.SCHEDULED, S.OPEN}),
    # Re-instating a cancelled occurrence (its exception was removed) before it starts.
    S.SCHEDULED: frozenset({S.CANCELLED}),
}
_STAMP = {S.OPEN: "opened_at", S.LIVE: "live_at", S.ENDED: "ended_at"}


class TransitionError(Refusal):
    """The broadcast cannot go to that state from where it is (message in Japanese); 409, or 404 if it is gone."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, 404 if code == "not_found" else 409)


@dataclass(frozen=True, slots=True)
class TransitionResult:
    broadcast: Broadcast
    changed: bool


def event_for(broadcast: Broadcast, at: dt.datetime) -> BroadcastStateChanged:
    return BroadcastStateChanged(
        broadcast_id=broadcast.id,
        state=broadcast.state.value,
        label=broadcast.state.label,
        at=at,
        starts_at=broadcast.starts_at,
        ends_at=broadcast.ends_at,
        title=broadcast.title,
    )


async def publish_state(bus: EventBus, event: BroadcastStateChanged) -> None:
    """Publish on the schedule channel and on the broadcast's own channel (never raises)."""
    data = msgspec.json.encode(event)
    for channel in (SCHEDULE_CHANNEL, broadcast_channel(event.broadcast_id)):
        await publish_committed(bus, channel, data)  # the state is committed; pages re-read it on reconnect


async def _notify_live(db: AsyncSession, broadcast_id: int, now: dt.datetime) -> None:
    """Followers of the program and of the personality on air hear that it started (one INSERT … SELECT)."""
    row = (
        await db.execute(
            select(Broadcast.title, Broadcast.program_id, Broadcast.personality_id).where(Broadcast.id == broadcast_id)
        )
    ).one()
    await notify(
        db,
        Kind.PROGRAM_LIVE,
        followers([(Target.PROGRAM, row.program_id), (Target.PERSONALITY, row.personality_id)]),
        event_key=f"live:{broadcast_id}",
        title=f"放送が始まりました: {row.title}",
        url=f"/broadcasts/{broadcast_id}",
        now=now,
    )


async def transition(
    db: AsyncSession,
    bus: EventBus,
    broadcast_id: int,
    to_state: BroadcastState,
    actor: Member | None = None,
    now: dt.datetime | None = None,
) -> TransitionResult:
    """Move a broadcast to `to_state`; commit; publish BroadcastStateChanged on both channels."""
    now = now or utcnow()
    sources = SOURCES[to_state]
    values: dict[str, object] = {"state": to_state}
    if to_state in _STAMP:
        values[_STAMP[to_state]] = now
    if to_state is S.SCHEDULED:
        values.update(opened_at=None, live_at=None, ended_at=None)
    result = await db.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.state.in_(sources))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    changed = bool(getattr(result, "rowcount", 0))
    if changed:  # an ended broadcast is archived: searchable in the same transaction
        await search_feed.sync_broadcast(db, broadcast_id)
    if changed and to_state is S.LIVE:
        await _notify_live(db, broadcast_id, now)  # in the same transaction as the state change
    await db.commit()
    broadcast = (
        await db.execute(
            select(Broadcast).where(Broadcast.id == broadcast_id).execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if broadcast is None:
        raise TransitionError("not_found", "放送が見つかりません。")
    if not changed:
        if broadcast.state is to_state:
            return TransitionResult(broadcast, False)
        raise TransitionError(
            "invalid_transition",
            f"現在の状態（{broadcast.state.label}）からは「{to_state.label}」にできません。",
        )
    log.info(
        "broadcast %s -> %s%s",
        broadcast_id,
        to_state.value,
        f" by member {actor.id}" if actor else "",
        extra={"broadcast_id": broadcast_id, "state": to_state.value},
    )
    await publish_state(bus, event_for(broadcast, now))
    return TransitionResult(broadcast, True)
