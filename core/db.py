"""The SQL layer: declarative base, UTC timestamps and the async engine.

Boundary rule: every timestamp is UTC and timezone-aware in Python; SQLite stores
it naive-UTC, PostgreSQL as timestamptz. Display code converts to Asia/Tokyo.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from core.settings import seconds_variable
from core.sqlite_driver import one_hop_dbapi

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in and out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def save_unique(db: AsyncSession, refusal: Exception, *, flush: bool = False) -> None:
    """Commit (or only flush): when a unique key says another request got there first, roll back and raise `refusal`."""
    try:
        await (db.flush() if flush else db.commit())
    except IntegrityError:
        await db.rollback()
        raise refusal from None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; busy_timeout waits instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def blocking_sqlite_engine(url: str) -> Engine:
    """A blocking engine on the same SQLite file, with the same pragmas, for a thread of its own.

    For writers that run a whole transaction in one hop to a thread (`live.rooms.posting`) instead
    of one hop per statement through aiosqlite. One connection: one writer.
    """
    engine = create_engine(url.replace("sqlite+aiosqlite://", "sqlite://", 1), pool_size=1, max_overflow=0)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _timeout() -> float:
    return seconds_variable("DATABASE_TIMEOUT", os.environ.get("DATABASE_TIMEOUT", "").strip(), 10.0, 0.5, 600)


#: PostgreSQL: seconds to wait for any one statement's answer (DATABASE_TIMEOUT, default 10)
#: and to establish a connection (at most 5). Without them a partitioned network (packets
#: dropped, no reset) hangs requests for minutes (the kernel's TCP timeouts); with them
#: callers fail fast with a "try again" error.
COMMAND_TIMEOUT = _timeout()
CONNECT_TIMEOUT = min(5.0, COMMAND_TIMEOUT)


class Database:
    """One engine and session factory per process."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        echo: bool = False,
        command_timeout: float | None = COMMAND_TIMEOUT,
        pre_ping: bool = True,
    ) -> None:
        """`command_timeout=None` for bulk loads and maintenance that may rightly take long (PostgreSQL).

        `pre_ping=False` saves a round trip per checkout where a dead connection may fail its
        transaction (the caller retries; the pool then drops it): a hot write path.
        """
        self.url = url
        self.pool_size = pool_size  # 0: no pooling, which the comment writer thread follows too
        kwargs: dict[str, Any] = {"echo": echo}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 10}
            if url.startswith("sqlite+aiosqlite"):
                # Short reads run inline on the loop's thread (core.sqlite_driver); sqlite3 is serialized.
                kwargs["connect_args"]["check_same_thread"] = False
                kwargs["module"] = one_hop_dbapi()  # one thread hop per statement, not four
        else:
            # No JIT: every query here is short, and PostgreSQL would compile one whose estimated cost
            # passes jit_above_cost (a search over several common words: 70 ms of compiling).
            kwargs["connect_args"] = {
                "timeout": CONNECT_TIMEOUT,
                "command_timeout": command_timeout,
                "server_settings": {"jit": "off"},
            }
        if not url.startswith("sqlite") and pool_size > 0:
            kwargs.update(
                pool_size=pool_size,
                max_overflow=2 * pool_size,
                pool_pre_ping=pre_ping,
                pool_recycle=1800,
                pool_timeout=COMMAND_TIMEOUT,
            )
        if pool_size == 0 or ":memory:" in url:
            # No pooling: for PgBouncer in transaction mode, and for tests that run the app on several loops.
            kwargs["poolclass"] = NullPool
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> AsyncSession:
        return self.sessionmaker()

    async def sessions(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    async def ping(self) -> None:
        from sqlalchemy import text

        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
