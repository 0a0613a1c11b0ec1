"""Two processes (PostgreSQL, Redis): a session cached by process B ends there when process A ends it.

B caches the member's session when a room socket opens there; the socket closes (B keeps the
entry for a quick reconnect). A then logs the session out, demotes the member or suspends
them; reconnecting to B with the same cookie must see the change at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import pytest
import websockets

from tests.security.test_sockets_end import (
    CLOSE_WITHIN,
    PASSWORD,
    browser,
    cluster,
    new_member,
    post,
    session_cookie,
    ws_base,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(900)]
__all__ = ["cluster"]  # the module-scoped two-server fixture


async def join_on(server: Any, cookie: str, room: int, control: bool = False) -> dict[str, Any]:
    """Open a room socket with the cookie, join, and return the welcome or the error frame."""
    headers = {"origin": server.url, "cookie": f"chonai_session={cookie}"}
    async with websockets.connect(ws_base(server) + "/ws/rooms", additional_headers=headers) as ws:
        # Refused at the handshake, the send may fail: the error frame is buffered all the same.
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send(json.dumps({"type": "join", "room": room, "control": control}))
        while True:
            try:
                message = json.loads(await ws.recv())
            except websockets.ConnectionClosed:
                return {"type": "closed", "code": ws.close_code}
            if message["type"] in {"welcome", "error"}:
                return dict(message)


async def refused_on(server: Any, cookie: str, room: int, code: str, control: bool = False) -> bool:
    """Whether B refuses with `code` within CLOSE_WITHIN seconds (the event crosses Redis meanwhile).

    Far below the cache's 30 s TTL: only the invalidation can make this true in time.
    """
    deadline = time.monotonic() + CLOSE_WITHIN
    while time.monotonic() < deadline:
        answer = await join_on(server, cookie, room, control)
        if answer["type"] == "error" and answer["code"] == code:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_logout_on_a_ends_the_session_cached_on_b(cluster: Any) -> None:
    url, (a, b), room, _ = cluster
    _, email = await new_member(url)
    client = await browser(a, email)
    cookie = session_cookie(client)
    assert (await join_on(b, cookie, room))["type"] == "welcome"
    assert (await join_on(b, cookie, room))["type"] == "welcome"  # from B's cache
    assert (await post(client, "/logout")).status_code == 303
    assert await refused_on(b, cookie, room, "login_required")
    await client.aclose()


async def test_demotion_and_suspension_on_a_reach_the_cache_on_b(cluster: Any) -> None:
    url, (a, b), room, _ = cluster
    member_id, email = await new_member(url)
    operator = await browser(a, "operator@example.jp", "chonai-demo-2026")
    r = await post(operator, f"/admin/members/{member_id}/role", {"role": "moderator"})
    assert r.status_code == 303, r.text
    client = await browser(a, email, PASSWORD)
    cookie = session_cookie(client)
    assert (await join_on(b, cookie, room, control=True))["moderator"] is True  # cached on B now
    r = await post(operator, f"/admin/members/{member_id}/role", {"role": "member"})
    assert r.status_code == 303, r.text
    assert await refused_on(b, cookie, room, "forbidden", control=True)
    assert (await join_on(b, cookie, room))["moderator"] is False  # cached again, as a member
    r = await post(operator, f"/admin/members/{member_id}/status", {"status": "suspended", "reason": "test"})
    assert r.status_code == 303, r.text
    assert await refused_on(b, cookie, room, "login_required")
    await client.aclose()
    await operator.aclose()
