"""`chonai bench notify-fanout --followers 10000 --json`: a program with many followers goes live mid-chat.

A scratch database (a temporary SQLite file, or DATABASE_URL's PostgreSQL server with `--postgres`)
gets N approved members following one program; its broadcast is open (lobby) with a busy comment
room. Comments are posted one after another through the real room service, first alone (baseline),
then while the broadcast goes live through `transition()` — which writes N notifications in the same
transaction. It prints how long the go-live took, how many statements it ran, and the comments'
commit latency before and during it: a batched fan-out must not slow the room.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, insert, select

from core.db import Database, utcnow
from core.events import InProcessBus
from core.members.models import Member, Role, Status
from core.migrate import upgrade
from core.notify.models import Follow, Notification, Target
from live.models import Broadcast, BroadcastState, Program
from live.rooms import posting
from live.rooms import service as rooms
from live.rooms.protocol import Limits
from live.schedule.transitions import transition


async def _seed(db: Database, followers: int) -> tuple[int, Member]:
    async with db.session() as s:
        rows = [
            {
                "email": f"f{i}@bench.example.jp",
                "name": f"フォロワー{i}",
                "org_kind": "municipality",
                "organisation": "ベンチ市",
                "department": "ベンチ課",
                "prefecture": "東京都",
                "password_hash": "x",
                "role": Role.MEMBER,
                "status": Status.APPROVED,
                "created_at": utcnow(),
            }
            for i in range(followers + 1)
        ]
        for start in range(0, len(rows), 2000):
            await s.execute(insert(Member), rows[start : start + 2000])
        ids = list((await s.execute(select(Member.id).order_by(Member.id))).scalars())
        commenter = await s.get_one(Member, ids[0])
        now = utcnow()
        program = Program(title="ベンチ放送", personality_id=ids[0], dtstart=now, duration_minutes=60)
        s.add(program)
        await s.flush()
        follows = [
            {"member_id": i, "target": Target.PROGRAM, "target_id": program.id, "created_at": now} for i in ids[1:]
        ]
        for start in range(0, len(follows), 2000):
            await s.execute(insert(Follow), follows[start : start + 2000])
        b = Broadcast(
            program_id=program.id,
            title="ベンチ放送",
            personality_id=ids[0],
            starts_at=now + dt.timedelta(minutes=1),
            ends_at=now + dt.timedelta(hours=1),
            opens_at=now - dt.timedelta(minutes=5),
            state=BroadcastState.OPEN,
        )
        s.add(b)
        await s.commit()
        await rooms.set_limits(s, b.id, Limits(max_length=200, rate_count=100_000, rate_seconds=1))
        return b.id, commenter


async def _comments(db: Database, broadcast_id: int, member: Member, n: int, tag: str) -> list[float]:
    """Post n comments back to back; each one's commit latency in ms."""
    latencies = []
    async with db.session() as s:
        for i in range(n):
            t0 = time.perf_counter()
            await posting.post_comment(s, broadcast_id, member, f"{tag} コメント {i}", f"{tag}-{i}")
            latencies.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(0.002)  # a busy room, not a tight loop
    return latencies


def _summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {
        "count": len(ms),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 2),
        "max_ms": round(ordered[-1], 2),
    }


async def run(url: str, followers: int, comments: int) -> dict[str, Any]:
    chat, control = Database(url, pool_size=2), Database(url, pool_size=2)
    try:
        broadcast_id, member = await _seed(chat, followers)
        baseline = await _comments(chat, broadcast_id, member, comments, "before")
        statements: list[str] = []

        def count(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
            statements.append(statement)

        event.listen(control.engine.sync_engine, "before_cursor_execute", count)
        timing: dict[str, float] = {}

        async def go_live() -> None:
            await asyncio.sleep(0.05)  # let the chat get going first
            t0 = time.perf_counter()
            async with control.session() as s:
                await transition(s, InProcessBus(), broadcast_id, BroadcastState.LIVE)
            timing["go_live_ms"] = (time.perf_counter() - t0) * 1000

        during, _ = await asyncio.gather(_comments(chat, broadcast_id, member, comments, "during"), go_live())
        event.remove(control.engine.sync_engine, "before_cursor_execute", count)
        async with chat.session() as s:
            written = int((await s.execute(select(func.count()).select_from(Notification))).scalar_one())
        return {
            "database": url.split(":")[0],
            "followers": followers,
            "notifications_written": written,
            "go_live_ms": round(timing["go_live_ms"], 1),
            "go_live_statements": len(statements),
            "comments_baseline": _summary(baseline),
            "comments_during_go_live": _summary(during),
        }
    finally:
        await chat.dispose()
        await control.dispose()


def _on_postgres(admin_url: str, followers: int, comments: int) -> dict[str, Any]:
    import uuid
    from urllib.parse import urlsplit

    import asyncpg

    admin = admin_url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"chonai_bench_{uuid.uuid4().hex[:8]}"

    async def sql(statement: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(sql(f'CREATE DATABASE "{name}"'))
    try:
        url = f"postgresql+asyncpg://{urlsplit(admin).netloc}/{name}"
        upgrade(url)
        return asyncio.run(run(url, followers, comments))
    finally:
        asyncio.run(sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="chonai bench notify-fanout", description=__doc__)
    parser.add_argument("--followers", type=int, default=10_000)
    parser.add_argument("--comments", type=int, default=300, help="comments in each phase")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--postgres", metavar="URL", help="run on a scratch database of this PostgreSQL server (dropped afterwards)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.followers <= 200_000 or not 10 <= args.comments <= 10_000:
        print("chonai bench notify-fanout: --followers 1..200000, --comments 10..10000", file=sys.stderr)
        return 2
    if args.postgres:
        result = _on_postgres(args.postgres, args.followers, args.comments)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            upgrade(url)  # Alembic runs its own event loop
            result = asyncio.run(run(url, args.followers, args.comments))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0
