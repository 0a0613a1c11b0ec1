"""SIGKILL one of two server processes in a busy room: nothing acknowledged is lost or doubled, one order.

Two real `chonai serve` processes share a PostgreSQL database and Redis. Posters and
viewers are spread over both and speak the WebSocket protocol like the browser does
(resume with `after`, resend unacknowledged comments with the same `ref`). Process A is
killed with SIGKILL while comments are in flight; its clients reconnect to B.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

from tests.faults.conftest import open_room, read, server_errors
from tests.faults.roomclient import RoomClient, stored_comments
from tests.servers import ServerProcess, start_all

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

PEOPLE = ["naha", "kochi", "mhlw", "host", "member", "fukuoka", "moderator", "operator"]
POSTERS = PEOPLE  # every member posts from one connection ...
VIEWERS = PEOPLE[:4]  # ... and some also watch from a second one
PER_POSTER = 12
INTERVAL = 0.35  # a connection may send 3 messages/s sustained (flood limit): 8 posters ≈ 23 comments/s


async def test_sigkill_during_a_busy_broadcast_loses_and_doubles_nothing(pg_demo, tmp_path):
    env = pg_demo
    database_url = env["DATABASE_URL"]
    a, b = ServerProcess(env, tmp_path / "a.log"), ServerProcess(env, tmp_path / "b.log")
    clients: list[RoomClient] = []
    try:
        start_all([a, b])  # in the try: when B fails to start, A is stopped too
        room, tokens = await open_room(database_url, PEOPLE)
        order = {a.url: [a.url, b.url], b.url: [b.url, a.url]}
        for i, who in enumerate(POSTERS + VIEWERS):
            home = (a.url, b.url)[i % 2]
            clients.append(await RoomClient(f"{who}{i}", tokens[who], room, lambda home=home: order[home]).start())
        posters = clients[: len(POSTERS)]
        on_a = [c for c in clients if c.connections[0] == a.url]
        in_flight_at_kill: list[int] = []

        async def post_steadily(client: RoomClient, n: int) -> None:
            for k in range(n):
                await client.post(f"{client.name} の投稿 {k}")
                await asyncio.sleep(INTERVAL)

        async def kill_a_midway() -> None:
            # Wait until the room is busy, then kill A without warning.
            await posters[0].wait_for(lambda: sum(len(c.acked) for c in posters) >= 30)
            # ... at a moment when a comment sent to A has no ack yet (it may or may not be committed).
            posters_on_a = [c for c in posters if c.connections[0] == a.url]
            async with asyncio.timeout(10):
                while not any(c.pending for c in posters_on_a):  # noqa: ASYNC110 (racing the server on purpose)
                    await asyncio.sleep(0.001)
            a.proc.kill()
            in_flight_at_kill.extend(len(c.pending) for c in posters_on_a)
            a.proc.wait(5)

        await asyncio.gather(*(post_steadily(c, PER_POSTER) for c in posters), kill_a_midway())

        # Every poster's comments end up acknowledged (resent after the reconnect where needed).
        for c in posters:
            await c.wait_for(lambda c=c: not c.pending, within=30)
        stored = await stored_comments(database_url, room)
        last = len(stored)
        for c in clients:
            await c.wait_for(lambda c=c: c.last >= last, within=30)
    finally:
        for c in clients:
            await c.close()
        b.stop()
        a.kill()

    # The database: positions 1..N without gaps, every ref once, every posted comment stored.
    assert [p for p, _, _ in stored] == list(range(1, last + 1))
    refs = [r for _, _, r in stored]
    assert len(refs) == len(set(refs))
    posted = set(itertools.chain.from_iterable(c.acked for c in posters))
    assert set(refs) == posted and len(posted) == PER_POSTER * len(posters)
    # Every acknowledgement names the position the comment really has.
    position_of = {r: p for p, _, r in stored}
    for c in posters:
        assert {ref: position_of[ref] for ref in c.acked} == c.acked
        assert c.ack_conflicts == []
    # Every viewer, whichever process it ended on, saw exactly the database's order.
    expected = [(p, t) for p, t, _ in stored]
    for c in clients:
        assert (c.duplicates, c.gaps) == ([], []), c.name
        assert c.seen == expected, c.name
        assert c.errors == [], c.errors
    # A's clients really did move to B and resume there.
    assert on_a and all(c.connections[-1] == b.url and len(c.connections) >= 2 for c in on_a)
    # The kill caught comments in flight: they were resent with their ref and acknowledged once.
    assert sum(in_flight_at_kill) >= 1
    assert server_errors(read(tmp_path / "b.log")) == []
