"""The scheduler: exactly one process (a lease in Redis or the database) opens, starts and ends broadcasts.

Each tick it reads the broadcasts that are due and calls `transition` for each; after a
restart (or when it takes over the lease) the same query catches up on everything it
missed, e.g. a broadcast that started and ended while no scheduler ran goes straight to
"ended". The clock is injectable so tests never sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database, utcnow
from core.events import EventBus
from core.loops import repeat, stop_running
from core.settings import seconds_variable
from live.models import Broadcast, BroadcastState, SchedulerLease
from live.schedule.materialise import materialise
from live.schedule.reminders import program_reminders
from live.schedule.transitions import TransitionError, transition

log = logging.getLogger("chonai.scheduler")

Clock = Callable[[], dt.datetime]
#: A durable step the leader runs every tick after the transitions (reminders); commits its own work.
Step = Callable[[AsyncSession, dt.datetime], Awaitable[int]]
LEASE_NAME = "scheduler"
MATERIALISE_EVERY = dt.timedelta(minutes=5)


def holder_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease(Protocol):
    holder: str

    async def acquire(self) -> bool: ...
    async def release(self) -> None: ...


class RedisLease:
    """SET key holder NX PX ttl; renewed only by its holder (compare-and-expire in Lua)."""

    _RENEW = (
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
    )
    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

    def __init__(self, url: str, key: str = "chonai:scheduler:lease", ttl: float = 10.0, holder: str | None = None):
        from redis.asyncio import Redis

        self.redis = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        self.key = key
        self.ttl_ms = int(ttl * 1000)
        self.holder = holder or holder_id()

    async def acquire(self) -> bool:
        try:
            if await self.redis.set(self.key, self.holder, nx=True, px=self.ttl_ms):
                return True
            renewed = await self.redis.eval(self._RENEW, 1, self.key, self.holder, self.ttl_ms)
            return bool(renewed)
        except Exception as exc:  # Redis down: nobody acts rather than two acting
            log.warning("scheduler lease unavailable (%s)", exc.__class__.__name__)
            return False

    async def release(self) -> None:
        with contextlib.suppress(Exception):
            await self.redis.eval(self._RELEASE, 1, self.key, self.holder)
        await self.redis.aclose()


class DatabaseLease:
    """A row in scheduler_leases: taken when free or expired, renewed by its holder."""

    def __init__(
        self, db: Database, name: str = LEASE_NAME, ttl: float = 10.0, holder: str | None = None, clock: Clock = utcnow
    ):
        self.db = db
        self.name = name
        self.ttl = dt.timedelta(seconds=ttl)
        self.holder = holder or holder_id()
        self.clock = clock

    async def acquire(self) -> bool:
        now = self.clock()
        try:
            async with self.db.session() as session:
                result = await session.execute(
                    update(SchedulerLease)
                    .where(
                        SchedulerLease.name == self.name,
                        (SchedulerLease.holder == self.holder) | (SchedulerLease.expires_at < now),
                    )
                    .values(holder=self.holder, expires_at=now + self.ttl)
                )
                if getattr(result, "rowcount", 0):
                    await session.commit()
                    return True
                exists = await session.execute(select(SchedulerLease.name).where(SchedulerLease.name == self.name))
                if exists.first() is not None:
                    await session.rollback()
                    return False
                session.add(SchedulerLease(name=self.name, holder=self.holder, expires_at=now + self.ttl))
                try:
                    await session.commit()
                except IntegrityError:  # another scheduler inserted it first
                    return False
                return True
        except OperationalError as exc:
            log.warning("scheduler lease unavailable (%s)", exc.__class__.__name__)
            return False

    async def release(self) -> None:
        with contextlib.suppress(Exception):
            async with self.db.session() as session:
                await session.execute(
                    update(SchedulerLease)
                    .where(SchedulerLease.name == self.name, SchedulerLease.holder == self.holder)
                    .values(expires_at=self.clock() - dt.timedelta(seconds=1))
                )
                await session.commit()


def due_state(
    b_state: BroadcastState, opens_at: dt.datetime, starts_at: dt.datetime, ends_at: dt.datetime, now: dt.datetime
) -> BroadcastState | None:
    """Where a broadcast should be at `now` (None: leave it)."""
    if now >= ends_at:
        target = BroadcastState.ENDED
    elif now >= starts_at:
        target = BroadcastState.LIVE
    elif now >= opens_at and b_state is BroadcastState.SCHEDULED:
        target = BroadcastState.OPEN
    else:
        return None
    return None if target is b_state else target


class Scheduler:
    """Run `tick` every `interval` seconds while holding the lease."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        lease: Lease,
        *,
        clock: Clock = utcnow,
        interval: float = 1.0,
        steps: Sequence[Step] = (),
    ):
        self.db = db
        self.steps: tuple[Step, ...] = (program_reminders, *steps)
        self.bus = bus
        self.lease = lease
        self.clock = clock
        self.interval = interval
        self.leader = False
        self._materialised_at: dt.datetime | None = None
        self._stop = asyncio.Event()

    async def tick(self, now: dt.datetime | None = None) -> int:
        """Make every due transition; returns how many broadcasts changed state."""
        now = now or self.clock()
        changed = 0
        async with self.db.session() as session:
            due = (
                await session.execute(
                    select(Broadcast.id, Broadcast.state, Broadcast.opens_at, Broadcast.starts_at, Broadcast.ends_at)
                    .where(
                        Broadcast.state.in_([BroadcastState.SCHEDULED, BroadcastState.OPEN, BroadcastState.LIVE]),
                        Broadcast.opens_at <= now,
                    )
                    .order_by(Broadcast.starts_at, Broadcast.id)
                    .limit(500)
                )
            ).all()
            for row in due:
                target = due_state(row.state, row.opens_at, row.starts_at, row.ends_at, now)
                if target is None:
                    continue
                try:
                    result = await transition(session, self.bus, row.id, target, now=now)
                except TransitionError as exc:  # a host acted in between: fine
                    log.info("broadcast %s: %s", row.id, exc.message)
                    continue
                changed += result.changed
        return changed

    async def step(self) -> bool:
        """One round: renew the lease; if leader, materialise (periodically) and tick."""
        holds = await self.lease.acquire()
        if holds and not self.leader:
            log.info("scheduler %s is now the leader; catching up", self.lease.holder)
            self._materialised_at = None
        elif not holds and self.leader:
            log.warning("scheduler %s lost the lease", self.lease.holder)
        self.leader = holds
        if not holds:
            return False
        now = self.clock()
        if self._materialised_at is None or now - self._materialised_at >= MATERIALISE_EVERY:
            async with self.db.session() as session:
                await materialise(session, self.bus, now)
            self._materialised_at = now
        await self.tick(now)
        await self.run_steps(now)
        return True

    async def run_steps(self, now: dt.datetime) -> None:
        for step in self.steps:
            try:
                async with self.db.session() as session:
                    await step(session, now)
            except Exception:  # one failing step must not stop the schedule; it runs again next tick
                log.exception("scheduler step %s failed", getattr(step, "__name__", step))

    async def run(self) -> None:
        log.info("scheduler %s started (tick %.1fs)", self.lease.holder, self.interval)
        try:
            await repeat(self.step, self._stop, self.interval, log, "scheduler tick")
        finally:
            await self.lease.release()
            log.info("scheduler %s stopped", self.lease.holder)

    def stop(self) -> None:
        self._stop.set()


