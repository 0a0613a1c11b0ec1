"""`chonai backup PATH` and `chonai restore PATH`: the database, var/media and the secret key in one file.

The file is a gzip'd tar with `manifest.json`, `database.sqlite` (SQLite's online backup API, so a
serving process keeps serving) or `database.pgdump` (pg_dump's custom format), `media/` and
`secret_key`. Restoring writes into the live database the same way (SQLite backup API into the open
file; pg_restore --clean in one transaction), then brings the schema up to date.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from core.settings import Settings

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite"
PG_FILE = "database.pgdump"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Manifest:
    format: int
    created_at: str
    database: str  # "sqlite" or "postgresql"
    media_files: int
    secret_key: bool


def sqlite_path(settings: Settings) -> Path:
    raw = settings.database_url.split(":///", 1)[1]
    if not raw or raw == ":memory:":
        raise BackupError(
            "メモリ上の SQLite はバックアップできません / an in-memory SQLite database cannot be backed up"
        )
    return Path(raw)


def libpq_url(settings: Settings) -> str:
    return settings.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} が見つかりません。PostgreSQL のクライアント（Debian/Ubuntu: apt-get install postgresql-client、"
            f"サーバーと同じかより新しい版）を入れてから再実行してください / {name} not found: install the PostgreSQL "
            "client tools (same or newer major version than the server)"
        )
    return found


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603 (fixed tool, no shell)
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-800:]}")


def _dump_database(settings: Settings, into: Path) -> str:
    if settings.is_sqlite:
        source = sqlite_path(settings)
        if not source.exists():
            raise BackupError(f"データベースがありません / no database at {source}")
        src, dst = sqlite3.connect(source), sqlite3.connect(into / SQLITE_FILE)
        try:
            src.backup(dst)  # a consistent snapshot while other connections keep writing
        finally:
            dst.close()
            src.close()
        return "sqlite"
    pg_dump = _tool("pg_dump")
    _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--file={into / PG_FILE}", libpq_url(settings)])
    return "postgresql"


def backup(settings: Settings, path: Path) -> Manifest:
    """Write the backup to `path` (atomically: a half-written file never has the final name)."""
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".chonai-backup-", dir=path.parent) as tmp:
        work = Path(tmp)
        kind = _dump_database(settings, work)
        (work / "secret_key").write_text(settings.secret_key + "\n")
        media = [p for p in settings.media_dir.rglob("*") if p.is_file()] if settings.media_dir.is_dir() else []
        manifest = Manifest(FORMAT, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), kind, len(media), True)
        (work / MANIFEST).write_text(json.dumps(asdict(manifest), ensure_ascii=False, indent=2))
        partial = work / "backup.tar.gz"
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(work / MANIFEST, MANIFEST)
            tar.add(work / (SQLITE_FILE if kind == "sqlite" else PG_FILE), SQLITE_FILE if kind == "sqlite" else PG_FILE)
            tar.add(work / "secret_key", "secret_key")
            for file in media:
                tar.add(file, "media/" + file.relative_to(settings.media_dir).as_posix())
        partial.chmod(0o600)  # it holds the secret key and every member's data
        partial.replace(path)
    return manifest


def read_manifest(tar: tarfile.TarFile) -> Manifest:
    try:
        member = tar.extractfile(MANIFEST)
        raw = json.loads(member.read()) if member else None
        manifest = Manifest(**raw) if isinstance(raw, dict) else None
    except (KeyError, TypeError, ValueError):
        manifest = None
    if manifest is None or manifest.format != FORMAT:
        raise BackupError(
            "Chonai のバックアップではありません（manifest.json がない・形式が違う） / not a Chonai backup"
        )
    return manifest


def _restore_database(settings: Settings, manifest: Manifest, work: Path) -> None:
    wanted = "sqlite" if settings.is_sqlite else "postgresql"
    if manifest.database != wanted:
        raise BackupError(
            f"このバックアップは {manifest.database}、DATABASE_URL は {wanted} です。同じ種類のデータベースに復元してください"
            f" / this backup is {manifest.database}, DATABASE_URL is {wanted}"
        )
    if settings.is_sqlite:
        target = sqlite_path(settings)
        target.parent.mkdir(parents=True, exist_ok=True)
        src, dst = sqlite3.connect(work / SQLITE_FILE), sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst)  # page by page into the open file: a serving process sees the restored data
        finally:
            dst.close()
            src.close()
        return
    pg_restore = _tool("pg_restore")
    _run(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            f"--dbname={libpq_url(settings)}",
            str(work / PG_FILE),
        ]
    )


def _restore_media(settings: Settings, work: Path) -> None:
    restored = work / "media"
    restored.mkdir(exist_ok=True)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    old = settings.var_dir / ".media-before-restore"
    shutil.rmtree(old, ignore_errors=True)
    if settings.media_dir.exists():
        settings.media_dir.rename(old)
    shutil.move(str(restored), settings.media_dir)
    shutil.rmtree(old, ignore_errors=True)


def restore(settings: Settings, path: Path, environ_key: str = "") -> list[str]:
    """Restore everything from `path`; returns notes for the operator (e.g. SECRET_KEY differs)."""
    from core.migrate import upgrade

    if not path.is_file():
        raise BackupError(f"{path}: ファイルがありません / no such file")
    try:
        tar = tarfile.open(path, "r:gz")  # noqa: SIM115 (closed by the `with` below)
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{path}: 読めません / cannot read it ({exc})") from None
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    with tar, tempfile.TemporaryDirectory(prefix=".chonai-restore-", dir=settings.var_dir) as tmp:
        manifest = read_manifest(tar)
        work = Path(tmp)
        try:
            tar.extractall(work, filter="data")  # no absolute paths, no "..", no devices
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise BackupError(f"{path}: 壊れています / damaged ({exc}); nothing was changed") from None
        if not (work / "secret_key").is_file():
            raise BackupError(f"{path}: 秘密鍵がありません / the backup has no secret_key; nothing was changed")
        _restore_database(settings, manifest, work)
        upgrade(settings.database_url)  # an older backup gets today's schema
        _restore_media(settings, work)
        key = (work / "secret_key").read_text().strip()
        key_file = settings.var_dir / "secret_key"
        key_file.write_text(key + "\n")
        key_file.chmod(0o600)
    notes = [
        f"{manifest.created_at} のバックアップ（{manifest.database}、メディア {manifest.media_files} 件）を復元しました"
    ]
    if environ_key and environ_key != key:
        notes.append(
            "SECRET_KEY（環境変数）がバックアップの鍵と違います。var/secret_key に書いた鍵を使うには SECRET_KEY を"
            " その値にするか外してください / SECRET_KEY in the environment differs from the backed-up key"
        )
    notes.append("サーバーを再起動すると鍵とキャッシュが確実に入れ替わります / restart the server to pick up the key")
    return notes
