"""Real server processes for browser, scale-out and fault tests."""

from __future__ import annotations

import argparse
import atexit
import concurrent.futures
import contextlib
import datetime as dt
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.settings import Settings, load_settings
from tests.conftest import free_port


@dataclass
class ServerProcess:
    """`chonai serve` in a child process with its own environment; waits until /healthz answers."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> ServerProcess:  # only waits that long on a busy machine
        self.launch()
        return self.wait_ready(timeout)

    def launch(self) -> ServerProcess:
        """Start the process without waiting for it (`wait_ready` waits; `start_all` starts several)."""
        env = {**os.environ, **self.env, "PORT": str(self.port), "HOST": "127.0.0.1"}
        env.setdefault("BASE_URL", self.url)
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "web.cli", "serve", "--port", str(self.port), "--workers", "1"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_ready(self, timeout: float = 90) -> ServerProcess:
        assert self.proc is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        self.kill()  # a server that never answered does not outlive the test that started it
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def start_all(servers: Sequence[ServerProcess], timeout: float = 90) -> None:
    """Start several servers at once (their start-ups overlap) and wait until each answers. Call it
    where the servers are stopped afterwards also when one of them fails to start."""
    for server in servers:
        server.launch()
    for server in servers:
        server.wait_ready(timeout)


#: How long a process reuses its migrated (and demo) SQLite template. The demo data is placed around the
#: moment it was loaded (a broadcast on air since 20 minutes ago, this week's programmes, this JST day):
#: a template is only copied while it is younger than this and from the same JST day, so a copy never
#: holds data much older than a fresh load would be by the time a slow test reaches it.
TEMPLATE_MAX_AGE = 120.0
_templates: dict[bool, tuple[Path, float, dt.date]] = {}


def _jst_today() -> dt.date:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).date()


def _migrate_and_load(settings: Settings, demo: bool) -> None:
    """`chonai migrate` (and `chonai demo`) run in this process: the commands' own functions, in a
    thread of their own (they call asyncio.run, and an async test's loop may be running here)."""
    from web.cli.serving import cmd_demo, cmd_migrate

    def run() -> None:
        cmd_migrate(settings, argparse.Namespace())
        if demo:
            with contextlib.redirect_stdout(io.StringIO()):  # its "demo data loaded" line
                cmd_demo(settings, argparse.Namespace(quiet=True))

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(run).result()


def sqlite_template(demo: bool) -> Path:
    """A migrated SQLite file (with the demo data) to copy: this process's, made again when too old."""
    cached = _templates.get(demo)
    if cached is not None and time.monotonic() - cached[1] < TEMPLATE_MAX_AGE and cached[2] == _jst_today():
        return cached[0]
    folder = Path(tempfile.mkdtemp(prefix="chonai-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    today, made = _jst_today(), time.monotonic()
    _migrate_and_load(load_settings({"VAR_DIR": str(folder), "SECRET_KEY": "t" * 48}), demo)
    if cached is not None:
        shutil.rmtree(cached[0].parent, ignore_errors=True)
    _templates[demo] = (folder / "chonai.db", made, today)
    return folder / "chonai.db"


def prepare_database(env: dict[str, str], demo: bool = True) -> None:
    """Migrate (and load demo data) as `chonai migrate` and `chonai demo` do, with their own functions.

    A new SQLite file is a copy of a template this process migrated (and loaded) a moment ago: the
    same bytes, without paying for the migrations and the demo data once per server. Running the
    commands as processes is test_cli's business.
    """
    settings = load_settings({**os.environ, **env})
    path = Path(settings.database_url.removeprefix("sqlite+aiosqlite:///")) if settings.is_sqlite else None
    if path is not None and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sqlite_template(demo), path)
        return
    _migrate_and_load(settings, demo)


@contextlib.contextmanager
def serve(
    tmp: Path,
    *,
    demo: bool = True,
    seed: Callable[[str], object] | None = None,
    log_name: str = "server.log",
    **env: str,
) -> Iterator[ServerProcess]:
    """The one way tests run a server: its own VAR_DIR (SQLite there unless DATABASE_URL is given),
    migrated (and demo data), `seed(database_url)` before it starts, always stopped afterwards.

    The process carries `env`, `db_url` and whatever `seed` returned as `seeded`.
    """
    full = {"VAR_DIR": str(tmp), "SECRET_KEY": "t" * 48, "LOG_LEVEL": "WARNING", **env}
    prepare_database(full, demo=demo)
    db_url = full.get("DATABASE_URL") or f"sqlite+aiosqlite:///{tmp / 'chonai.db'}"
    seeded = seed(db_url) if seed is not None else None
    proc = ServerProcess(full, tmp / log_name)
    proc.env, proc.db_url, proc.seeded = full, db_url, seeded  # type: ignore[attr-defined]
    try:
        proc.start(timeout=60)
        yield proc
    finally:
        proc.stop()  # also when it never answered: no server outlives its test


@contextlib.contextmanager
def serve_two(
    tmp: Path,
    database_url: str,
    *,
    seed: Callable[[str], object] | None = None,
    start_timeout: float = 90,
    **env: str,
) -> Iterator[tuple[list[ServerProcess], object]]:
    """Two `chonai serve` processes on one shared (PostgreSQL) database, and one Redis when `env` names
    REDIS_URL: migrated with demo data, `seed(database_url)` before they start, always stopped afterwards.

    Yields the servers and what `seed` returned.
    """
    full = {"VAR_DIR": str(tmp), "SECRET_KEY": "s" * 48, "LOG_LEVEL": "WARNING", "DATABASE_URL": database_url, **env}
    prepare_database(full)
    seeded = seed(database_url) if seed is not None else None
    servers = [ServerProcess(full, tmp / f"server{i}.log") for i in range(2)]
    try:
        start_all(servers, timeout=start_timeout)
        yield servers, seeded
    finally:
        for server in servers:
            server.stop()
