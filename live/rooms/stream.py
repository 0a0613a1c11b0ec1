"""A room's comment stream in database order: parked out-of-order messages and gap recovery.

Bus messages carry positions. The next one (`last + 1`) is accepted at once; one that skips
ahead parks in `pending` while the gap is read from the database (`catch_up`), so every
process delivers the database's order with no gap and no duplicate. The hub's sweep calls
`catch_up` too when the database is ahead for a whole sweep (the bus lost a message).

The last `RECENT` accepted items stay in memory (`recent`, ending at `last`), so a join or a
resume inside that window reads no database (`recent_between`).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging

import msgspec

from live.rooms import metrics, service
from live.rooms.fanout import RoomFanout
from live.rooms.protocol import BusComment
from live.rooms.viewers import RoomHost

log = logging.getLogger("chonai.rooms")

RECENT = 1000  # items kept in memory per room (about 250 KiB): a join's 50, and resumes after a drop


class RoomStream(RoomFanout):
    """Ordering on top of the fan-out: what may be accepted, and reading what is missing."""

    __slots__ = ("_fetch_again", "_fetch_task", "pending", "recent", "seen_db_last")

    def __init__(self, hub: RoomHost, broadcast_id: int) -> None:
        super().__init__(hub, broadcast_id)
        self.pending: dict[int, BusComment] = {}
        # Every accepted item (hidden ones too) of the positions (last - len(recent), last].
        self.recent: collections.deque[msgspec.Raw] = collections.deque(maxlen=RECENT)
        self.seen_db_last = 0  # the database's last position at the previous sweep
        self._fetch_task: asyncio.Task[None] | None = None
        self._fetch_again = False

    def start_at(self, position: int, recent: list[tuple[int, bytes]] | None = None) -> None:
        """The room's state is read: everything up to `position` is history, the rest is live.

        `recent` is the history's tail as read with the state (every position, hidden ones too):
        kept in memory when it ends at `position` without a gap, so the first joins read no database.
        """
        self.last = self.flushed = self.public_flushed = self.seen_db_last = position
        self.recent.clear()
        if recent and recent[-1][0] == position and position - recent[0][0] + 1 == len(recent):
            self.recent.extend(msgspec.Raw(item) for _, item in recent)
        self.ready = True
        if self.pending:
            self._drain_pending()
            if self.pending:
                self.catch_up()

    def _accept(self, position: int, item: msgspec.Raw, committed: float | None) -> None:
        self.recent.append(item)  # gapless: `recent` keeps ending at `last`
        super()._accept(position, item, committed)

    def recent_between(self, after: int, upto: int, visible_only: bool) -> list[tuple[int, msgspec.Raw]] | None:
        """Items with after < position <= upto from memory, or None when that reaches before the window.

        What `service.comments_between` reads from the database: `visible_only` leaves out
        the hidden positions (this room's `hidden` is kept current by the moderation events).
        """
        recent = self.recent
        base = self.last - len(recent)  # the position before the oldest kept
        if after < base or upto > self.last or after > upto:
            return None
        items = itertools.islice(recent, after - base, upto - base)
        rows = zip(range(after + 1, upto + 1), items, strict=True)
        if visible_only and self.hidden:
            hidden = self.hidden
            return [(p, item) for p, item in rows if p not in hidden]
        return list(rows)

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

    def _drain_pending(self) -> None:
        pending = self.pending
        while (message := pending.pop(self.last + 1, None)) is not None:
            self._accept(message.position, message.item, message.committed)
        for stale in [p for p in pending if p <= self.last]:
            del pending[stale]

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

    def cancel_timers(self) -> None:
        super().cancel_timers()
        if self._fetch_task is not None:
            self._fetch_task.cancel()
