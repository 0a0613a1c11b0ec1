"""`chonai faq import`, `backup`, `restore`, `doctor` and `search reindex`: commands on the data a site holds."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from core.settings import Settings
from web.cli.common import run_db


def cmd_faq_import(settings: Settings, args: argparse.Namespace) -> int:
    """Load FAQ documents from JSON Lines: every line is checked first, then all are merged at once."""
    from pathlib import Path

    from faq import importer
    from web.progress import ProgressBar

    path = Path(args.path)
    if not path.is_file():
        print(f"chonai: {path}: ファイルがありません / no such file", file=sys.stderr)
        return 2
    try:
        rows = importer.read_rows(path)
    except importer.ImportError_ as exc:
        print(f"chonai: {path}: {exc} 何も取り込んでいません / nothing imported", file=sys.stderr)
        return 2
    bar = ProgressBar(len(rows), "確認中" if args.dry_run else "取り込み中")
    summary = run_db(settings, lambda s: importer.import_rows(s, rows, bar.update, dry_run=args.dry_run))
    bar.finish()
    for change in summary.changes:
        if args.dry_run or change.version is not None or args.verbose:
            print(change.line())
    verb = "取り込むと" if args.dry_run else "取り込み完了:"
    print(
        f"{verb} {summary.entries}件（追加 {summary.added}、変更 {summary.changed}、同じ {summary.unchanged}）, "
        f"シリーズ新規 {summary.series_created}, 回新規 {summary.sessions_created}, "
        f"公開する版 {summary.documents_published}" + ("（--dry-run: 何も書き込んでいません）" if args.dry_run else "")
    )
    return 0


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    """Database (online), var/media and the secret key into one .tar.gz, safe while serving."""
    from pathlib import Path

    from web import backup

    try:
        manifest = backup.backup(settings, Path(args.path))
    except backup.BackupError as exc:
        print(f"chonai: {exc}", file=sys.stderr)
        return 2
    size = Path(args.path).stat().st_size
    print(
        f"バックアップを作成しました: {args.path}（{manifest.database}、メディア {manifest.media_files} 件、"
        f"秘密鍵を含む、{size / 1024:.0f} KiB）"
    )
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    """Replace the database, var/media and the secret key with a backup's."""
    from pathlib import Path

    from web import backup

    if not args.yes:
        if not sys.stdin.isatty():
            print("chonai: restore replaces every member's data; add --yes to confirm", file=sys.stderr)
            return 2
        if input(f"{settings.database_url} とメディアを {args.path} の内容で置き換えます。yes と入力: ") != "yes":
            print("中止しました / cancelled")
            return 1
    try:
        notes = backup.restore(settings, Path(args.path), os.environ.get("SECRET_KEY", ""))
    except backup.BackupError as exc:
        print(f"chonai: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(note)
    return 0


def cmd_doctor(_settings: Settings | None, args: argparse.Namespace) -> int:
    from web import doctor

    return doctor.run(args.origin)


def cmd_search_reindex(settings: Settings, args: argparse.Namespace) -> int:
    """Rebuild the search index from every domain; the server may keep serving meanwhile."""
    from web.search_index import rebuild

    def progress(kind: str, done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        end = "\n" if done >= total else "\r"
        print(f"  {kind:<10} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end, file=sys.stderr)

    counts = run_db(settings, lambda s: rebuild(s, progress, jobs=args.jobs))
    print("索引を作り直しました: " + ", ".join(f"{k} {n}件" for k, n in counts.items()))
    return 0


def add_commands(sub: Any) -> None:
    faq = sub.add_parser("faq", help="FAQ documents").add_subparsers(dest="faq_command", required=True)
    faq_import = faq.add_parser("import", help="import FAQ entries from a JSON Lines file")
    faq_import.add_argument("path")
    faq_import.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")
    faq_import.add_argument("--verbose", action="store_true", help="list unchanged documents too")
    faq_import.set_defaults(func=cmd_faq_import)
    bak = sub.add_parser("backup", help="back up the database, var/media and the secret key (while serving)")
    bak.add_argument("path", help="the .tar.gz file to write")
    bak.set_defaults(func=cmd_backup)
    res = sub.add_parser("restore", help="restore a backup made by `chonai backup`")
    res.add_argument("path")
    res.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    res.set_defaults(func=cmd_restore)
    doc = sub.add_parser("doctor", help="check settings, database, Redis, SMTP, time zone, disk and BASE_URL")
    doc.add_argument("--origin", help="the address you open the site at, e.g. http://localhost:8000")
    doc.set_defaults(func=cmd_doctor)
    search = sub.add_parser("search", help="the search index").add_subparsers(dest="search_command", required=True)
    reindex = search.add_parser("reindex", help="rebuild the search index (with a progress bar) while serving")
    reindex.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="analyser processes (Sudachi is the limit of one: about 2,000 entries/CPU-s)",
    )
    reindex.set_defaults(func=cmd_search_reindex)
