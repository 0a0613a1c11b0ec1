"""The hub's ordering guarantees when the bus loses, reorders or repeats messages."""

from __future__ import annotations

import asyncio
import json

import msgspec
import pytest

from core.db import Database
from core.events import InProcessBus
from live.rooms import fanout, posting, service
from live.rooms.hub import Hub
from live.rooms.protocol import BusComment, encode, room_channel
from live.rooms.transport import OutFrame
from live.rooms.viewers import Viewer
from live.rooms.writer import publish_comment
from tests.live.rooms_support import make_broadcast, member


class RecordingSink:
    def __init__(self, accept: bool = True) -> None:
        self.messages: list[dict] = []
        self.accept = accept
        self.changed = asyncio.Event()

    def write(self, frame: OutFrame) -> bool:
        if not self.accept:
            return False
        self.messages.append(json.loads(frame.payload))
        self.changed.set()
        return True

    async def close(self, code: int, reason: str = "") -> None:
        return None

    def stop(self) -> None:
        return None

    def positions(self) -> list[int]:
        return [i["position"] for m in self.messages if m["type"] in {"comments", "history"} for i in m["items"]]

    async def wait_for(self, positions: list[int]) -> None:
        async with asyncio.timeout(10):
            while self.positions() != positions:
                assert len(self.positions()) < len(positions), self.positions()
                self.changed.clear()
                await self.changed.wait()


async def test_gaps_duplicates_and_bus_outages_keep_database_order(hub, db, demo):
    bid = await make_broadcast(db)
    author = await member(db, "member@example.jp")
    room = await hub.room(bid)
    assert room is not None
    sink, slow = RecordingSink(), RecordingSink(accept=False)
    await hub.join(Viewer(sink, 1), room, 1, None)
    await hub.join(Viewer(slow, 2), room, 2, None)
    posted = [await posting.post_comment(db, bid, author, f"c{i}", None) for i in range(3)]

    async def publish(p: service.Posted) -> None:
        await hub.bus.publish(room_channel(bid), encode(BusComment(p.position, p.committed, msgspec.Raw(p.item))))

    await publish(posted[2])  # 1 and 2 were lost: read from the database, then 3
    await sink.wait_for([1, 2, 3])
    await publish(posted[1])  # late duplicate: ignored
    await publish(posted[0])
    # Stored while the bus was down; the reconnect hook reads them.
    more = [await posting.post_comment(db, bid, author, f"d{i}", None) for i in range(2)]
    for hook in hub.bus.reconnect_hooks:
        hook()
    await sink.wait_for([1, 2, 3, 4, 5])
    await publish(more[1])
    await publish(more[0])
    nxt = await posting.post_comment(db, bid, author, "e", None)
    await publish(nxt)
    await sink.wait_for([1, 2, 3, 4, 5, 6])
    # The viewer that could not keep up was dropped; the room never waited for it.
    assert len(room.viewers) == 1


async def test_join_with_after_waits_for_this_process_to_catch_up(hub, db, demo):
    bid = await make_broadcast(db)
    author = await member(db, "member@example.jp")
    room = await hub.room(bid)
    assert room is not None
    # Another process delivered 1..3 to this client; our bus never said anything.
    for i in range(3):
        await posting.post_comment(db, bid, author, f"c{i}", None)
    sink = RecordingSink()
    await hub.join(Viewer(sink, 1), room, 1, 2)
    await sink.wait_for([3])
    with pytest.raises(service.RoomError) as forged:
        await hub.join(Viewer(RecordingSink(), 1), room, 1, 99)
    assert forged.value.code == "invalid_position"


async def test_a_closed_hub_leaves_no_reconnect_hook_behind(settings):
    database, bus = Database(settings.database_url), InProcessBus()
    try:
        hub = Hub(database, bus, window=0.01)
        assert bus.reconnect_hooks == [hub._on_bus_reconnect]
        await hub.close()
        assert bus.reconnect_hooks == []
    finally:
        await database.dispose()


