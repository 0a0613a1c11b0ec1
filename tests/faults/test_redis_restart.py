"""Redis restarts under a running server: the outage shows in /readyz, the bus reconnects by itself."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid

import httpx
import pytest

from core.events import RedisBus
from tests.conftest import free_port, require
from tests.helpers import until_subscribed
from tests.servers import ServerProcess, prepare_database

pytestmark = [pytest.mark.redis, pytest.mark.slow]


class PrivateRedis:
    """A redis-server of this test's own, so stopping it disturbs nobody else."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                import socket

                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def private_redis():
    require(shutil.which("redis-server") is not None, "redis-server")
    redis = PrivateRedis()
    redis.start()
    yield redis
    redis.stop()


async def _until(predicate, within: float = 15) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 (polling an external process's effect)
            await asyncio.sleep(0.05)


async def test_bus_reconnects_after_redis_restart_and_tells_consumers(private_redis):
    bus = RedisBus(private_redis.url, prefix=f"t{uuid.uuid4().hex[:6]}:")
    reconnects: list[int] = []
    received: list[bytes] = []
    bus.on_reconnect(lambda: reconnects.append(1))
    await bus.start()
    try:
        await bus.subscribe("room:1", lambda ch, d: received.append(d))
        await _until(lambda: bus.healthy)
        private_redis.stop()
        await _until(lambda: not bus.healthy)
        with pytest.raises(Exception):  # publishing during the outage fails loudly, never silently
            await bus.publish("room:1", b"lost?")
        private_redis.start()
        await _until(lambda: bus.healthy and reconnects == [1])
        # The subscription was restored: messages flow again without anyone re-subscribing.
        await until_subscribed(private_redis.url, bus.prefix + "room:1")
        await bus.publish("room:1", b"after restart")
        await _until(lambda: received == [b"after restart"])
    finally:
        await bus.close()


def test_readyz_shows_the_outage_and_recovers(private_redis, tmp_path):
    env = {"VAR_DIR": str(tmp_path), "SECRET_KEY": "r" * 48, "LOG_LEVEL": "WARNING", "REDIS_URL": private_redis.url}
    prepare_database(env)
    server = ServerProcess(env, tmp_path / "server.log").start()
    try:
        ready = httpx.get(server.url + "/readyz").json()
        assert ready["checks"] == {"database": "ok", "redis": "ok"}
        private_redis.stop()
        deadline = time.monotonic() + 15
        while (response := httpx.get(server.url + "/readyz")).status_code != 503:
            assert time.monotonic() < deadline, response.text
            time.sleep(0.1)
        assert response.json()["checks"]["redis"].startswith("error")
        assert httpx.get(server.url + "/healthz").status_code == 200  # alive, just not ready
        private_redis.start()
        deadline = time.monotonic() + 15
        while (response := httpx.get(server.url + "/readyz")).status_code != 200:
            assert time.monotonic() < deadline, response.text
            time.sleep(0.1)
        assert "redis bus lost its connection" in (tmp_path / "server.log").read_text()
    finally:
        server.stop()
