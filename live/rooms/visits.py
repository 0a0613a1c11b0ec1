"""Who opened which room, written in batches: a reconnect storm is one statement, not one per join.

Joins are collected and written every `EVERY` seconds in one `INSERT … ON CONFLICT DO
NOTHING` (chunks of `CHUNK` rows), with the time of each member's first join here. A member
already written for a room is not written again while this process holds the room
(`forget` drops a room the hub closed). A failed write keeps its rows for the next round;
closing the hub writes what is left, so no visit is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from core.db import Database, utcnow
from live.rooms import metrics, service

log = logging.getLogger("chonai.rooms")

EVERY = 1.0  # seconds between batches
CHUNK = 300  # rows per statement (3 parameters each: under SQLite's 999)


class VisitLog:
    """The visits of one hub's rooms not yet written, and the ones written."""

    def __init__(self, db: Database, loop: asyncio.AbstractEventLoop) -> None:
        self.db = db
        self.loop = loop
        self.pending: dict[tuple[int, int], dt.datetime] = {}
        self.written: dict[int, set[int]] = {}  # room -> members written from this process
        self.statements = 0
        self.closed = False
        self._task: asyncio.Task[None] | None = None

    def add(self, room_id: int, member_id: int) -> None:
        if member_id in self.written.get(room_id, ()):
            return
        self.pending.setdefault((room_id, member_id), utcnow())
        if self._task is None and not self.closed:
            self._task = self.loop.create_task(self._later(), name="room-visits")

    def forget(self, room_id: int) -> None:
        """The hub closed the room: its written set goes (a later join writes once more, harmlessly)."""
        self.written.pop(room_id, None)

    async def _later(self) -> None:
        try:
            await asyncio.sleep(EVERY)
            await self.flush()
        finally:
            self._task = None
            if self.pending and not self.closed:  # a failed write, or joins during it: another round
                self._task = self.loop.create_task(self._later(), name="room-visits")

    async def flush(self) -> None:
        """Write every pending visit (kept for the next round if the database refuses)."""
        batch, self.pending = self.pending, {}
        rows = [(room, member, at) for (room, member), at in batch.items()]
        try:
            for i in range(0, len(rows), CHUNK):
                # One short statement a second; SQLite's busy timeout queues it with the comment writer.
                async with self.db.session() as db:
                    await service.record_visits(db, rows[i : i + CHUNK])
                self.statements += 1
                metrics.VISIT_WRITES.inc()
        except Exception:  # reach statistics must never cost a viewer anything; retried next round
            log.warning("recording room visits failed; retrying", exc_info=True)
            for room, member, at in rows:
                self.pending.setdefault((room, member), at)
            return
        for room, member, _ in rows:
            self.written.setdefault(room, set()).add(member)

    async def close(self) -> None:
        """The hub is closing: stop the timer and write what is left."""
        self.closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None
        if self.pending:
            await self.flush()