def make_lease(db: Database, redis_url: str | None, ttl: float, prefix: str = "chonai:") -> Lease:
    if redis_url:
        return RedisLease(redis_url, key=prefix + "scheduler:lease", ttl=ttl)
    return DatabaseLease(db, ttl=ttl)


def tick_interval(default: float = 1.0) -> float:
    return seconds_variable("CHONAI_SCHEDULER_TICK", os.environ.get("CHONAI_SCHEDULER_TICK", ""), default, 0.05, 60)


async def start_embedded(
    db: Database, bus: EventBus, redis_url: str | None, steps: Sequence[Step] = (), prefix: str = "chonai:"
) -> tuple[Scheduler, asyncio.Task[None]] | None:
    """Run the scheduler inside the web process when CHONAI_SCHEDULER=embedded (what `chonai run` sets)."""
    mode = os.environ.get("CHONAI_SCHEDULER", "off").strip().lower()
    if mode in {"", "off", "external"}:
        return None
    if mode != "embedded":
        raise SystemExit(f"chonai: CHONAI_SCHEDULER must be embedded or off, got {mode!r}")
    interval = tick_interval()
    lease = make_lease(db, redis_url, ttl=max(10.0, interval * 5), prefix=prefix)
    scheduler = Scheduler(db, bus, lease, interval=interval, steps=steps)
    return scheduler, asyncio.create_task(scheduler.run(), name="chonai-scheduler")


async def stop_embedded(running: tuple[Scheduler, asyncio.Task[None]] | None) -> None:
    await stop_running(running, 5)
