"""core.sqlite_driver: short reads inline, otherwise one trip to aiosqlite's thread per statement,
with the DBAPI behaviour SQLAlchemy relies on."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from core import sqlite_driver
from core.db import Database
from core.sqlite_driver import OneHopConnection, OneHopCursor

metadata = MetaData()
things = Table("things", metadata, Column("id", Integer, primary_key=True), Column("name", String(20), unique=True))


@pytest.fixture
async def database(tmp_path: Path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield db
    await db.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every function sent to aiosqlite's thread."""
    sent: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return sent


async def test_the_engine_uses_the_one_hop_driver(database: Database) -> None:
    async with database.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert type(raw.dbapi_connection) is OneHopConnection
        assert type(raw.dbapi_connection.cursor()) is OneHopCursor


async def test_a_short_read_runs_inline_and_a_read_only_session_returns_without_a_trip(
    database: Database, trips: list[str]
) -> None:
    async with database.session() as s:
        await s.execute(select(things.c.id))  # the connection is checked out and warmed
        trips.clear()
        rows = (await s.execute(text("SELECT 1 AS one, 'a' AS two"))).all()
        assert [tuple(r) for r in rows] == [(1, "a")]
        assert trips == []
    assert trips == []  # returning the connection: nothing to roll back, no trip


async def test_inside_a_transaction_every_statement_is_one_trip(database: Database, trips: list[str]) -> None:
    async with database.session() as s:
        await s.execute(insert(things).values(name="x"))
        assert trips.count("_run") == 1
        assert (await s.execute(select(things.c.name))).scalars().all() == ["x"]  # sees its own write
        assert trips.count("_run") == 2
        await s.commit()


async def test_a_read_that_was_once_slow_goes_to_the_thread_from_then_on(
    database: Database, trips: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_driver, "INLINE_BUDGET", -1.0)  # every read counts as slow
    monkeypatch.setattr(sqlite_driver, "_slow", set())
    query = text("SELECT 2 AS two")
    async with database.session() as s:
        assert (await s.execute(query)).scalar() == 2
        assert trips == []  # the first run was inline, and measured
        assert (await s.execute(query)).scalar() == 2
        assert trips == ["_run"]
    assert sqlite_driver._slow == {"SELECT 2 AS two"}


async def test_writes_report_rowcount_lastrowid_and_commit_or_roll_back(database: Database) -> None:
    async with database.session() as s:
        result = await s.execute(insert(things).values(name="a"))
        assert result.inserted_primary_key == (1,)
        await s.execute(insert(things), [{"name": "b"}, {"name": "c"}])  # executemany
        assert (await s.execute(update(things).where(things.c.id > 1).values(name=things.c.name + "!"))).rowcount == 2
        await s.commit()
        await s.execute(delete(things).where(things.c.name == "a"))
        await s.rollback()
    async with database.session() as s:
        names = (await s.execute(select(things.c.name).order_by(things.c.id))).scalars().all()
        assert names == ["a", "b!", "c!"]
        result = await s.execute(select(things.c.id, things.c.name).where(things.c.id == 1))
        assert list(result.keys()) == ["id", "name"]
        assert result.one() == (1, "a")


async def test_errors_are_the_dbapi_errors_and_leave_the_connection_usable(database: Database) -> None:
    async with database.session() as s:
        await s.execute(insert(things).values(name="same"))
        with pytest.raises(IntegrityError):
            await s.execute(insert(things).values(name="same"))
        await s.rollback()
        assert (await s.execute(select(things.c.id))).all() == []
        with pytest.raises(Exception, match="no such table"):
            await s.execute(text("SELECT * FROM nowhere"))


async def test_streaming_still_uses_a_server_side_cursor(database: Database) -> None:
    async with database.session() as s:
        await s.execute(insert(things), [{"name": f"n{i}"} for i in range(250)])
        await s.commit()
        streamed = await s.stream(select(things.c.id).order_by(things.c.id))
        ids = [row[0] async for row in streamed]
        assert ids == list(range(1, 251))
