"""Helpers for comment-room tests: broadcasts in a given state, tokens, frame readers."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from core.db import utcnow
from core.members import service as members
from live.models import Broadcast, BroadcastState


async def make_broadcast(db: Any, state: BroadcastState = BroadcastState.LIVE, **kwargs: Any) -> int:
    """A broadcast with a random id: Redis channels are shared by every test on this machine."""
    now = utcnow()
    broadcast = Broadcast(
        id=kwargs.pop("id", random.randint(10**8, 2**31 - 2)),
        title=kwargs.pop("title", "ワクチン接種 体制づくり相談会"),
        starts_at=now - dt.timedelta(minutes=5),
        ends_at=now + dt.timedelta(hours=1),
        opens_at=now - dt.timedelta(minutes=15),
        state=state,
        live_at=now - dt.timedelta(minutes=5) if state is BroadcastState.LIVE else None,
        **kwargs,
    )
    db.add(broadcast)
    await db.commit()
    return int(broadcast.id)


async def set_state(db: Any, broadcast_id: int, state: BroadcastState) -> None:
    broadcast = await db.get(Broadcast, broadcast_id)
    broadcast.state = state
    await db.commit()


async def member(db: Any, email: str) -> Any:
    """A detached member, like the one the auth middleware hands to handlers."""
    found = await members.get_by_email(db, email)
    assert found is not None
    db.expunge(found)
    return found


async def token_for(db: Any, email: str) -> str:
    _, raw = await members.create_api_token(db, await member(db, email), "test")
    return raw
