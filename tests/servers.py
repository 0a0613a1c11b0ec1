"""Real server processes for browser, scale-out and fault tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

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
        env = {**os.environ, **self.env, "PORT": str(self.port), "HOST": "127.0.0.1"}
        env.setdefault("BASE_URL", self.url)
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "web.cli", "serve", "--port", str(self.port), "--workers", "1"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
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


def prepare_database(env: dict[str, str], demo: bool = True) -> None:
    """Migrate (and load demo data) with the same CLI an operator uses."""
    full = {**os.environ, **env}
    subprocess.run([sys.executable, "-m", "web.cli", "migrate"], env=full, check=True, capture_output=True)
    if demo:
        subprocess.run([sys.executable, "-m", "web.cli", "demo"], env=full, check=True, capture_output=True)


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
        for server in servers:
            server.start(timeout=start_timeout)
        yield servers, seeded
    finally:
        for server in servers:
            server.stop()
