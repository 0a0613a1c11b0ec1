"""Alembic upgrades an empty database to the current schema on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect

from core.db import Base, Database
from core.migrate import upgrade
from tests.conftest import asyncpg_url, scratch_postgres


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
    with scratch_postgres("chonai_mig") as plain:
        url = asyncpg_url(plain)
        upgrade(url)
        assert _tables(url) == _expected()
        upgrade(url)
