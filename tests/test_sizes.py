"""scripts/check_sizes.py: the tree is within its limits, and the check does fail on a long module or function."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("check_sizes", ROOT / "scripts" / "check_sizes.py")
assert _spec is not None and _spec.loader is not None
check_sizes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_sizes)


def _function(name: str, body_lines: int) -> str:
    return f"def {name}() -> None:\n" + "    x = 1\n" * (body_lines - 1)


def test_the_tree_is_within_the_limits():
    assert check_sizes.check(ROOT) == []


def test_a_function_over_60_lines_is_reported():
    fine = _function("fine", 60)
    long = _function("long", 61)
    assert check_sizes.findings(Path("m.py"), fine) == []
    assert check_sizes.findings(Path("m.py"), fine + "\n\n" + long) == ["m.py:63: long is 61 lines (at most 60)"]


def test_a_module_over_400_lines_is_reported_unless_it_says_why():
    source = "x = 1\n" * 401
    assert check_sizes.findings(Path("m.py"), source) == ["m.py: 401 lines (at most 400)"]
    assert check_sizes.findings(Path("m.py"), "x = 1\n" * 400) == []
    assert check_sizes.findings(Path("m.py"), "# size: one table\n" + source) == []
