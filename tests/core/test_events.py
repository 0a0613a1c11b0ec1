"""The event bus delivers to every subscriber, in-process and across processes through Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from core.events import InProcessBus, RedisBus, create_bus
from tests.conftest import REDIS_TEST_URL, redis_available, require
from tests.helpers import until_subscribed


async def test_in_process_bus_delivers_in_order_and_unsubscribes():
    bus = InProcessBus()
    got: list[bytes] = []

    def cb(channel: str, data: bytes) -> None:
        got.append(data)

    await bus.subscribe("room:1", cb)
    for i in range(3):
        await bus.publish("room:1", str(i).encode())
    await bus.publish("room:2", b"other room")
    await bus.unsubscribe("room:1", cb)
    await bus.publish("room:1", b"after")
    assert got == [b"0", b"1", b"2"]


async def test_failing_callback_does_not_starve_others():
    bus = InProcessBus()
    got: list[bytes] = []

    def broken(channel: str, data: bytes) -> None:
        raise RuntimeError("boom")

    await bus.subscribe("c", broken)
    await bus.subscribe("c", lambda ch, d: got.append(d))
    await bus.publish("c", b"x")
    assert got == [b"x"]


async def _wait_healthy(bus: RedisBus) -> None:
    async with asyncio.timeout(5):
        while not bus.healthy:  # noqa: ASYNC110 (the bus exposes a flag, not an event)
            await asyncio.sleep(0.01)


@pytest.mark.redis
async def test_redis_bus_shares_channels_between_two_buses():
    require(redis_available(), "Redis")
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    a, b = RedisBus(REDIS_TEST_URL, prefix), RedisBus(REDIS_TEST_URL, prefix)
    await a.start()
    await b.start()
    try:
        await _wait_healthy(a)
        await _wait_healthy(b)
        received: asyncio.Queue[bytes] = asyncio.Queue()
        await b.subscribe("room:7", lambda ch, d: received.put_nowait(d))
        await until_subscribed(REDIS_TEST_URL, prefix + "room:7")  # SUBSCRIBE is acknowledged asynchronously
        for i in range(20):
            await a.publish("room:7", f"c{i}".encode())
        async with asyncio.timeout(5):
            got = [await received.get() for _ in range(20)]
        assert got == [f"c{i}".encode() for i in range(20)]
    finally:
        await a.close()
        await b.close()


@pytest.mark.redis
async def test_redis_prefix_keeps_deployments_apart():
    """Two deployments sharing one Redis (REDIS_PREFIX) never see each other's rooms."""
    require(redis_available(), "Redis")
    tag = uuid.uuid4().hex[:8]
    ours, theirs, publisher = (create_bus(REDIS_TEST_URL, f"{name}-{tag}:") for name in ("a", "b", "a"))
    buses = [ours, theirs, publisher]
    for bus in buses:
        await bus.start()
    try:
        got: dict[str, list[bytes]] = {"ours": [], "theirs": []}
        await ours.subscribe("room:1", lambda ch, d: got["ours"].append(d))
        await theirs.subscribe("room:1", lambda ch, d: got["theirs"].append(d))
        await until_subscribed(REDIS_TEST_URL, f"a-{tag}:room:1")
        await until_subscribed(REDIS_TEST_URL, f"b-{tag}:room:1")
        await publisher.publish("room:1", b"hello")
        await theirs.publish("room:1", b"sentinel")  # theirs hears its own sentinel after anything of ours
        async with asyncio.timeout(5):
            while not got["theirs"] or not got["ours"]:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert got == {"ours": [b"hello"], "theirs": [b"sentinel"]}
    finally:
        for bus in buses:
            await bus.close()
