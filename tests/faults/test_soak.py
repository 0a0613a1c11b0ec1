"""A short soak through the real CLI: two processes, Redis, random disconnects; nothing lost, doubled or reordered.

`make soak` runs the full target (1,000 viewers, 20 comments/s, 300 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REDIS_TEST_URL, redis_available, require

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def test_short_soak_with_random_disconnects_is_exact(tmp_path):
    require(redis_available(), "Redis")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "web.cli",
            "bench",
            "soak",
            "--viewers",
            "300",
            "--rate",
            "10",
            "--seconds",
            "20",
            "--processes",
            "2",
            "--churn",
            "6",
            "--redis-url",
            REDIS_TEST_URL,
            "--json",
        ],
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=110,
    )
    result = json.loads(run.stdout)
    assert run.returncode == 0, result
    assert result["acked"] == result["persisted"] == 200
    assert result["delivered"] == result["delivered_expected"] == 300 * 200
    assert (result["lost"], result["duplicated"], result["reordered"], result["acked_not_persisted"]) == (0, 0, 0, 0)
    assert result["reconnects"] >= 100  # the churn really happened: ~6 cuts per client per minute
    assert result["server_errors"] == 0, result["server_error_sample"]
    assert result["rss_start_kib"] > 0 and result["rss_end_kib"] > 0
