"""Open / go live / end from the control page, through the schedule's one transition function."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.events import EventBus
from core.members.models import Member
from live.models import Broadcast, BroadcastState
from live.moderation.service import ModerationError
from live.schedule.transitions import TransitionError, transition

HOST_STATES = frozenset({BroadcastState.OPEN, BroadcastState.LIVE, BroadcastState.ENDED})


async def change_state(
    db: AsyncSession, bus: EventBus, broadcast_id: int, to_state: BroadcastState, actor: Member | None = None
) -> tuple[Broadcast, bool]:
    """Move the broadcast to open, live or ended; returns it and whether it changed."""
    if to_state not in HOST_STATES:
        raise ModerationError("invalid_state", "指定できる状態は「開場」「放送開始」「終了」です。")
    try:
        result = await transition(db, bus, broadcast_id, to_state, actor=actor)
    except TransitionError as exc:
        raise ModerationError(exc.code, exc.message, 404 if exc.code == "not_found" else 409) from None
    return result.broadcast, result.changed
