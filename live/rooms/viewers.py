"""Who is in a room, and writing one frame to all of them: the base every room part stacks on.

A room is one class built in layers, each in a module of its own (`live.rooms.room.Room`):
viewers (here) < presence and reactions < moderation < fan-out < stream < room. Each layer
owns its `__slots__` and may use the layers below it, never the ones above.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from core.db import Database
from core.events import EventBus
from core.writer_threads import WriterThread
from live.moderation.sanctions import Restriction
from live.rooms.transport import OutFrame, Sink


class RoomHost(Protocol):
    """What a room needs of the hub that holds it (`live.rooms.hub.Hub`)."""

    loop: asyncio.AbstractEventLoop
    db: Database
    bus: EventBus
    node: str  # this process's id in presence beats
    window: float  # coalescing window (seconds)
    comment_writer: WriterThread | None  # the thread this process commits comment batches on


class Viewer:
    """One connection in one room; moderators get comments without delay, hidden ones marked."""

    __slots__ = ("checked_at", "member_id", "moderator", "restriction", "room", "sink", "watching")

    def __init__(self, sink: Sink, member_id: int, moderator: bool = False) -> None:
        self.sink = sink
        self.member_id = member_id
        self.moderator = moderator
        # False for the host control page's own feed: it is not part of the audience it counts.
        self.watching = True
        self.room: RoomViewers | None = None
        # The member's timeout/ban as last read (kept current by MemberRestricted events).
        self.restriction: Restriction | None = None
        self.checked_at = -1e9


class RoomViewers:
    """A room's identity and its viewers: add, remove, and write one frame to each."""

    __slots__ = ("audience", "empty_since", "hub", "id", "moderators", "presence_dirty", "ready", "viewers")

    def __init__(self, hub: RoomHost, broadcast_id: int) -> None:
        self.hub = hub
        self.id = broadcast_id
        # Set by the hub once the room's state is read: bus messages before that only park.
        self.ready = False
        self.viewers: set[Viewer] = set()
        self.moderators = 0
        self.audience = 0  # viewers that count as watching (control feeds do not)
        self.presence_dirty = False  # membership changed since the last presence beat
        self.empty_since: float | None = time.monotonic()

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

    def broadcast(self, frame: OutFrame, moderators: bool | None = None) -> None:
        """Write to every viewer, or only to moderators (True) / only to the others (False).

        A sink that refuses (its viewer is too far behind) costs the viewer its place: it resumes.
        """
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
