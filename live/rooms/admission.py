"""What a join needs to know of the room's access, read once for every viewer joining meanwhile.

A viewer joining on the viewer page needs two answers: does the member moderate this
broadcast (`live.access`), and what restricts their comments (comments off, a locked room,
a ban, a timeout: `live.moderation.sanctions`). Read per join that is four or five queries,
and a reconnect storm of 2,000 viewers would read them 2,000 times. The room keeps one
`Admission` for everyone instead:

- it is trusted for `gate.RESTRICTION_TTL` seconds, the trust a watching viewer gives its
  own restriction, and a viewer admitted from it takes the read's time as `checked_at`, so
  the comment path re-reads a restriction exactly when it would have anyway;
- the room's bus callbacks drop it when a restriction or the switches change
  (`MemberRestricted`, `ControlsChanged`), and a read that overlapped such a change is read
  again rather than used;
- joiners arriving while it is read wait for that one read.

Control feeds always read the database themselves (live.rooms.socket). A member named
moderator of the program a moment ago is treated as one after at most the TTL.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from core.db import Database
from core.members.models import Member
from live.access import moderates, named_moderators
from live.models import Broadcast
from live.moderation import gate, sanctions
from live.moderation.sanctions import Restriction


@dataclass(frozen=True, slots=True)
class Admission:
    read_at: float  # time.monotonic() of the read
    moderators: frozenset[int]  # named ones; site moderators by role
    switch: Restriction | None  # comments off or locked: every non-moderator
    restricted: dict[int, Restriction]  # member id → ban or timeout in force

    def moderates(self, member: Member) -> bool:
        return moderates(member, self.moderators)

    def restriction(self, member_id: int) -> Restriction | None:
        return self.switch or self.restricted.get(member_id)


class AdmissionCache:
    """One room's `Admission`: fresh for `gate.RESTRICTION_TTL` seconds, dropped by `forget()`, read once for many."""

    __slots__ = ("_current", "_epoch", "_reading", "broadcast_id", "db")

    def __init__(self, db: Database, broadcast_id: int) -> None:
        self.db = db
        self.broadcast_id = broadcast_id
        self._current: Admission | None = None
        self._epoch = 0  # bumped by forget(): a read that overlapped it is not used
        self._reading: asyncio.Future[Admission | None] | None = None

    def forget(self) -> None:
        self._current = None
        self._epoch += 1

    async def get(self) -> Admission | None:
        """The room's admission (None: the broadcast is gone)."""
        while True:
            current = self._current
            if current is not None and time.monotonic() - current.read_at <= gate.RESTRICTION_TTL:
                return current
            epoch = self._epoch
            if self._reading is None:
                self._reading = asyncio.ensure_future(self._read())
                self._reading.add_done_callback(self._done)
            found = await asyncio.shield(self._reading)
            if epoch == self._epoch:
                return found
            # Something changed while it was read: read again (the loop).

    def _done(self, future: asyncio.Future[Admission | None]) -> None:
        if self._reading is future:
            self._reading = None
        if not future.cancelled():
            future.exception()  # retrieved: a failed read reaches its waiters, not the loop's log

    async def _read(self) -> Admission | None:
        epoch, read_at = self._epoch, time.monotonic()
        async with self.db.session() as db:
            broadcast = await db.get(Broadcast, self.broadcast_id)
            if broadcast is None:
                return None
            named = await named_moderators(db, broadcast)
            switch, restricted = await sanctions.restrictions_in_room(db, broadcast.id, broadcast.program_id)
            await db.commit()
        found = Admission(read_at, named, switch, restricted)
        if epoch == self._epoch:
            self._current = found
        return found
