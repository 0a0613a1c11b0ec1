"""Study sessions follow their broadcast: when it ends, the session ends and its FAQ draft is compiled."""

from __future__ import annotations

import asyncio
import logging

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database, utcnow
from core.events import EventBus
from faq import board, search
from faq.documents import compile_draft
from faq.models import SessionState, StudySession
from live.public import SCHEDULE_CHANNEL, BroadcastStateChanged

log = logging.getLogger("chonai.faq")


async def end_sessions_of_broadcast(db: AsyncSession, bus: EventBus, broadcast_id: int) -> list[int]:
    """End every unfinished session of the broadcast; each one exactly once across processes."""
    ids = (
        await db.execute(
            select(StudySession.id).where(
                StudySession.broadcast_id == broadcast_id, StudySession.state != SessionState.ENDED
            )
        )
    ).scalars()
    ended = []
    for session_id in list(ids):
        # Conditional claim: of several processes hearing the same event, one wins.
        claimed = await db.execute(
            update(StudySession)
            .where(StudySession.id == session_id, StudySession.state != SessionState.ENDED)
            .values(state=SessionState.ENDED, ended_at=utcnow(), answering_id=None)
            .execution_options(synchronize_session=False)
        )
        if not getattr(claimed, "rowcount", 0):
            await db.commit()
            continue
        session = await db.get_one(StudySession, session_id)
        await db.refresh(session)
        await search.sync_session(db, session)  # answered questions become searchable with the end
        await db.commit()
        await board.board_changed(db, bus, session)
        await compile_draft(db, session)
        ended.append(session_id)
        log.info("study session %s ended with its broadcast %s", session_id, broadcast_id)
    return ended


class BroadcastListener:
    """Subscribes to the schedule channel in each web process (started from the app's lifespan)."""

    def __init__(self, db: Database, bus: EventBus) -> None:
        self.db = db
        self.bus = bus
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.bus.subscribe(SCHEDULE_CHANNEL, self._on_event)

    async def stop(self) -> None:
        await self.bus.unsubscribe(SCHEDULE_CHANNEL, self._on_event)
        for task in list(self.tasks):
            task.cancel()

    def _on_event(self, _channel: str, data: bytes) -> None:
        try:
            event = msgspec.json.decode(data, type=BroadcastStateChanged)
        except msgspec.DecodeError:
            return
        if event.state == "ended":
            task = asyncio.get_running_loop().create_task(self._end(event.broadcast_id))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _end(self, broadcast_id: int) -> None:
        try:
            async with self.db.session() as db:
                await end_sessions_of_broadcast(db, self.bus, broadcast_id)
        except Exception:  # the page-open fallback in faq.pages still ends it later
            log.exception("ending the study sessions of broadcast %s failed", broadcast_id)
