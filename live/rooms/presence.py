"""Presence and reactions of a room: viewer counts across processes, applause, viewer samples.

Each process beats its own audience on the room's bus channel (`BusPresence`) and adds up
the beats of the others; reactions are summed per tick, stored, then published
(`BusReactions`), so a count a viewer sees is a durable one. Both reach viewers at most once
per tick (`tick`, driven by the hub).
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


class RoomPresence(RoomViewers):
    """Viewer counts (this process's and the others' beats) and reaction totals."""

    __slots__ = ("nodes", "reaction_delta", "reactions", "reactions_dirty", "sent_viewers")

    def __init__(self, hub: RoomHost, broadcast_id: int) -> None:
        super().__init__(hub, broadcast_id)
        self.reactions: dict[str, int] = dict.fromkeys(REACTION_KINDS, 0)
        self.reaction_delta: dict[str, int] = {}  # this process's reactions not stored yet
        self.reactions_dirty = False
        self.nodes: dict[str, tuple[int, float]] = {}  # node -> (its audience, when it beat)
        self.sent_viewers = -1

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
        if self.reactions_dirty:
            self.reactions_dirty = False
            self.broadcast(OutFrame(encode(Reactions(counts=self.reactions))))
        count = self.viewer_count()
        if count != self.sent_viewers:
            self.sent_viewers = count
            self.broadcast(OutFrame(encode(Presence(viewers=count))))
        if sample and self.ready and self.samples_here():
            try:
                async with hub.db.session() as db:
                    await record_viewers(db, self.id, count)
            except Exception:  # e.g. two processes sampled the same second: skip this one
                log.warning("room %s: viewer sample not recorded", self.id, exc_info=True)


async def record_viewers(db: Any, broadcast_id: int, viewers: int) -> None:
    """One viewer-count sample (the control page's graph)."""
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    await db.merge(ViewerSample(broadcast_id=broadcast_id, at=at, viewers=viewers))
    await db.commit()