def test_a_very_large_audience_widens_the_busy_window() -> None:
    assert fanout.busy_window(0.04, 2_000) == 0.04
    assert fanout.busy_window(0.04, 4_000) == 0.04
    assert fanout.busy_window(0.04, 7_000) == pytest.approx(0.07)
    assert fanout.busy_window(0.04, 10_000) == pytest.approx(0.1)
    assert fanout.busy_window(0.04, 1_000_000) == fanout.MAX_WINDOW
    assert fanout.busy_window(60.0, 10_000) == 60.0  # a configured wider window stays


async def test_a_busy_room_with_a_large_audience_waits_the_wider_window(settings, db, demo, monkeypatch):
    monkeypatch.setattr(fanout, "BUSY_WRITES_PER_S", 10)  # one viewer counts as a crowd
    database = Database(settings.database_url)
    hub = Hub(database, InProcessBus(), window=0.01)
    try:
        bid = await make_broadcast(db)
        author = await member(db, "member@example.jp")
        room = await hub.room(bid)
        assert room is not None
        await hub.join(Viewer(RecordingSink(), 1), room, 1, None)
        room.average_gap, room.accepted_at = 0.0, hub.loop.time()  # busy
        await publish_comment(hub.bus, bid, await posting.post_comment(db, bid, author, "c", None))
        for _ in range(20):
            if room._flush_handle is not None:
                break
            await asyncio.sleep(0)
        handle = room._flush_handle
        assert isinstance(handle, asyncio.TimerHandle)
        assert handle.when() - hub.loop.time() > 0.05  # MAX_WINDOW (0.1 s), not the hub's 0.01 s
    finally:
        await hub.close()
        await database.dispose()


async def test_an_idle_room_sends_at_once_and_a_busy_one_coalesces(settings, db, demo, monkeypatch):
    database = Database(settings.database_url)
    hub = Hub(database, InProcessBus(), window=60.0)  # a window no test run waits out
    try:
        bid = await make_broadcast(db)
        author = await member(db, "member@example.jp")
        room = await hub.room(bid)
        assert room is not None
        sink = RecordingSink()
        await hub.join(Viewer(sink, 1), room, 1, None)
        posted = [await posting.post_comment(db, bid, author, f"c{i}", None) for i in range(5)]

        def end_window() -> float:
            """The comments wait for the window's timer: end the window now, as the timer would;
            returns the seconds the timer had left."""
            handle = room._flush_handle
            assert isinstance(handle, asyncio.TimerHandle)
            left = handle.when() - hub.loop.time()
            handle.cancel()
            room.flush()
            return left

        # Idle (no comment within the window before it): the comment goes out now, not 60 s later.
        await publish_comment(hub.bus, bid, posted[0])
        await sink.wait_for([1])
        # Busy (each comes less than a window after the one before): the next comments gather.
        for p in posted[1:3]:
            await publish_comment(hub.bus, bid, p)
        for _ in range(5):
            await asyncio.sleep(0)
        assert sink.positions() == [1]
        assert end_window() > 59
        # One long gap in a busy room (a lagging loop) keeps the window: the average decides too.
        room.average_gap, room.accepted_at = 0.5 * hub.window, hub.loop.time() - 2 * hub.window
        await publish_comment(hub.bus, bid, posted[3])
        end_window()
        # Quiet, but too many viewer writes for a frame per comment: the window again.
        monkeypatch.setattr(fanout, "IMMEDIATE_WRITES_PER_S", 0)
        room.average_gap, room.accepted_at = 2 * hub.window, hub.loop.time() - 2 * hub.window
        await publish_comment(hub.bus, bid, posted[4])
        end_window()
        frames = [m for m in sink.messages if m["type"] == "comments"]
        assert [[i["position"] for i in f["items"]] for f in frames] == [[1], [2, 3], [4], [5]]
    finally:
        await hub.close()
        await database.dispose()
