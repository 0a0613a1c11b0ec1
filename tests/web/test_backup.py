"""`chonai backup` / `chonai restore` round trip on SQLite and PostgreSQL while a real server serves, and `chonai doctor`."""

from __future__ import annotations

import tarfile

import httpx
import pytest

from tests.conftest import scratch_postgres
from tests.servers import ServerProcess, prepare_database
from tests.web.test_cli import chonai


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request, tmp_path):
    """A deployment of its own: var/ (and, for PostgreSQL, a database) that only this test uses."""
    values = {"VAR_DIR": str(tmp_path / "var"), "LOG_LEVEL": "WARNING"}
    if request.param == "sqlite":
        yield values
        return
    with scratch_postgres("chonai_backup") as database_url:
        yield {**values, "DATABASE_URL": database_url}


def emails(server: ServerProcess, token: str) -> list[str]:
    r = httpx.get(server.url + "/api/members", headers={"authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, r.text
    return sorted(m["email"] for m in r.json())


@pytest.mark.slow
def test_backup_and_restore_round_trip_while_serving(env, tmp_path):
    prepare_database(env)
    media = tmp_path / "var" / "media"
    media.mkdir(parents=True)
    (media / "第1回.mp4").write_bytes(b"recording one")
    key = (tmp_path / "var" / "secret_key").read_text()
    server = ServerProcess(env, tmp_path / "server.log").start()
    try:
        token = chonai(env, "token", "create", "--email", "operator@example.jp").stdout.strip()
        before = emails(server, token)
        made = chonai(env, "backup", str(tmp_path / "backups" / "chonai.tar.gz"))
        assert made.returncode == 0, made.stderr
        assert "メディア 1 件" in made.stdout
        with tarfile.open(tmp_path / "backups" / "chonai.tar.gz") as tar:
            names = set(tar.getnames())
        database = "database.sqlite" if "DATABASE_URL" not in env else "database.pgdump"
        assert names == {"manifest.json", database, "secret_key", "media/第1回.mp4"}

        # Life goes on after the backup: a new operator, a lost recording, a new one, a new key.
        added = chonai(
            env, "admin", "create", "--email", "late@example.jp", "--name", "遅刻 次郎", "--password", "p" * 12
        )
        assert added.returncode == 0, added.stderr
        (media / "第1回.mp4").unlink()
        (media / "第2回.mp4").write_bytes(b"recording two")
        (tmp_path / "var" / "secret_key").write_text("x" * 64 + "\n")
        assert emails(server, token) == sorted([*before, "late@example.jp"])

        refused = chonai(env, "restore", str(tmp_path / "backups" / "chonai.tar.gz"))
        assert refused.returncode == 2 and "--yes" in refused.stderr  # never without confirmation
        restored = chonai(env, "restore", "--yes", str(tmp_path / "backups" / "chonai.tar.gz"))
        assert restored.returncode == 0, restored.stderr
        # The running server answers from the restored database at once.
        assert emails(server, token) == before
        assert sorted(p.name for p in media.iterdir()) == ["第1回.mp4"]
        assert (media / "第1回.mp4").read_bytes() == b"recording one"
        assert (tmp_path / "var" / "secret_key").read_text() == key
        assert httpx.get(server.url + "/readyz", timeout=10).status_code == 200
    finally:
        server.stop()


def test_restore_refuses_what_it_cannot_restore_and_changes_nothing(tmp_path):
    env = {"VAR_DIR": str(tmp_path / "var")}
    prepare_database(env, demo=False)
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tar file")
    junk = chonai(env, "restore", "--yes", str(tmp_path / "junk.tar.gz"))
    assert junk.returncode == 2 and "読めません" in junk.stderr
    with tarfile.open(tmp_path / "other.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "junk.tar.gz", "notes.txt")
    other = chonai(env, "restore", "--yes", str(tmp_path / "other.tar.gz"))
    assert other.returncode == 2 and "Chonai のバックアップではありません" in other.stderr
    missing = chonai(env, "restore", "--yes", str(tmp_path / "nope.tar.gz"))
    assert missing.returncode == 2 and "ファイルがありません" in missing.stderr
    # A SQLite backup is not restored into PostgreSQL (or the other way round).
    assert chonai(env, "backup", str(tmp_path / "sqlite.tar.gz")).returncode == 0
    pg = {**env, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    wrong = chonai(pg, "restore", "--yes", str(tmp_path / "sqlite.tar.gz"))
    assert wrong.returncode == 2 and "同じ種類のデータベース" in wrong.stderr
    # Without pg_dump on PATH the message says what to install.
    no_tools = chonai({**pg, "PATH": str(tmp_path)}, "backup", str(tmp_path / "pg.tar.gz"))
    assert no_tools.returncode == 2 and "pg_dump が見つかりません" in no_tools.stderr
    assert "postgresql-client" in no_tools.stderr and not (tmp_path / "pg.tar.gz").exists()


def test_doctor_names_each_finding_and_its_fix(tmp_path):
    env = {"VAR_DIR": str(tmp_path / "var")}
    fresh = chonai(env, "doctor")
    assert fresh.returncode == 1
    assert "FAIL database: SQLite answers but has no schema → run `chonai migrate`" in fresh.stdout
    prepare_database(env, demo=False)
    good = chonai(env, "doctor", "--origin", "http://localhost:8000")
    assert good.returncode == 0, good.stdout
    topics = [line.split(":")[0] for line in good.stdout.splitlines()[:-1]]
    assert topics == [
        "ok   settings",
        "ok   database",
        "ok   redis",
        "ok   smtp",
        "ok   time zone",
        "ok   disk",
        "ok   origin",
    ]
    bad = chonai(
        {
            **env,
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "SMTP_URL": "smtp://127.0.0.1:1",
            "HOST": "0.0.0.0",
            "BASE_URL": "http://127.0.0.1:8000",
        },
        "doctor",
        "--origin",
        "https://chonai.example.jp",
    )
    assert bad.returncode == 1
    lines = bad.stdout.splitlines()
    assert any(line.startswith("FAIL redis:") and "→ start Redis or correct REDIS_URL" in line for line in lines)
    assert any(line.startswith("FAIL smtp:") and "→ correct SMTP_URL" in line for line in lines)
    assert any(line.startswith("warn origin: HOST=0.0.0.0") and "→ set BASE_URL" in line for line in lines)
    assert any(
        line.startswith("FAIL origin: https://chonai.example.jp")
        and "add https://chonai.example.jp to ALLOWED_ORIGINS" in line
        for line in lines
    )
    broken = chonai({**env, "PORT": "eighty"}, "doctor")
    assert broken.returncode == 1 and "FAIL settings: PORT: expected a whole number" in broken.stdout
