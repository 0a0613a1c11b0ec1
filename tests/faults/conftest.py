"""Fixtures for fault tests: a clean PostgreSQL database with demo data, rooms with lifted rate limits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from live.rooms import service
from live.rooms.protocol import Limits
from tests.conftest import REDIS_TEST_URL, _truncate_postgres, redis_available, require
from tests.factories import session_at
from tests.live.rooms_support import make_broadcast, token_for
from tests.servers import prepare_database


def server_env(tmp: Path, database_url: str, redis_url: str | None = REDIS_TEST_URL, **extra: str) -> dict[str, str]:
    env = {"VAR_DIR": str(tmp), "SECRET_KEY": "k" * 48, "LOG_LEVEL": "WARNING", "DATABASE_URL": database_url}
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


@pytest.fixture
def pg_demo(postgres_url: str, tmp_path: Path) -> dict[str, str]:
    """The session's PostgreSQL database emptied, migrated and loaded with demo data; the servers' env."""
    require(redis_available(), "Redis")
    asyncio.run(_truncate_postgres(postgres_url))
    env = server_env(tmp_path, postgres_url)
    prepare_database(env)
    return env


async def open_room(database_url: str, people: list[str], **limits: int) -> tuple[int, dict[str, str]]:
    """A live broadcast whose room lets everyone post quickly; an API token per demo member."""
    async with session_at(database_url) as s:
        room = await make_broadcast(s)
        await service.set_limits(
            s,
            room,
            Limits(
                max_length=limits.get("max_length", 200),
                rate_count=limits.get("rate_count", 1000),
                rate_seconds=limits.get("rate_seconds", 30),
            ),
        )
        tokens = {who: await token_for(s, f"{who}@example.jp") for who in people}
        return room, tokens


def server_errors(log: str) -> list[str]:
    """Lines of a server log that report an unhandled failure."""
    return [line for line in log.splitlines() if "Traceback" in line or " ERROR " in line or "unhandled" in line]


def read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
