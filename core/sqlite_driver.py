"""SQLite through aiosqlite with one thread hop per statement instead of four.

SQLAlchemy's aiosqlite adapter sends each step of a statement to aiosqlite's thread on its own:
open a cursor, execute, fetch all rows, close the cursor — four round trips, each a queue put, a
thread wake-up, a GIL hand-over and a future resolved through the event loop's self-pipe. A page
runs 5–10 statements, so hops cost more than the queries (about 0.1 ms of CPU and 0.3 ms or more
of waiting each on a busy machine). Here a statement's whole life runs in one trip: the rows,
`description`, `rowcount` and `lastrowid` come back together. Everything else (transactions,
server-side cursors for `stream()`, errors, the per-connection mutex) is SQLAlchemy's own.

A short read needs no trip at all: outside a transaction, a SELECT runs inline on the event loop
(`_run` in the caller's thread, with the connection's mutex held, so aiosqlite's thread is idle for
that connection). A trip costs the thread hand-over twice, and on a loaded process each hand-over
waits for the GIL (up to `sys.getswitchinterval()`, 5 ms); a primary-key read costs tens of
microseconds inline. A read that once took longer than `INLINE_BUDGET` is sent to the thread from
then on (remembered by its SQL text), so a long search never holds the loop twice; writes and
everything inside a transaction (which may wait on the write lock) always go to the thread. The
connections are opened with `check_same_thread=False` (sqlite3's threadsafety is 3: serialized).

Used through `create_async_engine(..., module=one_hop_dbapi())` (core.db), the public way to give a
dialect another DBAPI module. It relies on aiosqlite's `Connection._execute(fn)` (run `fn` in the
connection's thread) and on the shape of SQLAlchemy's asyncio cursor adapter: both versions are
bounded in pyproject.toml, and tests/core/test_sqlite_driver.py checks the behaviour it must keep.
"""

from __future__ import annotations

import collections
import sqlite3
import time
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

Outcome = tuple[Any, int, int | None, list[Any]]

INLINE_BUDGET = 0.002  # seconds: a read slower than this once runs on the thread from then on
MAX_SLOW = 1000  # SQL texts remembered as slow (the app has far fewer statement shapes)
_slow: set[str] = set()


def _inline(raw: sqlite3.Connection | None, operation: str, many: bool) -> bool:
    """A read outside a transaction that has never been slow."""
    return (
        not many
        and raw is not None
        and not raw.in_transaction
        and operation[:6].upper() == "SELECT"
        and operation not in _slow
    )


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> Outcome:
    """In aiosqlite's thread: the statement from cursor to close."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statement runs in one trip to the connection's thread."""

    __slots__ = ("_outcome",)

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # No aiosqlite cursor is opened here (that was a hop of its own).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._outcome: Outcome = (None, -1, None, [])

    @property
    def description(self) -> Any:
        return self._outcome[0]

    @property
    def rowcount(self) -> int:
        return self._outcome[1]

    @property
    def lastrowid(self) -> int:
        return self._outcome[2]  # type: ignore[return-value]

    def execute(self, operation: Any, parameters: Any = None) -> None:
        try:
            await_(self._trip(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        try:
            await_(self._trip(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _trip(self, operation: str, parameters: Any, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._adapt_connection._execute_mutex:
            raw = connection._connection
            if _inline(raw, operation, many):
                assert raw is not None
                started = time.perf_counter()
                self._outcome = _run(raw, operation, parameters, many)
                if time.perf_counter() - started > INLINE_BUDGET and len(_slow) < MAX_SLOW:
                    _slow.add(operation)
            else:
                trip = connection._execute(_run, connection._conn, operation, parameters, many)  # type: ignore[no-untyped-call]
                self._outcome = await trip
        self._rows = collections.deque(self._outcome[3])

    async def _async_soft_close(self) -> None:
        return None  # nothing is open between trips

    def close(self) -> None:
        self._rows.clear()


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """Commit and rollback skip their trip when sqlite3 has no transaction open: reads never open one
    (sqlite3 begins implicitly before a write), so returning a connection to the pool after a page's
    reads — a rollback — no longer waits for the thread. sqlite3 itself would do nothing either."""

    __slots__ = ()
    _cursor_cls = OneHopCursor  # type: ignore[assignment]

    def _idle(self) -> bool:
        raw = self._connection._connection
        return raw is not None and not raw.in_transaction

    def rollback(self) -> None:
        if not self._idle():
            super().rollback()

    def commit(self) -> None:
        if not self._idle():
            super().commit()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


def one_hop_dbapi() -> OneHopDBAPI:
    return OneHopDBAPI(aiosqlite, sqlite3)
