"""`chonai bench NAME [options]`: dispatch to bench/NAME.py's `main(argv) -> int`."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench


def available() -> list[str]:
    """Benchmark names as typed: bench/notify_fanout.py is `notify-fanout` (the peers' servers are not benchmarks)."""
    return sorted(
        m.name.replace("_", "-")
        for m in pkgutil.iter_modules(bench.__path__)
        if m.name != "cli" and not m.name.startswith("_") and not m.name.endswith("_server")
    )


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print("usage: chonai bench {" + ",".join(available()) + "} [options]")
        return 0 if argv else 2
    name = argv[0].replace("_", "-")  # typed with hyphens; `search-quality` is bench/search_quality.py
    if name not in available():
        print(f"chonai bench: unknown benchmark {name!r}; available: {', '.join(available())}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{name.replace('-', '_')}")
    return int(module.main(argv[1:]))
