# size: over 400 lines (the room hot path kept in one file for now); its split into stream/fan-out/presence pieces is the next step in docs/architecture.md.
"""The per-process room registry and fan-out.

Each room keeps `last` (highest position accepted into its stream, gapless) and `flushed`
(highest position written to viewers). Bus messages carry positions; one that skips
ahead parks in `pending` while the gap is read from the database, so every process
delivers the database order with no gap and no duplicate. Comments of one coalescing
window go out as one frame, encoded once, written to every viewer synchronously.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import gc
import logging
import time
import uuid
import weakref
from typing import Any

import msgspec

from core.db import Database
from core.events import EventBus, publish_committed
from live.events import BroadcastStateChanged, broadcast_channel
from live.models import BroadcastState
from live.moderation.events import CommentVisibility, ControlsChanged, MemberRestricted, ModerationNotice
from live.moderation.gate import Rule, rules
from live.moderation.models import ViewerSample
from live.moderation.service import Restriction
from live.rooms import metrics, service
from live.rooms.protocol import (
    REACTION_KINDS,
    BusComment,
    BusPresence,
    BusReactions,
    Comments,
    Controls,
    History,
    Limits,
    ModNotice,
    Presence,
    Reactions,
    Restricted,
    State,
    Visibility,
    Welcome,
    bus_decoder,
    encode,
)
from live.rooms.transport import OutFrame, Sink

log = logging.getLogger("chonai.rooms")

WINDOW = 0.04  # coalescing window (seconds)
TICK = 0.5  # reactions and presence are batched per tick
SWEEP_EVERY = 4  # ticks between database checks for comments the bus lost
BEAT_EVERY = 10  # ticks between presence heartbeats
PRESENCE_TTL = 12.0  # a node that stops beating no longer counts
IDLE_CLOSE = 30.0  # seconds an empty room keeps its subscriptions
HISTORY_CHUNK = 200
SAMPLE_EVERY = 60  # ticks between viewer-count samples (30 s)

#: What arrives on a broadcast's own channel: its state changes and moderation events.
channel_decoder = msgspec.json.Decoder(
    BroadcastStateChanged | ControlsChanged | MemberRestricted | CommentVisibility | ModerationNotice
)
RESTRICTED_MESSAGES = {
    "timed_out": "タイムアウト中のためコメントできません。",
    "banned": "この放送でのコメントが禁止されています。",
    None: "コメントできるようになりました。",
}


def room_channel(broadcast_id: int) -> str:
    return f"room:{broadcast_id}"


class Viewer:
    """One connection in one room; moderators get comments without delay, hidden ones marked."""

    __slots__ = ("checked_at", "member_id", "moderator", "restriction", "room", "sink", "watching")

    def __init__(self, sink: Sink, member_id: int, moderator: bool = False) -> None:
        self.sink = sink
        self.member_id = member_id
        self.moderator = moderator
        # False for the host control page's own feed: it is not part of the audience it counts.
        self.watching = True
        self.room: Room | None = None
        # The member's timeout/ban as last read (kept current by MemberRestricted events).
        self.restriction: Restriction | None = None
        self.checked_at = -1e9


class Room:
    __slots__ = (
        "_controls_again",
        "_controls_task",
        "_delay_handle",
        "_fetch_again",
        "_fetch_task",
        "_flush_handle",
        "_waiters",
        "_write_lock",
        "audience",
        "batch",
        "batch_committed",
        "controls",
        "delayed",
        "empty_since",
        "flushed",
        "hidden",
        "hub",
        "id",
        "last",
        "limits",
        "moderators",
        "nodes",
        "pending",
        "presence_dirty",
        "program_id",
        "public_flushed",
        "reaction_delta",
        "reactions",
        "reactions_dirty",
        "ready",
        "seen_db_last",
        "sent_viewers",
        "state",
        "viewers",
        "words",
        "words_at",
    )

    def __init__(self, hub: Hub, broadcast_id: int) -> None:
        self.hub = hub
        self.id = broadcast_id
        self.ready = False
        self.state = BroadcastState.SCHEDULED
        self.limits = Limits(max_length=0, rate_count=0, rate_seconds=0)
        self.last = 0
        self.flushed = 0
        self.batch: list[msgspec.Raw] = []
        self.batch_committed: list[float] = []
        self.pending: dict[int, BusComment] = {}
        self.viewers: set[Viewer] = set()
        self.audience = 0  # viewers that count as watching (control feeds do not)
        self.reactions: dict[str, int] = dict.fromkeys(REACTION_KINDS, 0)
        self.reaction_delta: dict[str, int] = {}
        self.reactions_dirty = False
        self.nodes: dict[str, tuple[int, float]] = {}
        self.presence_dirty = False
        self.sent_viewers = -1
        self.seen_db_last = 0
        self.empty_since: float | None = time.monotonic()
        self._flush_handle: asyncio.TimerHandle | None = None
        self._fetch_task: asyncio.Task[None] | None = None
        self._fetch_again = False
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._write_lock = asyncio.Lock()
        # Moderation: switches, hidden positions, moderator connections, delayed frames.
        self.program_id: int | None = None
        self.controls = Controls()
        self.hidden: set[int] = set()
        self.moderators = 0
        self.public_flushed = 0  # highest position written to non-moderators
        self.delayed: collections.deque[tuple[float, int, list[tuple[int, msgspec.Raw]]]] = collections.deque()
        self._delay_handle: asyncio.TimerHandle | None = None
        self._controls_task: asyncio.Task[None] | None = None
        self._controls_again = False
        self.words: list[Rule] = []  # blocked-word rules, cached (see live.moderation.gate)
        self.words_at = -1e9

    @property
    def write_lock(self) -> asyncio.Lock:
        """Writers of this process queue here instead of in the database's lock.

        The database serialises a room's writers anyway (row lock / SQLite's one writer);
        waiting in SQLite's busy handler backs off in growing sleeps and wrecks latency.
        """
        return self.hub.sqlite_write_lock or self._write_lock

    # --- bus input (synchronous callbacks) ---------------------------------------------

    def on_bus(self, _channel: str, data: bytes) -> None:
        try:
            message = bus_decoder.decode(data)
        except msgspec.DecodeError:
            log.warning("room %s: undecodable bus message dropped", self.id)
            return
        if isinstance(message, BusComment):
            self.on_comment(message)
        elif isinstance(message, BusReactions):
            for kind, n in message.delta.items():
                if kind in self.reactions:
                    self.reactions[kind] += n
            self.reactions_dirty = True
        else:
            self.nodes[message.node] = (message.viewers, time.monotonic())

    def on_state(self, _channel: str, data: bytes) -> None:
        """The broadcast's channel: state changes and moderation events."""
        try:
            event = channel_decoder.decode(data)
        except msgspec.DecodeError:
            log.warning("room %s: undecodable broadcast event dropped", self.id)
            return
        if isinstance(event, BroadcastStateChanged):
            try:
                state = BroadcastState(event.state)
            except ValueError:
                return
            self.set_state(state)
        elif isinstance(event, CommentVisibility):
            self.on_visibility(event.position, event.hidden)
        elif isinstance(event, ControlsChanged):
            self.refresh_controls()
            self.notify_moderators(ModNotice(kind="controls"))
        elif isinstance(event, MemberRestricted):
            until = service.iso(event.until) if event.until else None
            frame = OutFrame(
                encode(Restricted(code=event.code, message=RESTRICTED_MESSAGES.get(event.code, ""), until=until))
            )
            for viewer in [v for v in self.viewers if v.member_id == event.member_id]:
                viewer.restriction = (
                    Restriction(event.code, RESTRICTED_MESSAGES.get(event.code, ""), event.until)
                    if event.code
                    else None
                )
                viewer.checked_at = time.monotonic()
                if not viewer.sink.write(frame):
                    self.remove(viewer)
            self.notify_moderators(ModNotice(kind="restricted", member_id=event.member_id))
        else:
            if event.kind == "words":
                self.words_at = -1e9  # re-read the rules before the next comment
            self.notify_moderators(ModNotice(kind=event.kind))

    # --- moderation -------------------------------------------------------------------------

    def notify_moderators(self, message: ModNotice) -> None:
        if self.moderators:
            self.broadcast(OutFrame(encode(message)), moderators=True)

    def on_visibility(self, position: int, hidden: bool) -> None:
        if hidden:
            self.hidden.add(position)
            self.broadcast(OutFrame(encode(Visibility(position=position, hidden=True))))
            if self.controls.picked_position == position:
                self.refresh_controls()  # a hidden question is no longer shown as picked
        else:
            self.hidden.discard(position)
            # Moderators have it (marked); viewers need the comment back: read it, then send.
            self.hub.loop.create_task(self._restore(position), name=f"room-{self.id}-restore")
        self.notify_moderators(ModNotice(kind="audit"))

    async def _restore(self, position: int) -> None:
        try:
            async with self.hub.db.session() as db:
                item = await service.comment_at(db, self.id, position, visible_only=True)
        except Exception:
            log.exception("room %s: reading restored comment %s failed", self.id, position)
            return
        if item is None or position in self.hidden or position > self.public_flushed:
            return  # hidden again meanwhile, or not delivered yet (it goes out with its frame)
        self.broadcast(
            OutFrame(encode(Visibility(position=position, hidden=False, item=msgspec.Raw(item)))), moderators=False
        )
        self.broadcast(OutFrame(encode(Visibility(position=position, hidden=False))), moderators=True)
        if self.controls.picked_position is None:
            self.refresh_controls()

    def refresh_controls(self) -> None:
        """Re-read the switches (and the picked question) and tell every viewer; coalesced."""
        if self._controls_task is not None:
            self._controls_again = True
            return
        self._controls_task = self.hub.loop.create_task(self._read_controls(), name=f"room-{self.id}-controls")

    async def _read_controls(self) -> None:
        try:
            while True:
                self._controls_again = False
                async with self.hub.db.session() as db:
                    controls = await service.room_controls(db, self.id)
                if not self._controls_again:
                    break
            if controls != self.controls:
                self.controls = controls
                self.broadcast(OutFrame(encode(controls)))
                if not controls.delay_seconds and self.delayed:
                    self._send_delayed(force=True)
        except Exception:
            log.exception("room %s: reading room controls failed", self.id)
        finally:
            self._controls_task = None

    def _send_delayed(self, force: bool = False) -> None:
        """Write the delayed frames that are due (all of them when the delay was switched off)."""
        if self._delay_handle is not None:
            self._delay_handle.cancel()
        self._delay_handle = None
        now = self.hub.loop.time()
        while self.delayed and (force or self.delayed[0][0] <= now):
            _, last, items = self.delayed.popleft()
            public = [item for position, item in items if position not in self.hidden]
            if public:
                self.broadcast(OutFrame(encode(Comments(public))), moderators=False)
            self.public_flushed = last
        if self.delayed:
            self._delay_handle = self.hub.loop.call_at(self.delayed[0][0], self._send_delayed)

    def set_state(self, state: BroadcastState) -> None:
        if state == self.state:
            return
        self.state = state
        self.broadcast(OutFrame(encode(state_message(state))))

    def on_comment(self, message: BusComment) -> None:
        position = message.position
        if position <= self.last:
            return  # already delivered (read from the database after a gap)
        if self.ready and position == self.last + 1 and self._fetch_task is None:
            self._accept(position, message.item, message.committed)
            if self.pending:
                self._drain_pending()
            return
        self.pending[position] = message
        if self.ready:
            self.catch_up()

    def _accept(self, position: int, item: msgspec.Raw, committed: float | None) -> None:
        self.last = position
        self.batch.append(item)
        if committed is not None:
            self.batch_committed.append(committed)
        if self._flush_handle is None:
            self._flush_handle = self.hub.loop.call_later(self.hub.window, self.flush)

    def _drain_pending(self) -> None:
        pending = self.pending
        while (message := pending.pop(self.last + 1, None)) is not None:
            self._accept(message.position, message.item, message.committed)
        for stale in [p for p in pending if p <= self.last]:
            del pending[stale]

    # --- recovery from the database ---------------------------------------------------------

    def catch_up(self) -> None:
        """Read whatever the database has beyond `last` (gap, bus reconnect, sweep)."""
        if self._fetch_task is not None:
            self._fetch_again = True
            return
        metrics.GAP_FETCHES.inc()
        self._fetch_task = self.hub.loop.create_task(self._fetch(), name=f"room-{self.id}-catch-up")

    async def _fetch(self) -> None:
        empty_reads = 0
        try:
            while True:
                self._fetch_again = False
                async with self.hub.db.session() as db:
                    rows = await service.comments_between(db, self.id, self.last, 2**31 - 1)
                for position, item in rows:
                    if position == self.last + 1:
                        self._accept(position, msgspec.Raw(item), None)
                self._drain_pending()
                if not self._fetch_again and not self.pending:
                    break
                if not self._fetch_again and not rows:
                    empty_reads += 1
                    if empty_reads > 40:  # nothing like it in the database: not a real comment
                        log.error(
                            "room %s: dropping %d bus messages the database does not have", self.id, len(self.pending)
                        )
                        self.pending.clear()
                        break
                    # Parked messages beyond what the database shows yet: read again shortly.
                    await asyncio.sleep(0.05)
        except Exception:
            log.exception("room %s: catch-up read failed; retrying on the next sweep", self.id)
        finally:
            self._fetch_task = None

    # --- fan-out ----------------------------------------------------------------------------

    def flush(self) -> None:
        self._flush_handle = None
        if not self.batch:
            return
        items, self.batch = self.batch, []
        committed, self.batch_committed = self.batch_committed, []
        frame = OutFrame(encode(Comments(items)))
        delay = self.controls.delay_seconds
        first = self.last - len(items) + 1
        if (
            not delay
            and not self.delayed
            and not (self.hidden and any(p in self.hidden for p in range(first, self.last + 1)))
        ):
            self.broadcast(frame)  # the hot path: one frame for everyone
            self.public_flushed = self.last
        else:
            # Moderators now and whole; viewers without hidden comments, `delay` seconds late.
            self.broadcast(frame, moderators=True)
            positioned = list(zip(range(first, self.last + 1), items, strict=True))
            due = self.hub.loop.time() + delay
            if self.delayed:
                due = max(due, self.delayed[-1][0])  # never overtake frames already waiting
            self.delayed.append((due, self.last, positioned))
            if delay:
                if self._delay_handle is None:
                    self._delay_handle = self.hub.loop.call_at(self.delayed[0][0], self._send_delayed)
            else:
                self._send_delayed()
        self.flushed = self.last
        metrics.FRAMES.inc()
        metrics.DELIVERIES.inc(len(items) * len(self.viewers))
        now = time.time()
        for t in committed:
            metrics.FANOUT_LATENCY.observe(max(0.0, now - t))
        if self._waiters:
            still = []
            for position, future in self._waiters:
                if position <= self.flushed:
                    if not future.done():
                        future.set_result(None)
                else:
                    still.append((position, future))
            self._waiters = still

    def broadcast(self, frame: OutFrame, moderators: bool | None = None) -> None:
        """Write to every viewer, or only to moderators (True) / only to the others (False)."""
        dropped = None
        for viewer in self.viewers:
            if moderators is not None and viewer.moderator is not moderators:
                continue
            if not viewer.sink.write(frame):
                dropped = dropped or []
                dropped.append(viewer)
        if dropped:
            for viewer in dropped:
                self.remove(viewer)

    async def wait_flushed(self, position: int, within: float) -> bool:
        if position <= self.flushed:
            return True
        future: asyncio.Future[None] = self.hub.loop.create_future()
        self._waiters.append((position, future))
        try:
            await asyncio.wait_for(future, within)
        except TimeoutError:
            return False
        return True

    # --- membership -----------------------------------------------------------------------------

    def add(self, viewer: Viewer) -> None:
        viewer.room = self
        self.viewers.add(viewer)
        self.moderators += viewer.moderator
        self.audience += viewer.watching
        self.empty_since = None
        self.presence_dirty = True

    def remove(self, viewer: Viewer) -> None:
        if viewer in self.viewers:
            self.viewers.discard(viewer)
            self.moderators -= viewer.moderator
            self.audience -= viewer.watching
            self.presence_dirty = True
            if not self.viewers:
                self.empty_since = time.monotonic()
        viewer.room = None

    def viewer_count(self) -> int:
        now = time.monotonic()
        total = self.audience
        for node, (count, seen) in list(self.nodes.items()):
            if node == self.hub.node:
                continue
            if now - seen > PRESENCE_TTL:
                del self.nodes[node]
            else:
                total += count
        return total


