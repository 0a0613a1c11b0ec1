"""Group commit: one writer per room and process, one transaction for every comment waiting.

A socket hands its comment (a `Draft`, already screened by moderation) to the room's writer and
waits. The writer takes everything queued at that moment (up to `MAX_BATCH`), stores it with
`live.rooms.posting.write_batch` in one transaction, and only after the commit answers each
waiting sender (its `Posted`, or its own `RoomError`) and publishes the new comments in position
order. While one batch commits the next one gathers, so the batch grows with the load and a
quiet room still writes each comment at once (no waiting for company).

If the transaction fails, nothing of the batch is stored and every sender in it gets
`WriteFailed` (the socket answers `unavailable`; clients resend with their ref, idempotently).
Several processes each run their own writer: their batches queue on the room's lock in the
database, which allocates the positions, so they stay unique and consecutive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import msgspec

from core.events import EventBus, publish_committed
from live.errors import RoomError
from live.rooms import metrics
from live.rooms.posting import Draft, write_batch
from live.rooms.protocol import BusComment, encode, room_channel
from live.rooms.service import Posted
from live.rooms.viewers import RoomHost

log = logging.getLogger("chonai.rooms")

#: Comments per transaction at most (bounds the INSERT's size and one batch's time under the lock).
MAX_BATCH = 500


class WriteFailed(Exception):
    """The batch's transaction failed: this comment was not stored (and not acknowledged)."""


async def publish_comment(bus: EventBus, broadcast_id: int, posted: Posted) -> None:
    """Fan a stored comment out to every process (after commit; the sweep covers a lost publish)."""
    await publish_committed(
        bus, room_channel(broadcast_id), encode(BusComment(posted.position, posted.committed, msgspec.Raw(posted.item)))
    )


class RoomWriter:
    """The queue of one room's comments in this process, and the task that commits it."""

    __slots__ = ("_hub", "_id", "_queue", "_task")

    def __init__(self, hub: RoomHost, broadcast_id: int) -> None:
        self._hub = hub
        self._id = broadcast_id
        self._queue: list[tuple[Draft, asyncio.Future[Posted]]] = []
        self._task: asyncio.Task[None] | None = None

    async def post(self, draft: Draft) -> Posted:
        """Return once the comment is committed; raises its `RoomError`, or `WriteFailed`."""
        future: asyncio.Future[Posted] = self._hub.loop.create_future()
        self._queue.append((draft, future))
        if self._task is None:
            self._task = self._hub.loop.create_task(self._drain(), name=f"room-{self._id}-writer")
        # Shielded: a sender that goes away must not cancel the answer the writer will set.
        return await asyncio.shield(future)

    async def close(self) -> None:
        """Stop writing (the hub is closing): whoever still waits gets `WriteFailed`."""
        task = self._task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._queue[:MAX_BATCH]
                del self._queue[:MAX_BATCH]
                await self._commit(batch)
        finally:
            # No await between the loop's last check and here: a comment queued later starts a new task.
            self._task = None
            _fail(self._queue)
            self._queue = []

    async def _commit(self, batch: list[tuple[Draft, asyncio.Future[Posted]]]) -> None:
        hub = self._hub
        try:
            # The whole write on this process's writer thread (core.writer_threads): SQLite's one
            # connection, where this process's rooms take turns (not in SQLite's busy handler, whose
            # growing sleeps wreck latency); PostgreSQL's own loop and pool, so the write waits for
            # no turn of this busy loop (the room's row lock orders the writers of every process).
            run = hub.comment_writer.run if hub.comment_writer is not None else None
            async with hub.db.session() as db:
                outcomes = await write_batch(db, self._id, [d for d, _ in batch], run)
        except Exception as exc:
            log.warning(
                "room %s: storing a comment failed: a batch of %d, none stored (%s)",
                self._id,
                len(batch),
                exc.__class__.__name__,
            )
            _fail(batch)
            return
        except BaseException:  # cancelled: none of them is acknowledged
            _fail(batch)
            raise
        posted: list[Posted] = []
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, RoomError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
                if not outcome.duplicate:
                    posted.append(outcome)
        # Stored in position order, published in position order (before the next batch's).
        for item in posted:
            metrics.COMMENTS_ACCEPTED.inc()
            # Never raises (core.events.publish_committed): a lost publish is read back by every sweep.
            await publish_comment(hub.bus, self._id, item)


def _fail(waiting: list[tuple[Draft, asyncio.Future[Posted]]]) -> None:
    for _, future in waiting:
        if not future.done():
            future.set_exception(WriteFailed())
