"""PostgreSQL briefly unreachable under a running server: comments are refused with a typed
"try again" error (`unavailable`), never acknowledged and lost; /readyz shows 503; after the
database comes back the resent comments are accepted once and the stream is exact.

The server reaches PostgreSQL through a TCP proxy the test controls: `cut` resets every
connection (the database host is down), `blackhole` keeps connections open and silent (a
network partition, noticed only by timeouts).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from urllib.parse import urlsplit

import httpx
import pytest
import websockets

from tests.faults.conftest import open_room, read
from tests.faults.roomclient import RoomClient, stored_comments, ws_url
from tests.faults.tcpproxy import TcpProxy
from tests.servers import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

WAIT = 30  # generous: only reached when something is broken


async def _readyz(url: str) -> tuple[int, dict]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(url + "/readyz")
        return response.status_code, response.json()


async def _until_ready(url: str, status: int) -> dict:
    async with asyncio.timeout(WAIT):
        while True:
            code, body = await _readyz(url)
            if code == status:
                return body
            await asyncio.sleep(0.1)


async def _refused_unavailable(client: RoomClient, text: str) -> str:
    """Post during the outage: the answer must be an `unavailable` error for that ref, not an ack."""
    before = len(client.errors)
    ref = await client.post(text)
    await client.wait_for(lambda: ref in client.acked or len(client.errors) > before, within=WAIT)
    assert ref not in client.acked, "acknowledged while the database was unreachable"
    error = client.errors[-1]
    assert (error["code"], error["ref"]) == ("unavailable", ref), error
    assert "再送信" in error["message"]
    return ref


@pytest.mark.parametrize("failure", ["cut", "blackhole"])
async def test_comments_are_refused_not_lost_while_the_database_is_unreachable(pg_demo, tmp_path, failure):
    parts = urlsplit(pg_demo["DATABASE_URL"])
    # Everything opened is closed on the way out in reverse order (sockets, server, proxy), also when
    # a step fails before the others are open.
    async with contextlib.AsyncExitStack() as opened:
        proxy = await TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
        opened.push_async_callback(proxy.close)
        via_proxy = pg_demo["DATABASE_URL"].replace(parts.netloc, f"{parts.username}@127.0.0.1:{proxy.port}")
        # Statements time out after 1 s instead of 10 (the blackhole is only noticed by timeouts).
        env = {**pg_demo, "DATABASE_URL": via_proxy, "DATABASE_TIMEOUT": "1"}
        env.pop("REDIS_URL", None)  # one process, in-process broker: this test is about the database
        server = ServerProcess(env, tmp_path / "server.log")
        opened.callback(server.stop)
        # The proxy runs on this event loop: start the server (which may touch the database) off it.
        await asyncio.to_thread(server.start)
        room, tokens = await open_room(pg_demo["DATABASE_URL"], ["member", "fukuoka"])
        other, _ = await open_room(pg_demo["DATABASE_URL"], [])
        poster = await RoomClient("poster", tokens["member"], room, lambda: [server.url]).start()
        opened.push_async_callback(poster.close)
        viewer = await RoomClient("viewer", tokens["fukuoka"], room, lambda: [server.url]).start()
        opened.push_async_callback(viewer.close)
        # A page that connected before the outage and joins during it.
        late = await opened.enter_async_context(
            websockets.connect(ws_url(server.url), additional_headers={"Authorization": f"Bearer {tokens['fukuoka']}"})
        )
        for i in range(3):
            await poster.post(f"停止前 {i}")
        await poster.wait_for(lambda: len(poster.acked) == 3)
        assert (await _readyz(server.url))[0] == 200

        getattr(proxy, failure)()
        refused = [await _refused_unavailable(poster, f"停止中 {i}") for i in range(2)]
        body = await _until_ready(server.url, 503)
        assert body["checks"]["database"].startswith("error")
        # The page's WebSocket stays open through the outage.
        assert poster.ws is not None and viewer.ws is not None
        # Joining a room this process does not serve yet needs the database: a typed "try again",
        # the socket stays open. (Joins of a served room take its shared access read for a few
        # seconds: live.rooms.admission.)
        await late.send(json.dumps({"type": "join", "room": other}))
        refusal = json.loads(await asyncio.wait_for(late.recv(), WAIT))
        assert (refusal["type"], refusal["code"]) == ("error", "unavailable"), refusal
        # Authenticated requests get a typed 503, never a 500; so does a new room connection.
        async with httpx.AsyncClient(timeout=WAIT) as http:
            me = await http.get(server.url + "/api/me", headers={"Authorization": f"Bearer {tokens['member']}"})
        assert me.status_code == 503 and me.json()["error"]["code"] == "unavailable", me.text
        with pytest.raises(websockets.InvalidStatus) as handshake:
            async with websockets.connect(  # closed again if it were accepted
                ws_url(server.url), additional_headers={"Authorization": f"Bearer {tokens['member']}"}
            ):
                pass
        assert handshake.value.response.status_code == 503

        proxy.restore()
        await _until_ready(server.url, 200)
        # The client resends what was refused, with the same refs: stored once each.
        await poster.resend_pending()
        await poster.wait_for(lambda: not poster.pending, within=WAIT)
        for i in range(2):
            await poster.post(f"復旧後 {i}")
        await poster.wait_for(lambda: not poster.pending, within=WAIT)
        stored = await stored_comments(pg_demo["DATABASE_URL"], room)
        await viewer.wait_for(lambda: viewer.last >= len(stored), within=WAIT)
        # The late page joins once the database is back.
        await late.send(json.dumps({"type": "join", "room": other}))
        while (message := json.loads(await asyncio.wait_for(late.recv(), WAIT)))["type"] != "welcome":
            assert message["type"] != "error", message

    assert [p for p, _, _ in stored] == list(range(1, 8))
    assert {r: p for p, _, r in stored} == poster.acked  # every ack names a stored comment, nothing else stored
    assert all(ref in poster.acked for ref in refused)
    assert viewer.seen == [(p, t) for p, t, _ in stored]
    assert (viewer.duplicates, viewer.gaps, poster.duplicates, poster.gaps) == ([], [], [], [])
    log = read(tmp_path / "server.log")
    assert "storing a comment failed" in log  # the outage is visible to operators
    assert "unhandled error" not in log and "internal_error" not in log
