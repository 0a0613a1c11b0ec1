"""Shared fixtures: the app on SQLite and on PostgreSQL, real services, logged-in clients.

Under CI=true a test whose service (PostgreSQL, Redis, Chromium) is missing fails
instead of skipping, so a green CI always means those tests ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from core.settings import Settings, load_settings

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Redis pub/sub is global across database numbers: each xdist worker (and the servers it starts,
# which inherit this environment) gets its own channel and key namespace; the pid keeps two
# suites run side by side (two checkouts) apart as well.
os.environ["REDIS_PREFIX"] = f"chonai-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{os.getpid()}:"
# Argon2 at its cheapest (core/members/service.py): the suite hashes and verifies passwords thousands of times.
os.environ["CHONAI_FAST_PASSWORD_HASH"] = "1"


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def require(available: bool, what: str) -> None:
    """Skip locally when a service is missing; fail under CI, where skipping would hide it."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is not available", pytrace=False)
    pytest.skip(f"{what} not available")


def postgres_available() -> bool:
    return _reachable(POSTGRES_ADMIN_URL, 5432)


def redis_available() -> bool:
    return _reachable(REDIS_TEST_URL, 6379)


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


def make_settings(tmp: Path, database_url: str, **env: str) -> Settings:
    base = {
        "VAR_DIR": str(tmp),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-" + "x" * 40,
        "LOG_LEVEL": "WARNING",
        "DATABASE_POOL_SIZE": "0",  # test clients run the app on their own event loops
        "REDIS_PREFIX": os.environ["REDIS_PREFIX"],
    }
    base.update(env)
    return load_settings(base)


# --- databases -----------------------------------------------------------------------------


def _migrate(url: str) -> None:
    from core.migrate import upgrade

    upgrade(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (migrating is slower than copying)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    _migrate(f"sqlite+aiosqlite:///{path}")
    return path


def admin_sql(statement: str) -> None:
    """One statement (CREATE/DROP DATABASE) on the PostgreSQL server as its administrator."""
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


@contextlib.contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """A new empty PostgreSQL database named `<prefix>_<random>`, dropped afterwards; yields its plain URL."""
    require(postgres_available(), "PostgreSQL")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://{urlsplit(POSTGRES_ADMIN_URL).netloc}/{name}"
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def asyncpg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated from empty, dropped at the end."""
    with scratch_postgres("chonai_test") as plain:
        url = asyncpg_url(plain)
        _migrate(url)
        yield url


async def _truncate_postgres(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        if tables:
            names = ", ".join(f'"{t["tablename"]}"' for t in tables)
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every test that uses the database runs on SQLite and on PostgreSQL."""
    from core.search import glossary, query

    # The search engine caches per process what a server's one database holds; tests swap databases.
    glossary.forget()
    query.forget()
    if request.param == "sqlite":
        path = tmp_path / "chonai.db"
        if "demo" in request.fixturenames:  # a copy with the demo data already in it (see `demo`)
            from tests.servers import sqlite_template

            shutil.copy(sqlite_template(demo=True), path)
            request.node.stash[DEMO_COPIED] = True
        else:
            shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
        asyncio.run(_truncate_postgres(url))
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def app(settings: Settings) -> Litestar:
    from web.app import create_app

    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as c:
        yield c


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Any]:
    """A session of the test's own (the test client runs the app on another event loop)."""
    from core.db import Database

    database = Database(settings.database_url)
    async with database.session() as session:
        yield session
    await database.dispose()


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[Any]:
    """A real `chonai serve` on its own SQLite file with the demo data (browser tests)."""
    from tests.servers import serve

    with serve(tmp_path) as proc:
        yield proc


#: Set by `database_url` on a test whose SQLite file it copied from a template with the demo data.
DEMO_COPIED = pytest.StashKey[bool]()


@pytest.fixture
async def demo(request: pytest.FixtureRequest, db: Any) -> None:
    """The demo data. On SQLite `database_url` has copied it in with the file, before any other fixture
    wrote anything (a template loaded by `chonai demo`'s own function at most two minutes before:
    tests/servers.py); on PostgreSQL it is loaded here."""
    if request.node.stash.get(DEMO_COPIED, False):
        return
    from web.demo import load_demo

    await load_demo(db)


# --- which tests run on both databases ------------------------------------------------------
#
# Tests of pages and HTTP/socket behaviour are marked `sqlite_only` (module `pytestmark`): the SQL
# they reach is covered on both databases by the service and engine tests, and running them twice
# doubled the suite's time. `both_databases` on a test opts it back in (its SQL differs by
# database: searching, case folding, filters); CHONAI_TEST_ALL_DATABASES=1 runs everything on both.
ALL_DATABASES = os.environ.get("CHONAI_TEST_ALL_DATABASES", "").lower() in {"1", "true", "yes"}


# --- sockets left to the garbage collector ------------------------------------------------------
#
# pyproject's warning filters name only the database drivers' finalisers: a client socket, transport
# or stream a test leaves open fails with ResourceWarning / PytestUnraisableExceptionWarning. A socket
# freed by reference counting warns at once; one held in a reference cycle (asyncio transports,
# httpx clients) only warns when the collector meets it, which may be during a later test. After
# every test that opens real sockets (servers, Redis, Chromium) a full collection runs in its
# teardown, so the leak fails the test that made it (pytest reports unraisable exceptions at the end
# of each phase); the other tests talk to the app in process and skip the cost (a full collection
# takes 50-200 ms with the suite's heap).
REAL_SOCKET_MARKERS = ("slow", "browser", "redis")


@pytest.fixture(autouse=True)
def _collect_leaked_sockets(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if any(request.node.get_closest_marker(name) for name in REAL_SOCKET_MARKERS):
        gc.collect()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ALL_DATABASES:
        return
    keep, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("database_url") == "postgres"
        narrowed = item.get_closest_marker("sqlite_only") and not item.get_closest_marker("both_databases")
        (dropped if on_postgres and narrowed else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The Chromium that browser tests share in this process (tests/browser.py) ends with the session."""
    import sys

    browser = sys.modules.get("tests.browser")
    if browser is not None:
        browser.shutdown()
