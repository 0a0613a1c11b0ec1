"""Bells update live: after a transaction that wrote notifications commits, say so on the bus.

`changed()` only notes the members in the session; an `after_commit` hook publishes one
small event on the `notify` channel (member ids, or null for "many: re-count everyone you
have"), so a rolled-back event never rings a bell and domains need not know about the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core.events import EventBus

log = logging.getLogger("chonai.notify")

CHANNEL = "notify"
_KEY = "chonai_notify_changed"


class Changed(msgspec.Struct):
    """Unread counts changed for these members (None: for many; re-count every connected bell)."""

    members: list[int] | None


_bus: EventBus | None = None
_tasks: set[asyncio.Task[None]] = set()


def use_bus(bus: EventBus | None) -> None:
    """Set by the web process at start-up; worker-only processes publish nothing."""
    global _bus
    _bus = bus


def changed(db: AsyncSession | Session, member_ids: list[int] | None) -> None:
    pending: list[list[int] | None] = db.info.setdefault(_KEY, [])
    pending.append(member_ids)


def publish_now(member_ids: list[int] | None) -> None:
    """Publish a Changed event from synchronous code (never raises)."""
    bus = _bus
    if bus is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    data = msgspec.json.encode(Changed(members=member_ids))

    async def send() -> None:
        try:
            await bus.publish(CHANNEL, data)
        except Exception:  # the count is in the database; the bell re-reads it on reconnect
            log.warning("notification event not published", exc_info=True)

    task = loop.create_task(send())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending: list[list[int] | None] | None = session.info.pop(_KEY, None)
    if not pending:
        return
    if any(p is None for p in pending):
        publish_now(None)
        return
    ids = sorted({i for p in pending if p for i in p})
    if ids:
        publish_now(ids)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)


class BellHub:
    """Per process: the connected bells by member, re-counted in one query per event."""

    def __init__(self, bus: EventBus, count: Any) -> None:
        self.bus = bus
        self.count = count  # async (member_ids) -> {member_id: unread}
        self.bells: dict[int, set[asyncio.Queue[int]]] = {}
        self._dirty: set[int] = set()
        self._all = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.bus.subscribe(CHANNEL, self._on_event)
        self.bus.on_reconnect(self._on_reconnect)
        self._task = asyncio.create_task(self._run(), name="chonai-bells")

    async def stop(self) -> None:
        await self.bus.unsubscribe(CHANNEL, self._on_event)
        if self._task:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    def attach(self, member_id: int) -> asyncio.Queue[int]:
        queue: asyncio.Queue[int] = asyncio.Queue(8)
        self.bells.setdefault(member_id, set()).add(queue)
        return queue

    def detach(self, member_id: int, queue: asyncio.Queue[int]) -> None:
        queues = self.bells.get(member_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self.bells[member_id]

    def _on_reconnect(self) -> None:
        self._all = True  # events may have been lost while the bus was down
        self._wake.set()

    def _on_event(self, _channel: str, data: bytes) -> None:
        try:
            evt = msgspec.json.decode(data, type=Changed)
        except msgspec.DecodeError:
            return
        if evt.members is None:
            self._all = True
        else:
            self._dirty.update(m for m in evt.members if m in self.bells)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            ids = list(self.bells) if self._all else [m for m in self._dirty if m in self.bells]
            self._all = False
            self._dirty.clear()
            if not ids:
                continue
            try:
                counts = await self.count(ids)
            except Exception:
                log.warning("re-counting bells failed", exc_info=True)
                continue
            for member_id in ids:
                for queue in list(self.bells.get(member_id, ())):
                    with contextlib.suppress(asyncio.QueueFull):
                        queue.put_nowait(counts.get(member_id, 0))
