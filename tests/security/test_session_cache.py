"""A cached session never lets in what the database no longer would (one process, in-process bus).

Handshakes read the session from the per-process cache (core/credentials.py). Each test first
shows the reconnect is served from the cache, then changes the member and reconnects with the
same cookie: logout, suspension and demotion must each take effect at once.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest

from tests.factories import member_id
from tests.helpers import csrf, login
from tests.live.rooms_support import make_broadcast
from tests.live.test_rooms_socket import next_of

pytestmark = [pytest.mark.usefixtures("demo"), pytest.mark.sqlite_only]


@contextlib.asynccontextmanager
async def room_socket(client: Any, cookie: str) -> Any:
    session = await client.websocket_connect("/ws/rooms", headers={"cookie": f"chonai_session={cookie}"})
    with session as ws:
        yield ws


async def join(client: Any, cookie: str, room: int, control: bool = False) -> dict[str, Any]:
    """Connect, join, and return the first welcome or error frame."""
    async with room_socket(client, cookie) as ws:
        ws.send_text(json.dumps({"type": "join", "room": room, "control": control}))
        while True:
            message = ws.receive_json(timeout=10)
            if message["type"] in {"welcome", "error"}:
                return dict(message)


async def refused(client: Any, cookie: str, room: int, code: str, control: bool = False) -> bool:
    answer = await join(client, cookie, room, control)
    return answer["type"] == "error" and answer["code"] == code


def cache_of(app: Any) -> Any:
    return app.state.sockets.credentials


@contextlib.asynccontextmanager
async def logged_in(app: Any, email: str) -> Any:
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as client:
        await login(client, email)
        yield client, str(client.cookies["chonai_session"])


@contextlib.asynccontextmanager
async def beside_operator(app: Any, email: str) -> Any:
    """`email` logged in (client, cookie) and the demo's operator logged in beside them."""
    async with logged_in(app, email) as (client, cookie), logged_in(app, "operator@example.jp") as (operator, _):
        yield client, cookie, operator


async def test_logout_ends_a_cached_session(app, db):
    room = await make_broadcast(db)
    async with logged_in(app, "member@example.jp") as (client, cookie):
        assert (await join(client, cookie, room))["type"] == "welcome"
        hits = cache_of(app).hits
        assert (await join(client, cookie, room))["type"] == "welcome"
        assert cache_of(app).hits == hits + 1  # the reconnect came from the cache
        r = await client.post("/logout", headers={"x-csrftoken": await csrf(client)}, follow_redirects=False)
        assert r.status_code == 303
        assert await refused(client, cookie, room, "login_required")


async def test_suspension_ends_a_cached_session(app, db):
    room = await make_broadcast(db)
    async with beside_operator(app, "fukuoka@example.jp") as (client, cookie, operator):
        assert (await join(client, cookie, room))["type"] == "welcome"
        assert cache_of(app).get(next(iter(cache_of(app).entries))) is not None
        target = await member_id(db, "fukuoka@example.jp")
        r = await operator.post(
            f"/admin/members/{target}/status",
            data={"status": "suspended", "reason": "test", "_csrf_token": await csrf(operator)},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        assert await refused(client, cookie, room, "login_required")


async def test_a_demoted_moderator_is_not_one_from_the_cache(app, db):
    room = await make_broadcast(db)
    async with beside_operator(app, "moderator@example.jp") as (client, cookie, operator):
        assert (await join(client, cookie, room, control=True))["moderator"] is True
        hits = cache_of(app).hits
        assert (await join(client, cookie, room, control=True))["moderator"] is True
        assert cache_of(app).hits == hits + 1
        target = await member_id(db, "moderator@example.jp")
        r = await operator.post(
            f"/api/members/{target}/role", json={"role": "member"}, headers={"x-csrftoken": await csrf(operator)}
        )
        assert r.status_code == 201, r.text
        assert await refused(client, cookie, room, "forbidden", control=True)
        assert (await join(client, cookie, room))["moderator"] is False


async def test_a_profile_edit_reaches_new_sockets_at_once(app, db):
    room = await make_broadcast(db)
    async with logged_in(app, "member@example.jp") as (client, cookie):
        assert (await join(client, cookie, room))["type"] == "welcome"
        assert cache_of(app).by_member
        me = (await client.get("/api/me")).json()
        r = await client.patch("/api/me", json={"name": "改名 一郎"}, headers={"x-csrftoken": await csrf(client)})
        assert r.status_code == 200, r.text
        assert me["name"] != "改名 一郎" and cache_of(app).by_member == {}
        async with room_socket(client, cookie) as ws:
            ws.send_text(json.dumps({"type": "join", "room": room}))
            next_of(ws, "history")
            ws.send_text(json.dumps({"type": "comment", "text": "新しい名前で", "ref": "r1"}))
            items = next_of(ws, "comments")["items"]
            assert [i["name"] for i in items] == ["改名 一郎"]
