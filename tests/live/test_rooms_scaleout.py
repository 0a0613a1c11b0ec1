"""Two real server processes sharing rooms through Redis and PostgreSQL; raw-socket abuse."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator

import pytest
import websockets

from live.rooms import service
from live.rooms.protocol import Limits
from tests.conftest import REDIS_TEST_URL, _truncate_postgres, redis_available, require
from tests.factories import session_at
from tests.live.rooms_support import make_broadcast, token_for
from tests.servers import ServerProcess, serve_two

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
WAIT = 15


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, postgres_url):
    """Two `chonai serve` processes on one PostgreSQL database and one Redis."""
    require(redis_available(), "Redis")
    asyncio.run(_truncate_postgres(postgres_url))
    with serve_two(tmp_path_factory.mktemp("scaleout"), postgres_url, REDIS_URL=REDIS_TEST_URL) as (servers, _):
        yield postgres_url, servers


async def _setup(url: str) -> tuple[int, dict[str, str]]:
    async with session_at(url) as s:
        room = await make_broadcast(s)
        # This test is about order, not limits: a per-room setting lifts the rate limit.
        await service.set_limits(s, room, Limits(max_length=200, rate_count=100, rate_seconds=30))
        tokens = {w: await token_for(s, f"{w}@example.jp") for w in ("member", "fukuoka", "naha", "kochi")}
        return room, tokens


@pytest.fixture
async def opened() -> AsyncIterator[contextlib.AsyncExitStack]:
    """Every websocket a test opens is entered here and closed when the test ends: also after a failed
    assertion, and those the server closed (close() then only frees the socket)."""
    async with contextlib.AsyncExitStack() as stack:
        yield stack


def ws_url(server: ServerProcess) -> str:
    return server.url.replace("http://", "ws://") + "/ws/rooms"


async def connect(opened: contextlib.AsyncExitStack, server: ServerProcess, token: str, **kwargs):
    return await opened.enter_async_context(
        websockets.connect(ws_url(server), additional_headers={"Authorization": f"Bearer {token}"}, **kwargs)
    )


async def open_viewer(opened, server, token, room, after=None):
    ws = await connect(opened, server, token)
    await ws.send(json.dumps({"type": "join", "room": room, "after": after}))
    items = []
    while True:
        m = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if m["type"] == "history":
            items += m["items"]
            if m["last_position"] is not None:
                return ws, items


async def collect(ws, until: int, items: list | None = None) -> list[dict]:
    items = list(items or [])
    while not items or items[-1]["position"] < until:
        m = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if m["type"] == "comments":
            items += m["items"]
    return items


async def post_many(ws, prefix: str, n: int) -> list[int]:
    positions = []
    for i in range(n):
        await ws.send(json.dumps({"type": "comment", "text": f"{prefix}{i}", "ref": f"{prefix}{i}"}))
    while len(positions) < n:
        m = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if m["type"] == "ack":
            positions.append(m["position"])
        assert m["type"] != "error", m
    return positions


async def test_viewers_on_both_processes_see_one_order(cluster, opened):
    url, (a, b) = cluster
    room, tokens = await _setup(url)
    va, _ = await open_viewer(opened, a, tokens["member"], room)
    vb, _ = await open_viewer(opened, b, tokens["fukuoka"], room)
    pa, _ = await open_viewer(opened, a, tokens["naha"], room)
    pb, _ = await open_viewer(opened, b, tokens["kochi"], room)
    # Posters on both processes at once: positions interleave; every viewer must agree.
    acked = await asyncio.gather(post_many(pa, "A", 10), post_many(pb, "B", 10))
    assert sorted(acked[0] + acked[1]) == list(range(1, 21))
    seen_a, seen_b = await asyncio.gather(collect(va, 20), collect(vb, 20))
    assert [c["position"] for c in seen_a] == list(range(1, 21))
    assert [(c["position"], c["text"]) for c in seen_a] == [(c["position"], c["text"]) for c in seen_b]
    # A viewer on A sees B's comments with B's poster's name.
    assert {c["name"] for c in seen_a} == {"比嘉 翔太", "坂本 涼"}

    # Resume across processes: leave A at position 20, miss 5 comments, come back on B.
    await va.close()
    await post_many(pa, "C", 5)
    back, history = await open_viewer(opened, b, tokens["member"], room, after=20)
    await post_many(pb, "D", 2)
    resumed = await collect(back, 27, history)
    assert [c["position"] for c in resumed] == list(range(21, 28))


async def test_raw_abuse_leaves_the_room_working(cluster, opened):
    url, (a, _) = cluster
    room, tokens = await _setup(url)
    watcher, _ = await open_viewer(opened, a, tokens["fukuoka"], room)
    # Invalid UTF-8 in a text frame: the server's WebSocket layer closes with 1007.
    bad = await connect(opened, a, tokens["member"])
    frame = bytes([0x81, 0x80 | 4]) + b"\0\0\0\0" + b"\xff\xfe\xfd\xfc"
    bad.transport.write(frame)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(bad.recv(), WAIT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
    # Cross-origin: told why (so the page can say it), then closed 4403; the room is never joined.
    foreign = await connect(opened, a, tokens["member"], origin="https://evil.example")
    refusal = json.loads(await asyncio.wait_for(foreign.recv(), WAIT))
    assert refusal["type"] == "error" and refusal["code"] == "origin_not_allowed"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(foreign.recv(), WAIT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    # A garbage (non-WebSocket) request on the socket path.
    with socket.create_connection(("127.0.0.1", a.port)) as raw:
        raw.sendall(b"GET /ws/rooms HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 4")
    poster, _ = await open_viewer(opened, a, tokens["naha"], room)
    assert await post_many(poster, "ok", 1) == [1]
    assert [c["text"] for c in await collect(watcher, 1)] == ["ok0"]
