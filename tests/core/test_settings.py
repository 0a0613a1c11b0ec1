"""Settings are typed and validated; a bad value stops the process with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core.settings import SettingsError, load_settings


def test_embedded_defaults(tmp_path):
    s = load_settings({"VAR_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path}/chonai.db"
    assert s.redis_url is None
    assert s.redis_prefix == "chonai:"
    assert s.base_url == "http://127.0.0.1:8000"
    assert not s.secure_cookies
    # The secret key is generated once and kept.
    key_file = tmp_path / "secret_key"
    assert key_file.read_text().strip() == s.secret_key
    assert load_settings({"VAR_DIR": str(tmp_path)}).secret_key == s.secret_key
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_postgres_urls_pick_the_async_driver(tmp_path):
    s = load_settings({"VAR_DIR": str(tmp_path), "DATABASE_URL": "postgres://u:p@db:5432/chonai"})
    assert s.database_url == "postgresql+asyncpg://u:p@db:5432/chonai"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"DATABASE_URL": "sqlite:relative.db"}, "DATABASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"BASE_URL": "ftp://example.jp"}, "BASE_URL"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"LOG_JSON": "perhaps"}, "LOG_JSON"),
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY"),
        ({"ALLOWED_ORIGINS": "javascript:alert(1)"}, "ALLOWED_ORIGINS"),
        ({"REDIS_PREFIX": "a b"}, "REDIS_PREFIX"),
        ({"REDIS_PREFIX": "x" * 41}, "REDIS_PREFIX"),
    ],
)
def test_bad_values_name_the_variable(tmp_path, env, variable):
    with pytest.raises(SettingsError) as info:
        load_settings({"VAR_DIR": str(tmp_path), **env})
    assert info.value.variable == variable


def test_cli_stops_with_one_clear_line(tmp_path):
    env = {**os.environ, "VAR_DIR": str(tmp_path), "PORT": "eighty"}
    result = subprocess.run([sys.executable, "-m", "web.cli", "migrate"], env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["chonai: invalid setting PORT: expected a whole number, got 'eighty'"]


def test_loopback_names_are_one_origin_in_development(tmp_path):
    s = load_settings({"VAR_DIR": str(tmp_path), "PORT": "8123"})
    assert s.allowed_origins == ("http://127.0.0.1:8123", "http://localhost:8123", "http://[::1]:8123")
    s = load_settings({"VAR_DIR": str(tmp_path), "BASE_URL": "http://localhost:9000", "ALLOWED_ORIGINS": "http://a.jp"})
    assert s.allowed_origins == ("http://localhost:9000", "http://127.0.0.1:9000", "http://[::1]:9000", "http://a.jp")
    # A real host name is its only origin (plus ALLOWED_ORIGINS); another port is another site.
    s = load_settings({"VAR_DIR": str(tmp_path), "BASE_URL": "https://chonai.example.jp"})
    assert s.allowed_origins == ("https://chonai.example.jp",)
    assert "http://localhost:8124" not in load_settings({"VAR_DIR": str(tmp_path), "PORT": "8123"}).allowed_origins
