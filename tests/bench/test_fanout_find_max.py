"""`chonai bench fanout --find-max`: the search for the saturation rate, with the runs stubbed.

The real probes start servers and take minutes; what can be wrong in a quick test is the
bracketing and bisection, and the scaling that is claimed only when both searches saturated.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from bench import fanout


def _args(**over: Any) -> argparse.Namespace:
    base = {"rate": 50.0, "max_rate": 3200.0, "refine": 3, "viewers": 100, "json": True, "processes": 1}
    return argparse.Namespace(**{**base, **over})


def _servers(monkeypatch: pytest.MonkeyPatch, limits: dict[int, float]) -> list[tuple[int, float]]:
    """Servers that keep up exactly up to limits[processes] comments/s."""
    calls: list[tuple[int, float]] = []

    def run(args: argparse.Namespace, _tmp: Path) -> dict[str, Any]:
        calls.append((args.processes, args.rate))
        ok = args.rate <= limits[args.processes]
        return {"reach": 1.0 if ok else 0.97, "p99_ms": 40.0 if ok else 900.0, "errors": []}

    monkeypatch.setattr(fanout, "run_chonai", run)
    return calls


def test_doubles_then_bisects_between_the_last_pass_and_the_first_failure(monkeypatch, tmp_path):
    calls = _servers(monkeypatch, {1: 300.0})
    found = fanout.saturation(_args(), tmp_path, 1)
    assert [rate for _, rate in calls] == [50.0, 100.0, 200.0, 400.0, 300.0, 350.0, 325.0]
    assert (found["max_rate"], found["first_failing_rate"], found["saturated"]) == (300.0, 325.0, True)
    assert found["deliveries_per_s"] == 30_000
    assert [p["passed"] for p in found["probes"]] == [True, True, True, False, True, False, False]


def test_a_failing_start_rate_is_halved_until_one_passes(monkeypatch, tmp_path):
    calls = _servers(monkeypatch, {1: 30.0})
    found = fanout.saturation(_args(refine=1), tmp_path, 1)
    assert [rate for _, rate in calls] == [50.0, 25.0, 37.5]
    assert (found["max_rate"], found["first_failing_rate"]) == (25.0, 37.5)


def test_scaling_only_when_both_searches_saturated(monkeypatch, tmp_path):
    _servers(monkeypatch, {1: 300.0, 2: 540.0})
    result = fanout.find_max(_args(refine=0), tmp_path)
    assert (result["one_process"]["max_rate"], result["two_processes"]["max_rate"]) == (200.0, 400.0)
    assert result["scaling"] == 2.0 and result["target"]["met"] is True
    _servers(monkeypatch, {1: 300.0, 2: 10_000.0})
    bounded = fanout.find_max(_args(refine=0, max_rate=1000.0), tmp_path)
    assert bounded["two_processes"]["saturated"] is False
    assert bounded["scaling"] is None and bounded["target"]["met"] is False
