"""`chonai run`, `serve`, `migrate`, `demo` and `scheduler`: the commands that start or prepare processes."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from core.db import Database
from core.settings import Settings, get_settings
from web.cli.common import run_db


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

    loaded = run_db(settings, load)
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


def add_commands(sub: Any) -> None:
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

    sched = sub.add_parser("scheduler", help="run the broadcast scheduler (opens, starts and ends broadcasts)")
    sched.add_argument("--tick", type=float, help="seconds between checks (default 1, or CHONAI_SCHEDULER_TICK)")
    sched.add_argument("--once", action="store_true", help="one round (catch up) and exit")
    sched.add_argument(
        "--lease-ttl",
        type=float,
        help="seconds a silent leader keeps the lease before a standby takes over (default max(10, 5 × tick))",
    )
    sched.set_defaults(func=cmd_scheduler)
