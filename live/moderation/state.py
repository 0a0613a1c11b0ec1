"""Open / go live / end from the control page.

SEAM: the schedule helper (issue 3) adds `live.schedule.transitions.transition` with this
exact signature and behaviour; when it is merged, `change_state` should simply call it.
Until then this is a faithful minimal copy: a conditional UPDATE (idempotent, race-safe),
commit, then BroadcastStateChanged on the schedule channel and the broadcast's channel
(every room relays it to its viewers).
"""

from __future__ import annotations

import logging

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.events import EventBus
from core.members.models import Member
from live.events import SCHEDULE_CHANNEL, BroadcastStateChanged, broadcast_channel
from live.models import Broadcast, BroadcastState
from live.moderation.service import ModerationError

log = logging.getLogger("chonai.moderation")

S = BroadcastState
SOURCES = {
    S.OPEN: frozenset({S.SCHEDULED}),
    S.LIVE: frozenset({S.SCHEDULED, S.OPEN}),
    S.ENDED: frozenset({S.SCHEDULED, S.OPEN, S.LIVE}),
}
STAMPS = {S.OPEN: "opened_at", S.LIVE: "live_at", S.ENDED: "ended_at"}


async def change_state(
    db: AsyncSession, bus: EventBus, broadcast_id: int, to_state: BroadcastState, actor: Member | None = None
) -> tuple[Broadcast, bool]:
    """Move the broadcast to `to_state` (open, live, ended); returns it and whether it changed."""
    if to_state not in SOURCES:
        raise ModerationError("invalid_state", "指定できる状態は「開場」「放送開始」「終了」です。")
    now = utcnow()
    result = await db.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.state.in_(SOURCES[to_state]))
        .values(state=to_state, **{STAMPS[to_state]: now})
        .execution_options(synchronize_session=False)
    )
    changed = bool(getattr(result, "rowcount", 0))
    await db.commit()
    broadcast = (
        await db.execute(
            select(Broadcast).where(Broadcast.id == broadcast_id).execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if broadcast is None:
        raise ModerationError("not_found", "放送が見つかりません。", 404)
    if not changed:
        if broadcast.state is to_state:
            return broadcast, False
        raise ModerationError(
            "invalid_transition", f"現在の状態（{broadcast.state.label}）からは「{to_state.label}」にできません。", 409
        )
    log.info("broadcast %s -> %s by member %s", broadcast_id, to_state.value, actor.id if actor else None)
    event = BroadcastStateChanged(
        broadcast_id=broadcast.id,
        state=broadcast.state.value,
        at=now,
        starts_at=broadcast.starts_at,
        ends_at=broadcast.ends_at,
        title=broadcast.title,
    )
    data = msgspec.json.encode(event)
    for channel in (SCHEDULE_CHANNEL, broadcast_channel(broadcast.id)):
        try:
            await bus.publish(channel, data)
        except Exception:  # committed; rooms re-read the state on their sweep
            log.exception("could not publish %s on %s", event.state, channel)
    return broadcast, True
