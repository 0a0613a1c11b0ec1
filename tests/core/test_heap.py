"""The server's collector policy: rarer full collections, start-up frozen once per process."""

from __future__ import annotations

import gc

import pytest

from core import heap


def test_tune_makes_full_collections_rarer() -> None:
    before = gc.get_threshold()
    try:
        heap.tune()
        assert gc.get_threshold() == heap.THRESHOLDS
        assert heap.THRESHOLDS[2] > 10  # CPython's default for the oldest generation
    finally:
        gc.set_threshold(*before)


def test_settle_freezes_only_the_first_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(heap, "_settled", False)
    monkeypatch.setattr(heap.gc, "collect", lambda: calls.append("collect") or 0)
    monkeypatch.setattr(heap.gc, "freeze", lambda: calls.append("freeze"))
    heap.settle()
    heap.settle()
    assert calls == ["collect", "freeze"]
