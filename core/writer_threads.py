"""Short write transactions on a thread of their own, away from a busy event loop.

A hot write path (a room's comment batches) holds a lock in the database from its first
statement to its commit. Run on the server's event loop, every statement's answer waits for
the loop's next turn, and a loop busy writing frames to thousands of viewers turns a 2 ms
transaction into 15-30 ms under the lock: with two processes writing one room, their
batches queue on it and the room's comment rate collapses (measured with `chonai bench
fanout --find-max`). Here the whole transaction runs elsewhere and is one hop for the loop.

- SQLite: one blocking connection on one thread (`SqliteThread`). Through aiosqlite every
  statement is a hop to its thread and back; here the batch is one. One thread also
  serialises this process's writes (SQLite has one writer).
- PostgreSQL: an event loop on a thread of its own with its own small asyncpg pool
  (`PostgresThread`); asyncpg's command and connect timeouts (`core.db.Database`) still bound
  every statement, so a partitioned database fails the write instead of hanging it.

`writer_thread(url, pool_size)` picks the one for a database URL (None: run on the caller's session).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from core.db import COMMAND_TIMEOUT, Database, blocking_sqlite_engine

T = TypeVar("T")

#: Connections of a process's PostgreSQL writer: rooms writing at the same time take one each.
POSTGRES_WRITERS = 4


class WriterThread(Protocol):
    async def run(self, fn: Callable[[Session], T]) -> T:
        """`fn(session)` on the thread; the session is closed (rolled back if `fn` did not commit) after."""
        ...

    def close(self) -> None:
        """Stop after the transactions already handed over (their callers get their answers)."""
        ...


class SqliteThread:
    """A process's one blocking SQLite connection, on a thread of its own."""

    def __init__(self, url: str) -> None:
        self._engine = blocking_sqlite_engine(url)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="chonai-sqlite-writer")

    async def run(self, fn: Callable[[Session], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._in_session, fn)

    def _in_session(self, fn: Callable[[Session], T]) -> T:
        with self._sessions() as session:
            return fn(session)

    def close(self) -> None:
        self._thread.submit(self._engine.dispose)
        self._thread.shutdown(wait=False)


class PostgresThread:
    """An event loop on a daemon thread with a pool of its own: transactions there wait for nobody."""

    def __init__(self, url: str, connections: int = POSTGRES_WRITERS) -> None:
        # No pre-ping: a connection that died fails its batch, whose senders resend (`unavailable`).
        self._db = Database(url, pool_size=connections, pre_ping=False)
        self._loop = asyncio.new_event_loop()
        self._closing = False
        self._thread = threading.Thread(target=self._serve, name="chonai-postgres-writer", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def run(self, fn: Callable[[Session], T]) -> T:
        if self._closing:
            raise RuntimeError("the writer thread is closed")
        future = asyncio.run_coroutine_threadsafe(self._in_session(fn), self._loop)
        try:
            # Shielded: a caller that goes away must not cancel a transaction half done on the other loop.
            return await asyncio.shield(asyncio.wrap_future(future))
        except asyncio.CancelledError:
            future.cancel()  # not started yet: it never will
            raise

    async def _in_session(self, fn: Callable[[Session], T]) -> T:
        async with self._db.session() as session:
            return await session.run_sync(fn)

    def close(self) -> None:
        """Let the transactions under way finish (bounded), dispose of the pool, stop the thread."""
        if self._closing:
            return
        self._closing = True

        async def finish() -> None:
            try:
                under_way = asyncio.all_tasks() - {asyncio.current_task()}
                if under_way:
                    await asyncio.wait(under_way, timeout=COMMAND_TIMEOUT)
                await self._db.dispose()
            finally:
                self._loop.stop()

        asyncio.run_coroutine_threadsafe(finish(), self._loop)


def writer_thread(url: str, pool_size: int = 10) -> WriterThread | None:
    """The writer thread for a database URL; None for an in-memory SQLite (one connection, the caller's).

    `pool_size` 0 (DATABASE_POOL_SIZE=0: PgBouncer in transaction mode) gives PostgreSQL's thread
    no pool either: a connection per batch, as the app's own sessions do."""
    if url.startswith("sqlite"):
        return None if ":memory:" in url else SqliteThread(url)
    return PostgresThread(url, POSTGRES_WRITERS if pool_size > 0 else 0)
