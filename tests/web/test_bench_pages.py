"""`chonai bench pages` in a tiny configuration: real seed, real server, real logins; the JSON's shape and no errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.pages import KINDS, TARGET_P95_MS
from tests.conftest import POSTGRES_ADMIN_URL, postgres_available, require

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # seeding and logins under a loaded machine

TINY = ["--members", "3", "--seconds", "2", "--think-ms", "50", "--archive", "2", "--chat", "20"]
TINY += ["--documents", "1", "--entries", "10", "--json"]


def _bench(tmp_path: Path, *extra: str) -> dict:
    run = subprocess.run(
        [sys.executable, "-m", "web.cli", "bench", "pages", *TINY, *extra],
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


def _check(result: dict, database: str) -> None:
    assert result["database"] == database
    assert (result["members"], result["seconds"], result["think_ms"]) == (3, 2, 50)
    seed = result["seed"]
    # The demo's two archived broadcasts and two published documents, plus the bench's own.
    assert (seed["members"], seed["archived_broadcasts"], seed["documents"]) == (3, 4, 3)
    assert seed["indexed_faq_entry"] == 8 + 10
    pages = result["pages"]
    assert pages["errors"] == 0, pages["error_sample"]
    assert pages["requests"] > 0 and pages["requests_per_s"] > 0
    assert set(pages["by_kind"]) == set(KINDS)
    assert sum(k["requests"] for k in pages["by_kind"].values()) == pages["requests"]
    assert sum(k["errors"] for k in pages["by_kind"].values()) == 0
    assert pages["p50_ms"] <= pages["p95_ms"] <= pages["p99_ms"]
    assert pages["server_cpu_s"] > 0 and pages["loadgen_cpu_s"] > 0
    reference = result["reference"]
    assert reference["errors"] == 0 and reference["requests"] > 0
    assert set(result["target"]) == {"p95_ttfb_ms", "met", "every_kind_met"}
    assert result["target"]["p95_ttfb_ms"] == TARGET_P95_MS
    assert result["server_log_tracebacks"] == 0
    assert len(result["load_average"]) == 3


def test_bench_pages_on_sqlite(tmp_path: Path) -> None:
    _check(_bench(tmp_path), "sqlite")


@pytest.mark.postgres
def test_bench_pages_on_postgresql(tmp_path: Path) -> None:
    require(postgres_available(), "PostgreSQL")
    _check(_bench(tmp_path, "--database-url", POSTGRES_ADMIN_URL), "postgresql")
