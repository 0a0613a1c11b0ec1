"""Helpers for comment-room tests: broadcasts in a given state, tokens, frame readers."""

from __future__ import annotations

import random
from typing import Any

from core.members import service as members
from live.models import Broadcast, BroadcastState
from tests import factories


async def make_broadcast(db: Any, state: BroadcastState = BroadcastState.LIVE, **kwargs: Any) -> int:
    """tests.factories.make_broadcast with a random id (Redis channels are shared by every test here)."""
    kwargs.setdefault("id", random.randint(10**8, 2**31 - 2))
    return int((await factories.make_broadcast(db, state=state, **kwargs)).id)


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
