"""Redis restarts during a busy broadcast on two processes: rooms recover by themselves, nothing lost.

Comments keep being accepted while Redis is down (they are durable in PostgreSQL; only
the cross-process fan-out is interrupted). When the bus is back, each process reads what
it missed from the database: every viewer on both processes ends with exactly the
database's order, no gap and no duplicate. (Bus-level reconnection and /readyz during
the outage: test_redis_restart.py.)
"""

from __future__ import annotations

import asyncio
import shutil

import pytest

from tests.conftest import _truncate_postgres, require
from tests.faults.conftest import open_room, read, server_env
from tests.faults.roomclient import RoomClient, stored_comments
from tests.faults.test_redis_restart import PrivateRedis
from tests.servers import ServerProcess, prepare_database, start_all

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

PEOPLE = ["naha", "kochi", "mhlw", "host", "member", "fukuoka"]


async def test_rooms_recover_from_a_redis_restart_without_loss(postgres_url, tmp_path):
    require(shutil.which("redis-server") is not None, "redis-server")
    await _truncate_postgres(postgres_url)
    redis = PrivateRedis()
    env = server_env(tmp_path, postgres_url, redis.url)
    a, b = ServerProcess(env, tmp_path / "a.log"), ServerProcess(env, tmp_path / "b.log")
    clients: list[RoomClient] = []
    try:
        # In the try: whatever fails to start, what did start is stopped.
        redis.start()
        prepare_database(env)
        start_all([a, b])
        room, tokens = await open_room(postgres_url, PEOPLE)
        for i, who in enumerate(PEOPLE + PEOPLE[:4]):
            home = (a.url, b.url)[i % 2]
            clients.append(await RoomClient(f"{who}{i}", tokens[who], room, lambda home=home: [home]).start())
        posters = clients[: len(PEOPLE)]

        async def post_steadily(client: RoomClient) -> None:
            for k in range(12):
                await client.post(f"{client.name} {k}")
                await asyncio.sleep(0.35)

        async def restart_redis() -> None:
            await posters[0].wait_for(lambda: sum(len(c.acked) for c in posters) >= 15)
            redis.stop()
            await asyncio.sleep(1.5)  # comments keep coming while the bus is down
            redis.start()

        await asyncio.gather(*(post_steadily(c) for c in posters), restart_redis())
        for c in posters:
            await c.wait_for(lambda c=c: not c.pending, within=30)
        stored = await stored_comments(postgres_url, room)
        for c in clients:
            await c.wait_for(lambda c=c: c.last >= len(stored), within=30)
    finally:
        for c in clients:
            await c.close()
        a.stop()
        b.stop()
        redis.stop()

    assert [p for p, _, _ in stored] == list(range(1, 12 * len(PEOPLE) + 1))
    position_of = {r: p for p, _, r in stored}
    for c in posters:
        assert {ref: position_of[ref] for ref in c.acked} == c.acked
    expected = [(p, t) for p, t, _ in stored]
    for c in clients:
        assert (c.duplicates, c.gaps, c.errors) == ([], [], []), c.name
        assert c.seen == expected, c.name
        assert len(c.connections) == 1  # nobody had to reconnect: the processes recovered by themselves
    logs = [read(tmp_path / "a.log"), read(tmp_path / "b.log")]
    assert all("redis bus lost its connection" in log for log in logs)
    # Comments were accepted during the outage without reaching the bus; they still reached everyone.
    assert any("failed after commit" in log for log in logs)
