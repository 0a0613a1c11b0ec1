"""The scheduler killed (SIGKILL) and restarted: no transition missed, none applied twice.

Real `chonai scheduler` processes (0.2 s tick, 2 s lease) against PostgreSQL and a Redis
of this test's own (the lease key and the schedule channel are not shared with anyone).
Broadcasts a few seconds apart: one lives entirely under the first scheduler, one is
opened by it and started late by its standby after the kill, one passes entirely while
no scheduler holds the lease (caught up straight to "ended", as designed), and one is
handled after a second, graceful hand-over to a freshly started process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import select

from core.db import Database, utcnow
from core.events import RedisBus
from live.events import SCHEDULE_CHANNEL, BroadcastStateChanged
from live.models import Broadcast, BroadcastState
from tests.conftest import _truncate_postgres, require
from tests.faults.conftest import read, server_env
from tests.faults.test_redis_restart import PrivateRedis
from tests.servers import prepare_database

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

S = BroadcastState


class SchedulerProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "web.cli", "scheduler", "--tick", "0.2", "--lease-ttl", "2"],
                env={**os.environ, **env, "LOG_LEVEL": "INFO"},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def until_logged(self, text: str, within: float = 60) -> None:
        # A bound for a failure, not a pace: a loaded machine takes many seconds to start a process.
        async with asyncio.timeout(within):
            while text not in read(self.log):
                assert self.proc.poll() is None, read(self.log)[-2000:]
                await asyncio.sleep(0.05)

    def transitions(self) -> list[tuple[int, str]]:
        return [(int(b), s) for b, s in re.findall(r"broadcast (\d+) -> (\w+)", read(self.log))]

    def stop(self, sig: str = "term") -> None:
        if self.proc.poll() is None:
            self.proc.kill() if sig == "kill" else self.proc.terminate()
        self.proc.wait(10)


async def _add(db: Database, now: dt.datetime, opens: float, starts: float, ends: float, title: str) -> int:
    at = lambda s: now + dt.timedelta(seconds=s)  # noqa: E731
    async with db.session() as s:
        b = Broadcast(title=title, opens_at=at(opens), starts_at=at(starts), ends_at=at(ends), state=S.SCHEDULED)
        s.add(b)
        await s.commit()
        return int(b.id)


async def test_scheduler_killed_and_restarted_misses_nothing_and_repeats_nothing(postgres_url, tmp_path):
    require(shutil.which("redis-server") is not None, "redis-server")
    await _truncate_postgres(postgres_url)
    redis = PrivateRedis()
    redis.start()
    env = server_env(tmp_path, postgres_url, redis.url)
    prepare_database(env, demo=False)
    bus = RedisBus(redis.url, os.environ["REDIS_PREFIX"])  # the schedulers' namespace (inherited)
    events: list[tuple[int, str]] = []
    db = Database(postgres_url)
    procs: list[SchedulerProcess] = []
    try:
        await bus.start()
        await bus.subscribe(
            SCHEDULE_CHANNEL,
            lambda _c, d: events.append(
                ((e := msgspec.json.decode(d, type=BroadcastStateChanged)).broadcast_id, e.state)
            ),
        )
        first = SchedulerProcess(env, tmp_path / "s1.log")
        procs.append(first)
        await first.until_logged("is now the leader")
        standby = SchedulerProcess(env, tmp_path / "s2.log")
        procs.append(standby)
        await standby.until_logged("started (tick")
        async with asyncio.timeout(10):
            while not bus.healthy:  # noqa: ASYNC110 (our subscription must be live before anything happens)
                await asyncio.sleep(0.05)

        now = utcnow()
        t0 = time.monotonic()
        b1 = await _add(db, now, 0.5, 1.5, 2.5, "最初の放送")  # all under the first scheduler
        b2 = await _add(db, now, 1.0, 4.0, 8.0, "またがる放送")  # opened by it, started after the kill
        b3 = await _add(db, now, 3.3, 3.6, 4.2, "停止中の放送")  # entirely while nobody holds the lease
        ours = {b1, b2, b3}

        async def at(seconds: float) -> None:
            await asyncio.sleep(max(0.0, t0 + seconds - time.monotonic()))

        await at(3.0)
        first.stop("kill")  # SIGKILL: the lease is not released, the standby waits for it to expire
        await standby.until_logged("is now the leader")
        await at(6.0)
        restarted = SchedulerProcess(env, tmp_path / "s3.log")
        procs.append(restarted)
        await restarted.until_logged("started (tick")
        await at(7.0)
        # Relative to now: a loaded machine may take seconds to start the third process.
        b4 = await _add(db, utcnow(), 1.5, 2.5, 3.5, "引き継ぎ後の放送")  # after the second hand-over
        ours.add(b4)
        standby.stop("term")  # graceful: releases the lease, the restarted one takes over at once
        await restarted.until_logged("is now the leader")

        async with asyncio.timeout(60):
            while sum(1 for b, s in events if b in ours and s == "ended") < 4:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        # A doubled transition would show up within a few ticks: a sentinel broadcast that needs at
        # least three ticks of the leader (open, live, ended) proves those ticks have passed.
        sentinel = await _add(db, utcnow(), 0.2, 0.4, 0.6, "見張りの放送")
        async with asyncio.timeout(60):
            while (sentinel, "ended") not in events:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        async with db.session() as s:
            rows = {b.id: b for b in (await s.execute(select(Broadcast).where(Broadcast.id.in_(ours)))).scalars()}
    finally:
        for p in procs:
            p.stop("kill")
        await bus.close()
        await db.dispose()
        redis.stop()

    mine = [(b, s) for b, s in events if b in ours]
    per = {b: [s for x, s in mine if x == b] for b in (b1, b2, b3, b4)}
    assert per == {
        b1: ["open", "live", "ended"],
        b2: ["open", "live", "ended"],
        b3: ["ended"],  # passed entirely during the outage: caught up to where it should be
        b4: ["open", "live", "ended"],
    }, mine
    # What the processes logged applying is exactly what was published: nothing applied twice.
    applied = [t for p in procs for t in p.transitions() if t[0] in ours]
    assert sorted(applied) == sorted(mine)
    # The kill and the restart really happened in the middle: three processes each did part of the work.
    assert all(any(t[0] in ours for t in p.transitions()) for p in procs), [p.transitions() for p in procs]
    for b in (b1, b2, b4):
        row = rows[b]
        assert row.state is S.ENDED
        assert row.opens_at <= row.opened_at <= row.live_at <= row.ended_at
        assert row.starts_at <= row.live_at and row.ends_at <= row.ended_at
    assert rows[b3].state is S.ENDED and rows[b3].ended_at >= rows[b3].ends_at
    assert (rows[b3].opened_at, rows[b3].live_at) == (None, None)
