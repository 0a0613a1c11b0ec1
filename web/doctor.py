"""`chonai doctor`: check settings, database, Redis, SMTP, time zone, disk and BASE_URL, one line per finding.

Every finding that is not "ok" names the fix. The exit status is 1 when anything failed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import smtplib
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.settings import LOOPBACK_HOSTS, Settings, SettingsError, load_settings

OK, WARN, FAIL = "ok", "warn", "FAIL"
DISK_FAIL_BYTES = 200 * 1024**2
DISK_WARN_BYTES = 1024**3


@dataclass(frozen=True, slots=True)
class Finding:
    level: str
    topic: str
    text: str
    fix: str = ""

    def line(self) -> str:
        tail = f" → {self.fix}" if self.fix and self.level != OK else ""
        return f"{self.level:<4} {self.topic}: {self.text}{tail}"


def check_settings(environ: dict[str, str]) -> tuple[Settings | None, list[Finding]]:
    try:
        settings = load_settings(environ)
    except SettingsError as exc:
        return None, [Finding(FAIL, "settings", str(exc), f"correct {exc.variable} (README, Configuration)")]
    found = [Finding(OK, "settings", "every variable is valid")]
    production = settings.base_url.startswith("https://")
    if production and not environ.get("SECRET_KEY"):
        found.append(
            Finding(WARN, "settings", "SECRET_KEY is not set; using var/secret_key", "set SECRET_KEY (≥ 32 chars)")
        )
    if production and settings.is_sqlite:
        found.append(Finding(WARN, "settings", "BASE_URL is https but the database is SQLite", "set DATABASE_URL"))
    if settings.workers > 1 and not settings.redis_url:
        found.append(Finding(FAIL, "settings", "WEB_CONCURRENCY > 1 without REDIS_URL", "set REDIS_URL"))
    return settings, found


async def _database(settings: Settings) -> Finding:
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from core.db import Database
    from core.migrate import alembic_config

    kind = "SQLite" if settings.is_sqlite else "PostgreSQL"
    db = Database(settings.database_url, pool_size=1)
    try:
        async with db.session() as session:
            current = set((await session.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    except Exception as exc:  # any driver error is a finding, not a crash
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        if "alembic_version" in first:
            return Finding(FAIL, "database", f"{kind} answers but has no schema", "run `chonai migrate`")
        return Finding(FAIL, "database", f"{kind} does not answer: {first}", "check DATABASE_URL and the server")
    finally:
        await db.dispose()
    heads = set(ScriptDirectory.from_config(alembic_config(settings.database_url)).get_heads())
    if current != heads:
        return Finding(
            FAIL, "database", f"{kind} schema is not current ({len(heads - current)} behind)", "run `chonai migrate`"
        )
    return Finding(OK, "database", f"{kind} answers, schema current")


async def _redis(settings: Settings) -> Finding:
    if not settings.redis_url:
        return Finding(OK, "redis", "not configured: one process, in-process event bus")
    import redis.asyncio as redis

    client = redis.from_url(settings.redis_url, socket_connect_timeout=3, socket_timeout=3)
    try:
        await client.ping()
    except Exception as exc:  # connection refused, auth, TLS: all findings
        return Finding(FAIL, "redis", f"REDIS_URL does not answer: {exc}", "start Redis or correct REDIS_URL")
    finally:
        await client.aclose()
    return Finding(OK, "redis", "answers PING")


def check_smtp(settings: Settings) -> Finding:
    if not settings.smtp_url:
        return Finding(OK, "smtp", f"not configured: mail is written to {settings.outbox_dir}")
    parts = urlsplit(settings.smtp_url)
    host, secure = parts.hostname or "", parts.scheme == "smtps"
    port = parts.port or (465 if secure else 587)
    try:
        server: smtplib.SMTP = (smtplib.SMTP_SSL if secure else smtplib.SMTP)(host, port, timeout=5)
        with server:
            server.ehlo()
            if not secure and server.has_extn("starttls"):
                server.starttls()
                server.ehlo()
            if parts.username:
                server.login(parts.username, parts.password or "")
    except (OSError, smtplib.SMTPException) as exc:
        return Finding(FAIL, "smtp", f"{host}:{port} refused: {exc}", "correct SMTP_URL (smtp://user:pass@host:587)")
    return Finding(OK, "smtp", f"{host}:{port} answers" + (" and accepts the login" if parts.username else ""))


def check_time_zone() -> Finding:
    import datetime as dt
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        offset = dt.datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Tokyo")).utcoffset()
    except ZoneInfoNotFoundError:
        return Finding(FAIL, "time zone", "Asia/Tokyo is unknown", "install tzdata (pip install tzdata)")
    if offset != dt.timedelta(hours=9):
        return Finding(FAIL, "time zone", f"Asia/Tokyo has offset {offset}", "update tzdata")
    local = os.environ.get("TZ", "")
    return Finding(
        OK, "time zone", "Asia/Tokyo known (UTC+9); times are stored in UTC" + (f", TZ={local}" if local else "")
    )


def check_disk(settings: Settings) -> list[Finding]:
    var = settings.var_dir
    try:
        var.mkdir(parents=True, exist_ok=True)
        probe = var / ".doctor-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        return [Finding(FAIL, "disk", f"{var} is not writable: {exc}", "fix the permissions or set VAR_DIR")]
    free = shutil.disk_usage(var).free
    text = f"{free / 1024**3:.1f} GiB free in {var}"
    if free < DISK_FAIL_BYTES:
        return [Finding(FAIL, "disk", text, "free space (SQLite, media, outbox and backups live there)")]
    if free < DISK_WARN_BYTES:
        return [Finding(WARN, "disk", text, "free space before recordings and backups fill it")]
    return [Finding(OK, "disk", text)]


def check_origin(settings: Settings, opened_at: str | None) -> list[Finding]:
    """BASE_URL against how the site is reached: pages opened elsewhere cannot open WebSockets."""
    parts = urlsplit(settings.base_url)
    found: list[Finding] = []
    loopback = (parts.hostname or "") in {h.strip("[]") for h in LOOPBACK_HOSTS}
    if loopback and settings.host not in {"127.0.0.1", "localhost", "::1"}:
        found.append(
            Finding(
                WARN,
                "origin",
                f"HOST={settings.host} listens for other machines but BASE_URL is {settings.base_url}",
                "set BASE_URL to the address members type (https://…)",
            )
        )
    if loopback and parts.port and parts.port != settings.port:
        found.append(
            Finding(WARN, "origin", f"BASE_URL port {parts.port} is not PORT {settings.port}", "make them the same")
        )
    if opened_at:
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(opened_at.strip()))
        if origin in settings.allowed_origins:
            found.append(Finding(OK, "origin", f"{origin} may open the live sockets"))
        else:
            found.append(
                Finding(
                    FAIL,
                    "origin",
                    f"{origin} is not BASE_URL's origin nor in ALLOWED_ORIGINS ({', '.join(settings.allowed_origins)})",
                    f"open {settings.base_url}, or add {origin} to ALLOWED_ORIGINS",
                )
            )
    if not found:
        found.append(Finding(OK, "origin", f"live sockets accept {', '.join(settings.allowed_origins)}"))
    return found


def diagnose(environ: dict[str, str], opened_at: str | None = None) -> list[Finding]:
    settings, found = check_settings(environ)
    if settings is None:
        return found

    async def services() -> list[Finding]:
        return list(await asyncio.gather(_database(settings), _redis(settings)))

    found += asyncio.run(services())
    checks: list[Callable[[], Finding | list[Finding]]] = [
        lambda: check_smtp(settings),
        check_time_zone,
        lambda: check_disk(settings),
        lambda: check_origin(settings, opened_at),
    ]
    for check in checks:
        result = check()
        found += result if isinstance(result, list) else [result]
    return found


def run(opened_at: str | None = None) -> int:
    socket.setdefaulttimeout(10)
    found = diagnose(dict(os.environ), opened_at)
    for finding in found:
        print(finding.line())
    failed = sum(f.level == FAIL for f in found)
    print(f"{len(found)} checks, {failed} failed" + ("" if failed else " — all good"))
    return 1 if failed else 0
