"""`chonai bench writes`: sustained comment writes into one room, timed from send to acknowledgement.

    chonai bench writes --rate 500 --seconds 20 [--members 200] [--processes 2]
                        [--database-url postgresql://postgres@127.0.0.1:5432/test] --json

Real `chonai serve` processes (a fresh SQLite file, or a scratch database created on the given
PostgreSQL server and dropped afterwards; Redis when --processes > 1). N members with API tokens
join one live room (round-robin over the processes) and post `rate` comments per second in all,
open loop: comment k is sent at start + k / rate whether or not earlier ones were acknowledged.
Every per-comment rule runs (flood budget, restrictions, blocked words, slow mode, length, rate
limit, duplicate refs); the room's rate limit is raised so that the members' share
(rate / members per second) stays under it, and the members are at least rate / 2.5 so that no
socket passes its flood budget (3 messages/s).

Output: ack_ms p50/p95/p99/max (send → `ack` received), achieved_rate (acks per second from the
first send to the last ack), errors by code, server_cpu_s and server_cpu_share (CPU-seconds of
the server processes / wall seconds, the database server excluded), loadgen_cpu_share, and
positions_ok (the acknowledged positions are distinct and consecutive).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench._wsclient import opened
from bench.fanout import (
    ROOT,
    Stats,
    Viewer,
    chonai_env,
    cpu_seconds,
    free_port,
    percentile,
    seed,
    self_cpu,
    start,
    stop,
    wait_http,
)

PER_MEMBER_RATE = 2.5  # comments/s one socket sends: under the flood budget's 3 messages/s


class Poster(Viewer):
    """A member's socket: times its own comments' acks; comment frames are only counted."""

    def __init__(self, host: str, headers: str, room: int, stats: Stats, run: Run) -> None:
        super().__init__(host, headers, room, False, stats)
        self.run = run

    def on_text(self, payload: bytes) -> None:
        if b'"type":"ack"' in payload or b'"type":"error"' in payload:
            self.run.answer(json.loads(payload), time.perf_counter())
        else:
            super().on_text(payload)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.joined:  # lost while measuring: its comments will not be answered
            self.run.done.set()


class Run:
    """Send times, answers and positions of one measured run."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.latencies: list[float] = []
        self.positions: list[int] = []
        self.errors: Counter[str] = Counter()
        self.samples: list[str] = []
        self.last_answer = 0.0
        self.sending = True
        self.done = asyncio.Event()  # every comment answered once sending ended, or a socket lost

    def answer(self, message: dict[str, Any], now: float) -> None:
        sent = self.sent.pop(str(message.get("ref")), None)
        if sent is None:
            self.errors["unexpected_" + message["type"]] += 1
            return
        self.last_answer = now
        if not self.sent and not self.sending:
            self.done.set()
        if message["type"] == "ack":
            self.latencies.append(now - sent)
            self.positions.append(int(message["position"]))
        else:
            self.errors[str(message.get("code"))] += 1
            if len(self.samples) < 5:
                self.samples.append(str(message.get("message")))


async def connect_all(ports: list[int], headers: list[str], room: int, stats: Stats, run: Run) -> list[Poster]:
    semaphore = asyncio.Semaphore(32)

    async def one(i: int) -> Poster:
        port = ports[i % len(ports)]
        async with semaphore:
            return await opened(lambda: Poster(f"127.0.0.1:{port}", headers[i], room, stats, run), port)

    return list(await asyncio.gather(*(one(i) for i in range(len(headers)))))