def state_message(state: BroadcastState) -> State:
    return State(state=state.value, label=state.label, accepting=state in service.ACCEPTING)


class Hub:
    """All rooms of this process; one bus subscription per room channel."""

    def __init__(self, db: Database, bus: EventBus, window: float = WINDOW) -> None:
        self.db = db
        self.bus = bus
        self.window = window
        self.sample_every = SAMPLE_EVERY
        self.node = uuid.uuid4().hex[:12]
        self.rooms: dict[int, Room] = {}
        # SQLite has one writer for all rooms: one queue per process.
        self.sqlite_write_lock = asyncio.Lock() if db.url.startswith("sqlite") else None
        self._creating: dict[int, asyncio.Future[Room | None]] = {}
        self.loop = asyncio.get_running_loop()
        self._ticker: asyncio.Task[None] | None = self.loop.create_task(self._tick(), name="room-hub-ticker")
        bus.on_reconnect(self._on_bus_reconnect)
        # Everything allocated so far (modules, the app) lives forever: keep it out of the
        # cyclic GC's full collections, whose pauses otherwise show up as fan-out latency.
        gc.freeze()

    async def close(self) -> None:
        self.bus.remove_reconnect(self._on_bus_reconnect)
        if self.loop is not asyncio.get_running_loop():
            self.detach()
            return
        if self._ticker:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for room in list(self.rooms.values()):
            if room._fetch_task:
                room._fetch_task.cancel()
            if room._flush_handle:
                room._flush_handle.cancel()
            if room._delay_handle:
                room._delay_handle.cancel()
            if room._controls_task:
                room._controls_task.cancel()
        self.rooms.clear()

    def detach(self) -> None:
        """Drop this hub's rooms without awaiting (its loop is gone): callbacks and hooks leave the bus."""
        self.bus.remove_reconnect(self._on_bus_reconnect)
        for room in self.rooms.values():
            for channel, callback in (
                (room_channel(room.id), room.on_bus),
                (broadcast_channel(room.id), room.on_state),
            ):
                remove = getattr(self.bus, "remove", None)
                if remove is not None:
                    remove(channel, callback)
        self.rooms.clear()

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
        except BaseException:
            await self._unsubscribe(room)
            raise
        if info is None:
            await self._unsubscribe(room)
            return None
        room.state = info.state
        room.limits = info.limits
        room.last = room.flushed = room.public_flushed = room.seen_db_last = info.last_position
        room.program_id = info.program_id
        room.controls = controls
        room.hidden.update(hidden)
        room.words, room.words_at = words, time.monotonic()
        for kind, n in reactions.items():
            room.reactions[kind] += n
        room.ready = True
        if room.pending:
            room._drain_pending()
            if room.pending:
                room.catch_up()
        self.rooms[broadcast_id] = room
        metrics.ROOMS.set(len(self.rooms))
        return room

    async def _unsubscribe(self, room: Room) -> None:
        await self.bus.unsubscribe(room_channel(room.id), room.on_bus)
        await self.bus.unsubscribe(broadcast_channel(room.id), room.on_state)

    async def join(
        self, viewer: Viewer, room: Room, member_id: int, after: int | None, restriction: Restricted | None = None
    ) -> None:
        """Send welcome and history, then register the viewer: no gap, no duplicate.

        Non-moderators get what was written to non-moderators (`public_flushed`: the
        moderation delay holds the rest back) without hidden comments; moderators get
        everything, with the hidden positions to mark.
        """
        moderator = viewer.moderator
        visible_only = not moderator
        if after is not None and after > room.flushed:
            if after > room.last:
                async with self.db.session() as db:
                    db_last = (await service.room_states(db, [room.id])).get(room.id, (0, room.state))[0]
                if after > db_last:
                    raise service.RoomError(
                        "invalid_position", "再開位置が正しくありません。最新のコメントから表示し直します。"
                    )
                room.catch_up()  # another process delivered it already; we are behind the database
            if not await room.wait_flushed(after, 10.0):
                raise service.RoomError(
                    "unavailable", "コメントの同期が遅れています。少し待ってから再接続してください。"
                )

        def written() -> int:
            return room.flushed if moderator else room.public_flushed

        target = written()
        async with self.db.session() as db:
            if after is None:
                rows = await service.recent_comments(db, room.id, target, visible_only=visible_only)
            else:
                rows = await service.comments_between(db, room.id, after, target, visible_only=visible_only)
        # More went out while we read (closing the session awaits too): read those as well.
        # The last check of what was written must come after the last await before `room.add`.
        while written() > target:
            upto = written()
            async with self.db.session() as db:
                rows += await service.comments_between(db, room.id, target, upto, visible_only=visible_only)
            target = upto
        # From here to `room.add` nothing awaits: the viewer gets exactly (after, target] then live.
        sink = viewer.sink
        sink.write(
            OutFrame(
                encode(
                    Welcome(
                        room=room.id,
                        member_id=member_id,
                        state=room.state.value,
                        state_label=room.state.label,
                        last_position=target,
                        viewers=room.viewer_count() + viewer.watching,
                        reactions=room.reactions,
                        limits=room.limits,
                        moderator=moderator,
                        controls=room.controls,
                        hidden=sorted(room.hidden),
                        restriction=restriction,
                    )
                )
            )
        )
        chunks = [rows[i : i + HISTORY_CHUNK] for i in range(0, len(rows), HISTORY_CHUNK)] or [[]]
        for i, chunk in enumerate(chunks):
            history = History(
                items=[msgspec.Raw(item) for _, item in chunk],
                resumed=after is not None,
                last_position=target if i == len(chunks) - 1 else None,
            )
            sink.write(OutFrame(encode(history)))
        room.add(viewer)

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

    def _samples_room(self, room: Room) -> bool:
        """One process records a room's viewer count: the lowest node id still beating."""
        now = time.monotonic()
        live = [node for node, (_, seen) in room.nodes.items() if now - seen <= PRESENCE_TTL]
        return self.node <= min(live, default=self.node)

    async def _tick_once(self, sweep: bool, beat: bool, sample: bool = False) -> None:
        rooms = list(self.rooms.values())
        for room in rooms:
            if room.reaction_delta:
                delta, room.reaction_delta = room.reaction_delta, {}
                async with self.db.session() as db:  # stored first: a published count is a durable one
                    await service.add_reactions(db, room.id, delta)
                await publish_committed(self.bus, room_channel(room.id), encode(BusReactions(delta)))
            if room.presence_dirty or beat:
                room.presence_dirty = False
                await self.bus.publish(room_channel(room.id), encode(BusPresence(self.node, room.audience)))
            if room.reactions_dirty:
                room.reactions_dirty = False
                room.broadcast(OutFrame(encode(Reactions(counts=room.reactions))))
            count = room.viewer_count()
            if count != room.sent_viewers:
                room.sent_viewers = count
                room.broadcast(OutFrame(encode(Presence(viewers=count))))
            if sample and room.ready and self._samples_room(room):
                try:
                    async with self.db.session() as db:
                        await record_viewers(db, room.id, count)
                except Exception:  # e.g. two processes sampled the same second: skip this one
                    log.warning("room %s: viewer sample not recorded", room.id, exc_info=True)
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
                await self._unsubscribe(room)
        metrics.ROOMS.set(len(self.rooms))

    def react(self, room: Room, kind: str) -> None:
        room.reaction_delta[kind] = room.reaction_delta.get(kind, 0) + 1


