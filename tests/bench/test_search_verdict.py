"""`chonai bench search` states issue 13's targets and whether a run met them."""

from bench.search import verdict


def test_a_run_inside_both_targets_is_ok() -> None:
    result = verdict({"p95_ms": 11.2, "index_entries_per_s": 3449})
    assert result == {
        "targets": {"p95_ms": 20.0, "index_entries_per_s": 2000},
        "p95_ok": True,
        "index_ok": True,
        "ok": True,
    }


def test_a_slow_query_p95_or_a_slow_build_is_not_ok() -> None:
    slow_queries = verdict({"p95_ms": 20.01, "index_entries_per_s": 3449})
    slow_build = verdict({"p95_ms": 8.0, "index_entries_per_s": 1999})
    assert (slow_queries["p95_ok"], slow_queries["index_ok"], slow_queries["ok"]) == (False, True, False)
    assert (slow_build["p95_ok"], slow_build["index_ok"], slow_build["ok"]) == (True, False, False)
