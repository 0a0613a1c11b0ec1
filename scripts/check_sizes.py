"""Fail when a module in core/live/archive/faq/web is over 400 lines or holds a function over 60 lines.

A file that must stay larger says why in a `# size: …` line among its first lines. Run by `make check`.
Usage: python scripts/check_sizes.py [ROOT]
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGES = ("core", "live", "archive", "faq", "web")
MODULE_MAX = 400
FUNCTION_MAX = 60
REASON_WITHIN = 3  # the `# size:` line is among the first lines of the file


def _has_reason(lines: list[str]) -> bool:
    return any(line.startswith("# size:") for line in lines[:REASON_WITHIN])


def findings(path: Path, source: str) -> list[str]:
    """What is too long in one file (nothing when the file gives a reason)."""
    lines = source.splitlines()
    if _has_reason(lines):
        return []
    found = []
    if len(lines) > MODULE_MAX:
        found.append(f"{path}: {len(lines)} lines (at most {MODULE_MAX})")
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - start + 1
            if length > FUNCTION_MAX:
                found.append(f"{path}:{node.lineno}: {node.name} is {length} lines (at most {FUNCTION_MAX})")
    return found


def check(root: Path) -> list[str]:
    found: list[str] = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            found += findings(path.relative_to(root), path.read_text(encoding="utf-8"))
    return found


def main(argv: list[str]) -> int:
    found = check(Path(argv[0]) if argv else Path.cwd())
    for line in found:
        print(line)
    if found:
        print("split it into named steps, or give a one-line `# size:` reason at the top of the file", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