async def record_viewers(db: Any, broadcast_id: int, viewers: int) -> None:
    """One viewer-count sample (the control page's graph)."""
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    await db.merge(ViewerSample(broadcast_id=broadcast_id, at=at, viewers=viewers))
    await db.commit()


async def publish_comment(bus: EventBus, broadcast_id: int, posted: service.Posted) -> None:
    """Fan a stored comment out to every process (after commit; the sweep covers a lost publish)."""
    await publish_committed(
        bus, room_channel(broadcast_id), encode(BusComment(posted.position, posted.committed, msgspec.Raw(posted.item)))
    )


def hub_for(app: Any) -> Hub:
    """The hub of this app on the running event loop, created on first use.

    A server process has one loop, hence one hub; the test client runs sessions on loops
    of their own, and a hub must never schedule work on a loop that is not running.
    """
    loop = asyncio.get_running_loop()
    hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] | None = getattr(app.state, "room_hubs", None)
    if hubs is None:
        hubs = weakref.WeakKeyDictionary()
        app.state.room_hubs = hubs
    hub = hubs.get(loop)
    if hub is None:
        for stale_loop, stale in list(hubs.items()):
            if stale_loop.is_closed() or not stale_loop.is_running():
                stale.detach()
                del hubs[stale_loop]
        hub = hubs[loop] = Hub(app.state.db, app.state.bus)
        app.on_shutdown.append(hub.close)
    return hub
