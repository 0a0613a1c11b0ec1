"""The `chonai` command: admin accounts and API tokens for operators and scripts."""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import os
import subprocess
import sys
import traceback
from unittest import mock

from litestar.testing import TestClient

from core.settings import load_settings
from tests.servers import prepare_database
from web.app import create_app


def chonai_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`chonai ARGS` as its own process, as an operator or a script runs it."""
    full = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args], env=full, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )


def chonai(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`chonai ARGS` through the command's own entry point (web.cli.main) in this process, with `env` on
    top of this process's environment, no stdin, and stdout, stderr and the exit status captured as a
    process would give them; the settings cache is emptied before and after. (A process costs an
    interpreter and the app's imports, about 1.5 s; `chonai_process` is for what is about the process.)

    It runs in a thread of its own: the commands call asyncio.run, and an async test's loop may be running.
    """
    from core.search import glossary, query
    from core.settings import get_settings
    from web.cli import main

    def run() -> int:
        glossary.forget()  # the search engine caches per process what one database holds
        query.forget()
        get_settings.cache_clear()
        try:
            return main(list(args))
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                return exc.code or 0
            print(exc.code, file=sys.stderr)
            return 1
        except Exception:
            traceback.print_exc()
            return 1
        finally:
            get_settings.cache_clear()
            glossary.forget()
            query.forget()

    out, err = io.StringIO(), io.StringIO()
    with (
        mock.patch.dict(os.environ, env),
        mock.patch.object(sys, "stdin", io.StringIO()),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        code = pool.submit(run).result()
    return subprocess.CompletedProcess(["chonai", *args], code, out.getvalue(), err.getvalue())


def test_admin_create_and_token_create(tmp_path):
    env = {"VAR_DIR": str(tmp_path)}
    prepare_database(env, demo=False)
    made = chonai(
        env, "admin", "create", "--email", "Boss@Example.jp", "--name", "運営 次郎", "--password", "operator-pass-1"
    )
    assert made.returncode == 0, made.stderr
    again = chonai(env, "admin", "create", "--email", "boss@example.jp", "--name", "x", "--password", "operator-pass-1")
    assert again.returncode == 2 and "既に登録されています" in again.stderr
    missing = chonai(env, "admin", "create", "--email", "other@example.jp")
    assert missing.returncode != 0 and "Name is required" in missing.stderr
    bad = chonai(env, "admin", "create", "--email", "nope", "--name", "x", "--password", "operator-pass-1")
    assert bad.returncode == 2 and "email" in bad.stderr

    token = chonai_process(env, "token", "create", "--email", "boss@example.jp")  # what a script reads
    assert token.returncode == 0, token.stderr
    raw = token.stdout.strip()
    assert raw.startswith("chn_") and token.stdout.count("\n") == 1  # the token and nothing else
    unknown = chonai(env, "token", "create", "--email", "ghost@example.jp")
    assert unknown.returncode == 2 and unknown.stdout == ""

    settings = load_settings({**os.environ, **env, "LOG_LEVEL": "WARNING", "DATABASE_POOL_SIZE": "0"})
    with TestClient(create_app(settings)) as client:
        me = client.get("/api/me", headers={"authorization": f"Bearer {raw}"})
        assert me.status_code == 200
        assert me.json()["role"] == "operator" and me.json()["name"] == "運営 次郎"


def test_demo_loads_once(tmp_path):
    env = {"VAR_DIR": str(tmp_path)}
    prepare_database(env, demo=False)
    first = chonai(env, "demo")
    assert "demo data loaded" in first.stdout
    second = chonai(env, "demo")
    assert "skipped" in second.stdout