async def drive(
    ports: list[int], headers: list[str], room: int, rate: float, seconds: float, pids: list[int]
) -> dict[str, Any]:
    stats, run = Stats(), Run()
    posters = await connect_all(ports, headers, room, stats, run)
    await asyncio.sleep(1.0)  # welcome and presence traffic settles
    stats.closed = 0  # from here on a closed socket ends the wait (retried connects counted before)
    total = int(rate * seconds)
    server_cpu0, loadgen_cpu0 = sum(cpu_seconds(p) for p in pids), self_cpu()
    begin = time.perf_counter()
    for k in range(total):
        delay = begin + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        ref = f"w{k}"
        run.sent[ref] = time.perf_counter()
        posters[k % len(posters)].send_text(json.dumps({"type": "comment", "text": f"書き込み {k}", "ref": ref}))
    send_end = time.perf_counter()
    run.sending = False
    if not run.sent:
        run.done.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(run.done.wait(), 30)
    wall = time.perf_counter() - begin
    server_cpu = sum(cpu_seconds(p) for p in pids) - server_cpu0
    loadgen_cpu = self_cpu() - loadgen_cpu0
    for poster in posters:
        poster.close()
    acked = len(run.latencies)
    span = (run.last_answer - begin) if acked else 0.0
    positions = sorted(run.positions)

    def ms(q: float) -> float | None:
        value = percentile(run.latencies, q)
        return round(value * 1000, 1) if value is not None else None

    return {
        "comments": total,
        "acked": acked,
        "unanswered": len(run.sent),
        "errors": dict(run.errors),
        "error_samples": run.samples + stats.errors[:3],
        "send_rate": round(total / (send_end - begin), 1),
        "achieved_rate": round(acked / span, 1) if span > 0 else None,
        "ack_ms": {"p50": ms(0.50), "p95": ms(0.95), "p99": ms(0.99), "max": ms(1.0)},
        "positions_ok": len(set(positions)) == acked and (not positions or positions[-1] - positions[0] + 1 == acked),
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_share": round(server_cpu / wall, 3),
        "loadgen_cpu_share": round(loadgen_cpu / wall, 3),
        "sockets_closed": stats.closed,
    }


async def raise_limits(database_url: str, room: int, rate_count: int) -> None:
    from core.db import Database
    from live.rooms import service
    from live.rooms.protocol import Limits

    db = Database(database_url)
    try:
        async with db.session() as s:
            await service.set_limits(s, room, Limits(max_length=200, rate_count=rate_count, rate_seconds=30))
    finally:
        await db.dispose()


def measure(args: argparse.Namespace, database_url: str, tmp: Path) -> dict[str, Any]:
    env, _ = chonai_env(args, tmp)
    env["DATABASE_URL"] = database_url  # the scratch database measure() was given
    subprocess.run([sys.executable, "-m", "web.cli", "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
    room, tokens = asyncio.run(seed(database_url, args.members))
    # Each member's share over the 30-second window, doubled: the rule runs but never refuses.
    asyncio.run(raise_limits(database_url, room, math.ceil(args.rate / args.members * 30 * 2) + 11))
    ports = [free_port() for _ in range(args.processes)]
    cmd = [sys.executable, "-m", "web.cli", "serve", "--workers", "1", "--port"]
    procs = [start([*cmd, str(port)], env, tmp / "chonai.log") for port in ports]
    try:
        for port, proc in zip(ports, procs, strict=True):
            wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        headers = [f"Authorization: Bearer {t}\r\n" for t in tokens]
        return asyncio.run(drive(ports, headers, room, args.rate, args.seconds, [p.pid for p in procs]))
    finally:
        stop(procs)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="chonai bench writes", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500, help="comments per second into the room (all members)")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--members", type=int, help=f"posting members (default and minimum: rate / {PER_MEMBER_RATE})")
    parser.add_argument("--processes", type=int, default=1, help="server processes (>1 shares the room through Redis)")
    parser.add_argument("--database-url", help="PostgreSQL server to create a scratch database on (default: SQLite)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"))
    parser.add_argument("--json", action="store_true", help="print only the JSON object, on one line")
    args = parser.parse_args(argv)
    args.members = max(args.members or 0, math.ceil(args.rate / PER_MEMBER_RATE), 1)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="chonai-bench-writes-") as raw_tmp:
        tmp = Path(raw_tmp)
        result: dict[str, Any] = {"rate": args.rate, "seconds": args.seconds, "members": args.members}
        result["processes"] = args.processes
        if args.database_url:
            from bench.search import _create_postgres, _drop_postgres

            admin = args.database_url.replace("postgresql://", "postgresql+asyncpg://", 1)
            url, name = asyncio.run(_create_postgres(admin))
            try:
                result["database"] = "postgresql"
                result.update(measure(args, url, tmp))
            finally:
                asyncio.run(_drop_postgres(admin, name))
        else:
            result["database"] = "sqlite"
            result.update(measure(args, f"sqlite+aiosqlite:///{tmp / 'bench.db'}", tmp))
    result["load_1min"] = {"before": round(load, 2), "after": round(os.getloadavg()[0], 2)}
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 2))
    return 0
