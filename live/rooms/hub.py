"""The per-process room registry: one `Hub` per server process, built in the app's lifespan.

The hub creates a room on its first join (subscribing before it reads the room's state, so
nothing published in between is lost), runs the periodic work of every room (reactions,
presence, viewer samples, the sweep that catches what the bus lost) and closes idle rooms.
What a room does is in its layers: `live.rooms.room` lists them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from core.db import Database
from core.events import EventBus
from core.writer_threads import writer_thread
from live.events import broadcast_channel
from live.moderation.gate import rules
from live.rooms import joining, metrics, service
from live.rooms.fanout import WINDOW
from live.rooms.protocol import Controls, Restricted, room_channel
from live.rooms.room import Room
from live.rooms.stream import RECENT
from live.rooms.viewers import Viewer
from live.rooms.visits import VisitLog

log = logging.getLogger("chonai.rooms")

TICK = 0.5  # reactions and presence are batched per tick
SWEEP_EVERY = 4  # ticks between database checks for comments the bus lost
BEAT_EVERY = 10  # ticks between presence heartbeats
IDLE_CLOSE = 30.0  # seconds an empty room keeps its subscriptions
SAMPLE_EVERY = 60  # ticks between viewer-count samples (30 s)


class Hub:
    """All rooms of this process; one bus subscription per room channel.

    Bound to the event loop it was built on (its ticker and every room's timers run there).
    """

    def __init__(self, db: Database, bus: EventBus, window: float = WINDOW) -> None:
        self.db = db
        self.bus = bus
        self.window = window
        self.sample_every = SAMPLE_EVERY
        self.node = uuid.uuid4().hex[:12]
        self.rooms: dict[int, Room] = {}
        # Comment batches commit on a thread of their own: under the room's lock they wait for no loop turn.
        self.comment_writer = writer_thread(db.url, db.pool_size)
        self._creating: dict[int, asyncio.Future[Room | None]] = {}
        self.loop = asyncio.get_running_loop()
        self.visits = VisitLog(db, self.loop)  # who joined, written once a second
        self._ticker: asyncio.Task[None] | None = self.loop.create_task(self._tick(), name="room-hub-ticker")
        bus.on_reconnect(self._on_bus_reconnect)

    async def close(self) -> None:
        """Stop the ticker and every room's timers; the rooms' callbacks leave the bus."""
        self.bus.remove_reconnect(self._on_bus_reconnect)
        if self._ticker:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for room in list(self.rooms.values()):
            await room.writer.close()  # a comment still waiting is answered `unavailable`, not lost silently
            room.cancel_timers()
            # Synchronous: the bus itself closes next (a bus shared with another hub keeps its own).
            self.bus.remove(room_channel(room.id), room.on_bus)
            self.bus.remove(broadcast_channel(room.id), room.on_state)
        self.rooms.clear()
        await self.visits.close()
        if self.comment_writer is not None:
            self.comment_writer.close()

    def _on_bus_reconnect(self) -> None:
        # Pub/sub is at-most-once: after an outage, read what was missed from the database.
        for room in self.rooms.values():
            if room.ready:
                room.catch_up()
                room.refresh_controls()

    async def room(self, broadcast_id: int) -> Room | None:
        room = self.rooms.get(broadcast_id)
        if room is not None:
            return room
        creating = self._creating.get(broadcast_id)
        if creating is not None:
            return await asyncio.shield(creating)
        future: asyncio.Future[Room | None] = self.loop.create_future()
        self._creating[broadcast_id] = future
        try:
            room = await self._create(broadcast_id)
            future.set_result(room)
            return room
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it
            raise
        finally:
            del self._creating[broadcast_id]

    async def _create(self, broadcast_id: int) -> Room | None:
        room = Room(self, broadcast_id)
        # Subscribe first, then read the position: anything published in between parks in `pending`.
        await self.bus.subscribe(room_channel(broadcast_id), room.on_bus)
        await self.bus.subscribe(broadcast_channel(broadcast_id), room.on_state)
        try:
            async with self.db.session() as db:
                info = await service.room_info(db, broadcast_id)
                reactions = await service.reaction_totals(db, broadcast_id) if info else {}
                controls = await service.room_controls(db, broadcast_id) if info else Controls()
                hidden = await service.hidden_positions(db, broadcast_id) if info else []
                words = await rules(db, info.program_id) if info else []
                last = info.last_position if info else 0
                recent = await service.comments_between(db, broadcast_id, max(0, last - RECENT), last) if info else []
        except BaseException:
            await self._unsubscribe(room)
            raise
        if info is None:
            await self._unsubscribe(room)
            return None
        room.state = info.state
        room.limits = info.limits
        room.program_id = info.program_id
        room.controls = controls
        room.hidden.update(hidden)
        room.words, room.words_at = words, time.monotonic()
        for kind, n in reactions.items():
            room.reactions[kind] += n
        room.start_at(info.last_position, recent)
        self.rooms[broadcast_id] = room
        metrics.ROOMS.set(len(self.rooms))
        return room

    async def _unsubscribe(self, room: Room) -> None:
        await self.bus.unsubscribe(room_channel(room.id), room.on_bus)
        await self.bus.unsubscribe(broadcast_channel(room.id), room.on_state)

    async def join(
        self, viewer: Viewer, room: Room, member_id: int, after: int | None, restriction: Restricted | None = None
    ) -> None:
        """Welcome, history, then live (`live.rooms.joining.join`)."""
        await joining.join(self.db, viewer, room, member_id, after, restriction)

    # --- periodic work ------------------------------------------------------------------------

    async def _tick(self) -> None:
        n = 0
        while True:
            await asyncio.sleep(TICK)
            n += 1
            try:
                await self._tick_once(
                    sweep=n % SWEEP_EVERY == 0, beat=n % BEAT_EVERY == 0, sample=n % self.sample_every == 1
                )
            except Exception:
                log.exception("room hub tick failed")

    async def _tick_once(self, sweep: bool, beat: bool, sample: bool = False) -> None:
        rooms = list(self.rooms.values())
        for room in rooms:
            await room.tick(beat, sample)
        if sweep and rooms:
            await self._sweep(rooms)

    async def _sweep(self, rooms: list[Room]) -> None:
        async with self.db.session() as db:
            states = await service.room_states(db, [r.id for r in rooms])
        now = time.monotonic()
        for room in rooms:
            db_last, state = states.get(room.id, (room.last, room.state))
            # Committed for a whole sweep and still not here: the bus lost it.
            if room.ready and room.seen_db_last > room.last:
                room.catch_up()
            room.seen_db_last = db_last
            room.set_state(state)
            if room.empty_since is not None and now - room.empty_since > IDLE_CLOSE and not room.pending:
                del self.rooms[room.id]
                self.visits.forget(room.id)
                await self._unsubscribe(room)
        metrics.ROOMS.set(len(self.rooms))


# --- the app's lifespan builds the hub; the room socket asks for it -------------------------


@contextlib.asynccontextmanager
async def serve_rooms(app: Any, db: Database, bus: EventBus) -> AsyncIterator[Hub]:
    """Run by the app's lifespan (web/app.py): the hub of the event loop that serves its sockets.

    A server process has one loop, hence one hub. Litestar's test clients each run the
    lifespan and their sockets on a loop of their own, so hubs are kept per loop.
    """
    hubs: dict[asyncio.AbstractEventLoop, Hub] | None = getattr(app.state, "room_hubs", None)
    if hubs is None:
        hubs = app.state.room_hubs = {}
    loop = asyncio.get_running_loop()
    hub = hubs[loop] = Hub(db, bus)
    try:
        yield hub
    finally:
        del hubs[loop]
        await hub.close()


def hub_of(app: Any) -> Hub | None:
    """The hub the lifespan built for the running loop (None when the lifespan did not run)."""
    hubs: dict[asyncio.AbstractEventLoop, Hub] | None = getattr(app.state, "room_hubs", None)
    return hubs.get(asyncio.get_running_loop()) if hubs else None
