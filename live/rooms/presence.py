"""Presence and reactions of a room: viewer counts across processes, applause, viewer samples.

Each process beats its own audience on the room's bus channel (`BusPresence`) and adds up
the beats of the others; reactions are summed per tick, stored, then published
(`BusReactions`), so a count a viewer sees is a durable one. Both reach viewers at most once
per tick (`tick`, driven by the hub), and in a large room less often: every such frame is one
write per viewer, so a 10,000-viewer room whose count changes every tick would spend 20,000
writes a second on it. `update_pause` spaces them so a room writes about `COUNT_WRITES_PER_S`
of them a second whatever its size (2,000 viewers: every 2 s; the largest rooms: every 10 s).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from core.events import publish_committed
from live.moderation.models import ViewerSample
from live.rooms import service
from live.rooms.protocol import REACTION_KINDS, BusPresence, BusReactions, Presence, Reactions, encode, room_channel
from live.rooms.transport import OutFrame
from live.rooms.viewers import RoomHost, RoomViewers

log = logging.getLogger("chonai.rooms")

PRESENCE_TTL = 12.0  # a node that stops beating no longer counts
COUNT_WRITES_PER_S = 1000  # viewer-count and reaction frames written per second per room, about
MAX_UPDATE_PAUSE = 10.0  # seconds: even the largest room hears of its count this often


def update_pause(audience: int) -> float:
    """Seconds between count/reaction frames for a room of `audience` viewers here (0: every tick)."""
    return min(MAX_UPDATE_PAUSE, audience / COUNT_WRITES_PER_S)


class RoomPresence(RoomViewers):
    """Viewer counts (this process's and the others' beats) and reaction totals."""

    __slots__ = ("next_update", "nodes", "reaction_delta", "reactions", "reactions_dirty", "sent_viewers")

    def __init__(self, hub: RoomHost, broadcast_id: int) -> None:
        super().__init__(hub, broadcast_id)
        self.reactions: dict[str, int] = dict.fromkeys(REACTION_KINDS, 0)
        self.reaction_delta: dict[str, int] = {}  # this process's reactions not stored yet
        self.reactions_dirty = False
        self.nodes: dict[str, tuple[int, float]] = {}  # node -> (its audience, when it beat)
        self.sent_viewers = -1
        self.next_update = 0.0  # monotonic: no count/reaction frame to viewers before then

    def react(self, kind: str) -> None:
        self.reaction_delta[kind] = self.reaction_delta.get(kind, 0) + 1

    def on_reactions(self, message: BusReactions) -> None:
        for kind, n in message.delta.items():
            if kind in self.reactions:
                self.reactions[kind] += n
        self.reactions_dirty = True

    def on_presence(self, message: BusPresence) -> None:
        self.nodes[message.node] = (message.viewers, time.monotonic())

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

    def samples_here(self) -> bool:
        """One process records a room's viewer count: the lowest node id still beating."""
        now = time.monotonic()
        live = [node for node, (_, seen) in self.nodes.items() if now - seen <= PRESENCE_TTL]
        return self.hub.node <= min(live, default=self.hub.node)

    async def tick(self, beat: bool, sample: bool) -> None:
        """Store and publish reactions, beat presence, tell viewers what changed, sample the count."""
        hub = self.hub
        if self.reaction_delta:
            delta, self.reaction_delta = self.reaction_delta, {}
            async with hub.db.session() as db:  # stored first: a published count is a durable one
                await service.add_reactions(db, self.id, delta)
            await publish_committed(hub.bus, room_channel(self.id), encode(BusReactions(delta)))
        if self.presence_dirty or beat:
            self.presence_dirty = False
            await hub.bus.publish(room_channel(self.id), encode(BusPresence(hub.node, self.audience)))
        count = self.viewer_count()
        self._tell_viewers(count)
        if sample and self.ready and self.samples_here():
            try:
                async with hub.db.session() as db:
                    await record_viewers(db, self.id, count)
            except Exception:  # e.g. two processes sampled the same second: skip this one
                log.warning("room %s: viewer sample not recorded", self.id, exc_info=True)

    def _tell_viewers(self, count: int) -> None:
        """Changed reaction totals and viewer count to every viewer, paced by the room's size."""
        now = time.monotonic()
        if now < self.next_update or not (self.reactions_dirty or count != self.sent_viewers):
            return
        if self.reactions_dirty:
            self.reactions_dirty = False
            self.broadcast(OutFrame(encode(Reactions(counts=self.reactions))))
        if count != self.sent_viewers:
            self.sent_viewers = count
            self.broadcast(OutFrame(encode(Presence(viewers=count))))
        self.next_update = now + update_pause(self.audience)


async def record_viewers(db: Any, broadcast_id: int, viewers: int) -> None:
    """One viewer-count sample (the control page's graph)."""
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    await db.merge(ViewerSample(broadcast_id=broadcast_id, at=at, viewers=viewers))
    await db.commit()
