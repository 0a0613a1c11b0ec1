"""Typed settings read from the environment and validated once at start-up."""

from __future__ import annotations

import os
import re
import secrets
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

#: The project directory: every `chonai` command run from a checkout shares its `var/`.
PROJECT_DIR = Path(__file__).resolve().parent.parent

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

#: Names of this machine: in development a page opened under any of them is the same site.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class SettingsError(ValueError):
    """A setting has a bad value; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable, with the embedded defaults `make run` uses."""

    database_url: str
    database_pool_size: int
    redis_url: str | None
    secret_key: str
    base_url: str
    host: str
    port: int
    workers: int
    var_dir: Path
    log_level: str
    log_json: bool
    smtp_url: str | None
    mail_from: str
    allowed_origins: tuple[str, ...] = field(default=())
    demo_data: bool = True
    # Namespaces Redis channels and keys, so deployments (or parallel test workers) can share one Redis.
    redis_prefix: str = "chonai:"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def outbox_dir(self) -> Path:
        return self.var_dir / "outbox"

    @property
    def media_dir(self) -> Path:
        """Recording files served to members only at /archive/media/NAME."""
        return self.var_dir / "media"


def _int(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"expected a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(name, f"must be between {low} and {high}, got {value}")
    return value


def seconds_variable(name: str, raw: str, default: float, low: float, high: float) -> float:
    """Seconds from the environment variable `name` (its value `raw`, empty for `default`) for settings read
    where they are used; a value that is not a number from `low` to `high` stops the process with one line."""
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise SystemExit(f"chonai: {name} must be a number of seconds, got {raw!r}") from None
    if not low <= value <= high:
        raise SystemExit(f"chonai: {name} must be between {low:g} and {high:g} seconds")
    return value


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(name, f"expected true or false, got {raw!r}")


def normalise_database_url(raw: str, var_dir: Path) -> str:
    """Accept the URL forms hosting platforms hand out and pick the async driver."""
    url = raw.strip()
    scheme = url.split(":", 1)[0].lower()
    if scheme in {"postgres", "postgresql", "postgresql+asyncpg"}:
        rest = url.split("://", 1)[1] if "://" in url else ""
        if not rest:
            raise SettingsError("DATABASE_URL", "PostgreSQL URL has no host or database")
        return "postgresql+asyncpg://" + rest
    if scheme in {"sqlite", "sqlite+aiosqlite"}:
        rest = url.split("://", 1)[1] if "://" in url else ""
        if not rest.startswith("/"):
            raise SettingsError("DATABASE_URL", "SQLite URL must look like sqlite:///path/to/file.db")
        path = rest[1:]
        if path and not Path(path).is_absolute() and path != ":memory:":
            path = str((var_dir.parent / path).resolve())
        return "sqlite+aiosqlite:///" + path
    raise SettingsError("DATABASE_URL", f"unsupported scheme {scheme!r}; use sqlite:/// or postgresql://")


def _url(env: dict[str, str], name: str, default: str | None, schemes: set[str]) -> str | None:
    raw = env.get(name, "").strip() or default
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in schemes or not parts.netloc:
        wanted = " or ".join(sorted(s + "://" for s in schemes))
        raise SettingsError(name, f"expected a URL starting with {wanted}, got {raw!r}")
    return raw.rstrip("/")


def _secret_key(env: dict[str, str], var_dir: Path) -> str:
    raw = env.get("SECRET_KEY", "")
    if raw:
        if len(raw) < 32:
            raise SettingsError("SECRET_KEY", "must be at least 32 characters")
        return raw
    # Embedded mode: generate once and keep it so sessions survive restarts.
    key_file = var_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    return key


def loopback_origins(base_url: str) -> tuple[str, ...]:
    """In development (BASE_URL on a loopback name) localhost, 127.0.0.1 and [::1] on that port are one origin."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if host not in {"127.0.0.1", "localhost", "::1"}:
        return ()
    port = f":{parts.port}" if parts.port else ""
    return tuple(f"{parts.scheme}://{name}{port}" for name in LOOPBACK_HOSTS)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and validate settings; raise SettingsError naming the first bad variable."""
    env = dict(os.environ if environ is None else environ)
    var_dir = Path(env.get("VAR_DIR") or PROJECT_DIR / "var").resolve()
    database_url = normalise_database_url(env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'chonai.db'}", var_dir)
    port = _int(env, "PORT", 8000, 1, 65535)
    host = env.get("HOST") or "127.0.0.1"
    base_url = _url(env, "BASE_URL", f"http://{host}:{port}", {"http", "https"})
    assert base_url is not None
    log_level = (env.get("LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise SettingsError("LOG_LEVEL", f"expected one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
    origins = tuple(o.strip().rstrip("/") for o in env.get("ALLOWED_ORIGINS", "").split(",") if o.strip())
    for origin in origins:
        if urlsplit(origin).scheme not in {"http", "https"}:
            raise SettingsError("ALLOWED_ORIGINS", f"{origin!r} is not an http(s) origin")
    base_origin = "{0.scheme}://{0.netloc}".format(urlsplit(base_url))
    loopback = loopback_origins(base_url)
    return Settings(
        database_url=database_url,
        database_pool_size=_int(env, "DATABASE_POOL_SIZE", 10, 0, 200),
        redis_url=_url(env, "REDIS_URL", None, {"redis", "rediss", "unix"}),
        secret_key=_secret_key(env, var_dir),
        base_url=base_url,
        host=host,
        port=port,
        workers=_int(env, "WEB_CONCURRENCY", 1, 1, 64),
        var_dir=var_dir,
        log_level=log_level,
        log_json=_bool(env, "LOG_JSON", False),
        smtp_url=_url(env, "SMTP_URL", None, {"smtp", "smtps"}),
        mail_from=env.get("MAIL_FROM") or "Chonai <no-reply@chonai.example.jp>",
        allowed_origins=tuple(dict.fromkeys((base_origin, *loopback, *origins))),
        demo_data=_bool(env, "DEMO_DATA", True),
        redis_prefix=_redis_prefix(env),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process; exits with one clear line when a variable is bad."""
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"chonai: invalid setting {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _redis_prefix(env: dict[str, str]) -> str:
    prefix = env.get("REDIS_PREFIX", "").strip() or "chonai:"
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,40}", prefix):
        raise SettingsError("REDIS_PREFIX", "use 1-40 letters, digits or _ . : -")
    return prefix
