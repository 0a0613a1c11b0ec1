# size: 402 lines, one subcommand table (argparse) and each subcommand's few lines; splitting would scatter the CLI.
"""The `chonai` command: run, serve, migrate, demo data, admin accounts, API tokens, benchmarks."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from core.db import Database
from core.settings import Settings, get_settings


def _run_db(settings: Settings, fn: Callable[[Any], Coroutine[Any, Any, Any]]) -> Any:
    async def go() -> Any:
        db = Database(settings.database_url)
        try:
            async with db.session() as session:
                return await fn(session)
        finally:
            await db.dispose()

    return asyncio.run(go())


def cmd_migrate(settings: Settings, _: argparse.Namespace) -> int:
    from core.migrate import upgrade

    settings.var_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from web import demo

    async def load(session: Any) -> bool:
        if not await demo.is_empty(session):
            return False
        await demo.load_demo(session)
        return True

    loaded = _run_db(settings, load)
    if loaded:
        print("デモデータを読み込みました / demo data loaded")
    elif not args.quiet:
        print("データが既にあるためデモデータは読み込みませんでした / database not empty, demo data skipped")
    return 0


def _banner(settings: Settings) -> None:
    from web.demo import DEMO_MEMBERS, DEMO_PASSWORD

    print("\n  Chonai is running at " + settings.base_url)
    print(f"  Database: {settings.database_url}   Mail outbox: {settings.outbox_dir}")
    if settings.demo_data:
        print(f"  Demo logins (password: {DEMO_PASSWORD}):")
        for m in DEMO_MEMBERS:
            print(f"    {m.email:<24} {m.role.label} / {m.status.label}  {m.name}（{m.organisation}）")
    if settings.log_level == "WARNING":
        print("  Only warnings are logged; LOG_LEVEL=INFO shows every request. Stop with Ctrl+C.")
    print()


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """What `make run` does: migrate, demo data on first start, then serve (with the scheduler inside)."""
    os.environ.setdefault("CHONAI_SCHEDULER", "embedded")
    if not os.environ.get("LOG_LEVEL"):  # a quiet terminal: the URL and the logins, then only warnings
        os.environ["LOG_LEVEL"] = "WARNING"
        get_settings.cache_clear()
        settings = get_settings()
    cmd_migrate(settings, args)
    if settings.demo_data:
        args.quiet = True
        cmd_demo(settings, args)
    _banner(settings)
    return cmd_serve(settings, args)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from live.rooms.transport import UVICORN_WS
    from web.serving import WS_MAX_SIZE, HttpProtocol

    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    if workers > 1 and not settings.redis_url:
        # The in-process broker cannot share rooms between processes.
        print("chonai: several workers need REDIS_URL; serving with one worker", file=sys.stderr)
        workers = 1
    os.environ.update(HOST=host, PORT=str(port))
    uvicorn.run(
        "web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        ws=UVICORN_WS,  # the protocol live.rooms.transport.DirectSink writes through (never "auto")
        ws_per_message_deflate=False,  # fan-out sockets: compression costs far more than it saves
        http=HttpProtocol,  # uvicorn's own, plus a deadline for request headers (web/serving.py)
        ws_max_size=WS_MAX_SIZE,
        log_config=None,
        timeout_graceful_shutdown=10,
    )
    return 0


def cmd_scheduler(settings: Settings, args: argparse.Namespace) -> int:
    """The broadcast scheduler process (Procfile `scheduler:`); a lease keeps it to one acting instance."""
    import signal

    from core.events import create_bus
    from core.notify import live as notify_live
    from core.notify.worker import MailWorker
    from live.schedule.scheduler import Scheduler, make_lease, tick_interval
    from web.app import SCHEDULER_STEPS

    interval = args.tick if args.tick is not None else tick_interval()
    if not 0.05 <= interval <= 60:
        print("chonai: --tick must be between 0.05 and 60 seconds", file=sys.stderr)
        return 2
    ttl = args.lease_ttl if args.lease_ttl is not None else max(10.0, interval * 5)
    if not interval * 2 <= ttl <= 600:
        print("chonai: --lease-ttl must be at least twice the tick and at most 600 seconds", file=sys.stderr)
        return 2
    if not settings.redis_url:
        print(
            "chonai: no REDIS_URL: using the database lease; open pages only see state changes made in their own "
            "process, so prefer `chonai run` (scheduler inside the web process) or set REDIS_URL",
            file=sys.stderr,
        )

    async def go() -> None:
        db = Database(settings.database_url, pool_size=2)
        bus = create_bus(settings.redis_url, settings.redis_prefix)
        await bus.start()
        notify_live.use_bus(bus)  # bells in the web processes ring for what this process writes
        lease = make_lease(db, settings.redis_url, ttl=ttl, prefix=settings.redis_prefix)
        scheduler = Scheduler(db, bus, lease, interval=interval, steps=SCHEDULER_STEPS)
        # The mail worker runs in every scheduler process: claims keep each mail to one sender.
        mails = MailWorker(db, settings, interval=min(interval, 1.0))
        loop = asyncio.get_running_loop()

        def stop() -> None:
            scheduler.stop()
            mails.stop()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop)
        try:
            if args.once:
                await scheduler.step()
                await scheduler.lease.release()
                await mails.step()
            else:
                await asyncio.gather(scheduler.run(), mails.run())
        finally:
            await bus.close()
            await db.dispose()

    from core.logs import configure_logging

    configure_logging(settings.log_level, settings.log_json)
    asyncio.run(go())
    return 0


def _ask(value: str | None, prompt: str, secret: bool = False) -> str:
    if value:
        return value
    if not sys.stdin.isatty():
        raise SystemExit(f"chonai: {prompt} is required (give it as an option)")
    return getpass.getpass(f"{prompt}: ") if secret else input(f"{prompt}: ")


def cmd_admin_create(settings: Settings, args: argparse.Namespace) -> int:
    from core.members import service
    from core.members.inputs import SignupInput
    from core.members.validation import validate_signup

    form = SignupInput(
        email=_ask(args.email, "E-mail"),
        name=_ask(args.name, "Name"),
        password=_ask(args.password, "Password", secret=True),
        org_kind=args.org_kind,
        organisation=args.organisation,
        department=args.department,
        prefecture=args.prefecture,
    )
    data, errors = validate_signup(form)
    if data is None:
        for field, message in errors.items():
            print(f"chonai: {field}: {message}", file=sys.stderr)
        return 2
    try:
        member = _run_db(settings, lambda s: service.create_operator(s, data))
    except service.MemberError as exc:
        print(f"chonai: {exc.message}", file=sys.stderr)
        return 2
    print(f"operator created: {member.email} (id {member.id})")
    return 0


def cmd_token_create(settings: Settings, args: argparse.Namespace) -> int:
    from core.members import service

    async def create(session: Any) -> str | None:
        member = await service.get_by_email(session, args.email)
        if member is None or not member.is_active:
            return None
        _, raw = await service.create_api_token(session, member, args.name)
        return raw

    raw = _run_db(settings, create)
    if raw is None:
        print(f"chonai: no approved member with e-mail {args.email}", file=sys.stderr)
        return 2
    print(raw)
    return 0


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
    summary = _run_db(settings, lambda s: importer.import_rows(s, rows, bar.update, dry_run=args.dry_run))
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

    counts = _run_db(settings, lambda s: rebuild(s, progress, jobs=args.jobs))
    print("索引を作り直しました: " + ", ".join(f"{k} {n}件" for k, n in counts.items()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chonai", description="Chonai: 庁内放送・ライブコメント・勉強会FAQ")
    sub = parser.add_subparsers(dest="command", required=True)

    for name, help_text in (("run", "migrate, load demo data on first start, serve"), ("serve", "serve the web app")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--host")
        p.add_argument("--port", type=int)
        p.add_argument("--workers", type=int)
        p.set_defaults(func=cmd_run if name == "run" else cmd_serve)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    demo = sub.add_parser("demo", help="load demo data into an empty database")
    demo.add_argument("--quiet", action="store_true")
    demo.set_defaults(func=cmd_demo)

    admin = sub.add_parser("admin", help="operator accounts").add_subparsers(dest="admin_command", required=True)
    create = admin.add_parser("create", help="create an approved operator")
    create.add_argument("--email")
    create.add_argument("--name")
    create.add_argument("--password")
    create.add_argument("--organisation", default="Chonai運営事務局")
    create.add_argument("--department", default="運営チーム")
    create.add_argument("--prefecture", default="東京都")
    create.add_argument("--org-kind", default="municipality", choices=["municipality", "ministry"])
    create.set_defaults(func=cmd_admin_create)

    sched = sub.add_parser("scheduler", help="run the broadcast scheduler (opens, starts and ends broadcasts)")
    sched.add_argument("--tick", type=float, help="seconds between checks (default 1, or CHONAI_SCHEDULER_TICK)")
    sched.add_argument("--once", action="store_true", help="one round (catch up) and exit")
    sched.add_argument(
        "--lease-ttl",
        type=float,
        help="seconds a silent leader keeps the lease before a standby takes over (default max(10, 5 × tick))",
    )
    sched.set_defaults(func=cmd_scheduler)

    sub.add_parser("bench", help="benchmarks: chonai bench NAME --help")
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
    token = sub.add_parser("token", help="API tokens").add_subparsers(dest="token_command", required=True)
    tcreate = token.add_parser("create", help="print a new API token for a member")
    tcreate.add_argument("--email", required=True)
    tcreate.add_argument("--name", default="CLI")
    tcreate.set_defaults(func=cmd_token_create)
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


if __name__ == "__main__":
    raise SystemExit(main())
