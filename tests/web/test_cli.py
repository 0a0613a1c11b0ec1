"""The `chonai` command: admin accounts and API tokens for operators and scripts."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from tests.servers import ServerProcess, prepare_database


def chonai(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args], env=full, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )


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

    token = chonai(env, "token", "create", "--email", "boss@example.jp")
    assert token.returncode == 0
    raw = token.stdout.strip()
    assert raw.startswith("chn_") and token.stdout.count("\n") == 1  # the token and nothing else
    unknown = chonai(env, "token", "create", "--email", "ghost@example.jp")
    assert unknown.returncode == 2 and unknown.stdout == ""

    server = ServerProcess({**env, "SECRET_KEY": "c" * 48, "LOG_LEVEL": "WARNING"}, tmp_path / "server.log").start()
    try:
        me = httpx.get(server.url + "/api/me", headers={"authorization": f"Bearer {raw}"})
        assert me.status_code == 200
        assert me.json()["role"] == "operator" and me.json()["name"] == "運営 次郎"
    finally:
        server.stop()


def test_demo_loads_once(tmp_path):
    env = {"VAR_DIR": str(tmp_path)}
    prepare_database(env, demo=False)
    first = chonai(env, "demo")
    assert "demo data loaded" in first.stdout
    second = chonai(env, "demo")
    assert "skipped" in second.stdout
