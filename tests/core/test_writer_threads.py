"""The comment writer thread follows DATABASE_POOL_SIZE: pooled by default, no pool at 0 (PgBouncer)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from core.writer_threads import POSTGRES_WRITERS, PostgresThread, writer_thread


def _answer(session: Session) -> int:
    return int(session.execute(text("SELECT 41 + 1")).scalar_one())


@pytest.mark.parametrize("pool_size", [10, 0])
async def test_the_postgres_writer_thread_pools_only_when_the_app_does(postgres_url, pool_size) -> None:
    writer = writer_thread(postgres_url, pool_size)
    assert isinstance(writer, PostgresThread)
    try:
        pool = writer._db.engine.pool
        if pool_size:
            assert pool.size() == POSTGRES_WRITERS  # type: ignore[attr-defined]
        else:
            assert isinstance(pool, NullPool)
        assert await writer.run(_answer) == 42
    finally:
        writer.close()
