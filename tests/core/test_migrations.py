"""Alembic upgrades an empty database to the current schema on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import inspect

from core.db import Base, Database
from core.migrate import upgrade
from tests.conftest import POSTGRES_ADMIN_URL, postgres_available, require


def _tables(url: str) -> set[str]:
    async def go() -> set[str]:
        db = Database(url, pool_size=0)
        async with db.engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        await db.dispose()
        return names

    return asyncio.run(go())


def _expected() -> set[str]:
    import migrations.models  # noqa: F401  (every domain's tables)

    return set(Base.metadata.tables) | {"alembic_version"}


def test_upgrade_from_empty_on_sqlite(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    upgrade(url)
    assert _tables(url) == _expected()
    upgrade(url)  # running again is a no-op


@pytest.mark.postgres
def test_upgrade_from_empty_on_postgres():
    require(postgres_available(), "PostgreSQL")
    import asyncpg

    name = f"chonai_mig_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        url = POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + "/" + name
        upgrade(url)
        assert _tables(url) == _expected()
        upgrade(url)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
