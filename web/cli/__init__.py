"""The `chonai` command: run, serve, migrate, demo data, admin accounts, API tokens, benchmarks.

One module per group of subcommands, each with its `add_commands`: `serving` (run, serve, migrate,
demo, scheduler), `accounts` (admin, token), `data` (faq import, backup, restore, doctor, search).
"""

from __future__ import annotations

import argparse
import sys

from core.settings import get_settings
from web.cli import accounts, data, serving


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chonai", description="Chonai: 庁内放送・ライブコメント・勉強会FAQ")
    sub = parser.add_subparsers(dest="command", required=True)
    serving.add_commands(sub)
    accounts.add_commands(sub)
    sub.add_parser("bench", help="benchmarks: chonai bench NAME --help")
    data.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:  # benchmarks parse their own options
        from bench.cli import main as bench_main

        return bench_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "doctor":  # reports a bad setting as a finding instead of stopping
        return int(args.func(None, args))
    settings = get_settings()
    return int(args.func(settings, args))
