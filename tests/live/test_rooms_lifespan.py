"""The room hub belongs to the app's lifespan: built once per serving loop, used by every socket, closed after."""

from __future__ import annotations

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import AsyncTestClient

from live.events import broadcast_channel
from live.rooms.hub import Hub
from live.rooms.protocol import room_channel
from tests.live.rooms_support import make_broadcast, token_for
from tests.live.test_rooms_socket import WAIT, bearer, connect, join, next_of


async def test_the_lifespan_builds_the_hub_every_socket_uses_and_closes_it(app, db, demo):
    room = await make_broadcast(db)
    token = await token_for(db, "member@example.jp")
    assert getattr(app.state, "room_hubs", {}) == {}
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as client:
        hubs = dict(app.state.room_hubs)
        assert len(hubs) == 1
        (hub,) = hubs.values()
        assert isinstance(hub, Hub)
        for _ in range(2):  # two connections, one after the other: the same hub, no new one
            async with connect(client, "/ws/rooms", headers=bearer(token)) as ws:
                welcome, _ = join(ws, room)
                assert welcome["room"] == room
            assert app.state.room_hubs == hubs
        assert list(hub.rooms) == [room]
    # Shutdown closed it: no hub left, no ticker, no room callback on the bus.
    assert app.state.room_hubs == {}
    assert hub._ticker is None and hub.rooms == {}
    bus = app.state.bus
    assert room_channel(room) not in bus.callbacks and broadcast_channel(room) not in bus.callbacks
    assert hub._on_bus_reconnect not in bus.reconnect_hooks


async def test_a_socket_on_a_loop_without_a_hub_is_refused_not_given_a_new_one(app, client, db, demo):
    room = await make_broadcast(db)
    token = await token_for(db, "member@example.jp")
    hubs = app.state.room_hubs
    saved = dict(hubs)
    hubs.clear()  # as if the server had not run the app's lifespan
    try:
        async with connect(client, "/ws/rooms", headers=bearer(token)) as ws:
            assert next_of(ws, "error")["code"] == "unavailable"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json(timeout=WAIT)
            assert closed.value.code == 1011
        assert hubs == {}
    finally:
        hubs.update(saved)
    async with connect(client, "/ws/rooms", headers=bearer(token)) as ws:
        welcome, _ = join(ws, room)
        assert welcome["room"] == room
