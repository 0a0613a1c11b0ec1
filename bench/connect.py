"""`chonai bench connect`: what connecting, authenticating and joining a room costs, and a reconnect storm.

    chonai bench connect --viewers 2000 --storm 2000 --storm-seconds 5 --rate 20 [--processes 2] --json

Chonai side: real `chonai serve` processes (a SQLite file, or --database-url; Redis when
--processes > 1), one login session per viewer (the session cookie, as browsers connect), a
live room holding --history comments. Phases:

1. connect: every viewer opens a socket and joins (no resume position). Reported:
   connect_seconds (wall time for all), join_p50_ms / join_p99_ms (TCP connect → last history
   frame) and server_cpu_ms_per_join (CPU of the server processes over the phase / viewers).
2. storm: posters write --rate comments/s to the room while --storm viewers drop and
   reconnect at uniformly random moments within --storm-seconds, each resuming with `after=`
   the last position it saw. Reported: the storm's join p50/p99, the comment p99 of viewers that
   stayed (poster send → receipt), server CPU per rejoin (whole-phase CPU / rejoins, the
   comments included) and failed rejoins.
3. leave: everyone disconnects; rss_kib_after_leave is the server RSS growth that remains
   (rss_kib_per_viewer is the growth with everyone connected, per viewer).

The same phases then run against bench/reference_server.py (no authentication, empty history).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import random
import resource
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._wsclient import RoomSocket
from bench.fanout import (
    ITEM_MARK,
    ROOT,
    bench_members,
    chonai_env,
    cpu_seconds,
    free_port,
    live_broadcast,
    percentile,
    room_bench_parser,
    rss_kib,
    self_cpu,
    serving,
    start,
)

SOCKETS_PER_MEMBER = 10  # below the server's 20 sockets per member and process


class Client(RoomSocket):
    """A room viewer: the last position kept, JSON decoded only if sampled."""

    def __init__(self, port: int, headers: str, room: int, after: int | None, sample: list[float] | None) -> None:
        super().__init__(f"127.0.0.1:{port}", headers)
        join: dict[str, Any] = {"type": "join", "room": room}
        if after is not None:
            join["after"] = after
        self.join = json.dumps(join)
        self.sample = sample  # latencies of bench comments land here (None: not sampled)
        self.sent_at: dict[int, float] = {}
        self.position = after or 0
        self.joined: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.error: str | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.joined.done():
            self.joined.set_exception(ConnectionError(self.error or "closed before joining"))

    def on_upgraded(self) -> None:
        self.send_text(self.join)

    def on_refused(self, head: bytes) -> None:
        self.error = head[:80].decode(errors="replace")
        self.close()

    def on_text(self, payload: bytes) -> None:
        mark = payload.rfind(ITEM_MARK)
        if mark >= 0:
            start_at = mark + len(ITEM_MARK)
            stop_at = payload.find(b",", start_at)
            self.position = max(self.position, int(payload[start_at:stop_at]))
        if not self.joined.done():
            if b'"type":"history"' in payload and b'"last_position":null' not in payload:
                self.joined.set_result(time.perf_counter())
            elif b'"type":"error"' in payload:
                self.error = payload[:200].decode(errors="replace")
        elif self.sample is not None and mark >= 0 and b'"type":"comments"' in payload:
            now = time.perf_counter()
            for item in json.loads(payload).get("items", ()):
                text = item.get("text", "")
                if text.startswith("bench ") and (sent := self.sent_at.get(int(text.split()[1]))) is not None:
                    self.sample.append(now - sent)


class Run:
    """One side's viewers against its server processes."""

    def __init__(self, ports: list[int], headers: list[str], room: int, pids: list[int], args: argparse.Namespace):
        self.ports, self.headers, self.room, self.pids, self.args = ports, headers, room, pids, args
        self.sent_at: dict[int, float] = {}
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def cpu(self) -> float:
        return sum(cpu_seconds(p) for p in self.pids)

    def rss(self) -> int:
        return sum(rss_kib(p) for p in self.pids)

    async def connect(self, i: int, after: int | None, sample: bool = False) -> tuple[Client, float]:
        """Open viewer i's socket and join; (client, seconds from TCP connect to the last history frame)."""
        port = self.ports[i % len(self.ports)]
        client = Client(port, self.headers[i % len(self.headers)], self.room, after, self.latencies if sample else None)
        client.sent_at = self.sent_at
        started = time.perf_counter()
        await client.open(port)
        done = await asyncio.wait_for(client.joined, 30)
        return client, done - started

    async def connect_all(self, n: int) -> tuple[list[Client], list[float]]:
        semaphore = asyncio.Semaphore(self.args.concurrency)
        sample_every = max(1, n // max(1, self.args.sample))

        async def one(i: int) -> tuple[Client, float]:
            async with semaphore:
                return await self.connect(i, None, sample=i % sample_every == 0)

        results = await asyncio.gather(*(one(i) for i in range(n)))
        return [c for c, _ in results], [t for _, t in results]

    async def post(self, posters: list[Client], seconds: float) -> None:
        rate = self.args.rate
        began = time.perf_counter()
        for k in range(int(rate * seconds)):
            delay = began + k / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            self.sent_at[k] = time.perf_counter()
            posters[k % len(posters)].send_text(json.dumps({"type": "comment", "text": f"bench {k}", "ref": f"b{k}"}))

    async def storm(self, clients: list[Client], count: int, seconds: float) -> tuple[list[float], int]:
        """`count` of `clients` drop and resume at random moments within `seconds`."""
        times: list[float] = []
        failed = 0

        async def rejoin(i: int) -> None:
            nonlocal failed
            await asyncio.sleep(random.uniform(0, seconds))
            old = clients[i]
            old.close()
            try:
                clients[i], took = await self.connect(i, old.position)
                times.append(took)
            except (OSError, ConnectionError, TimeoutError) as exc:
                failed += 1
                self.errors.append(f"{type(exc).__name__}: {exc}"[:200])

        await asyncio.gather(*(rejoin(i) for i in range(count)))
        return times, failed


def _share(own: float, server: float) -> float | None:
    return round(own / (own + server), 3) if own + server > 0 else None


def _ms(value: float | None) -> float | None:
    return round(value * 1000, 1) if value is not None else None


async def drive(run: Run) -> dict[str, Any]:
    args = run.args
    rss_none, cpu0, own0, began = run.rss(), run.cpu(), self_cpu(), time.perf_counter()
    clients, join_times = await run.connect_all(args.viewers)
    connect_seconds, connect_cpu, connect_own = time.perf_counter() - began, run.cpu() - cpu0, self_cpu() - own0
    await asyncio.sleep(1.0)  # presence beats settle
    rss_full = run.rss()
    # Posters (and the sampled viewers) measure the room's comment latency during the storm.
    posters = [(await run.connect(args.viewers + j, None, sample=True))[0] for j in range(args.posters)]
    storm_count = min(args.storm, len(clients))
    cpu1, own1 = run.cpu(), self_cpu()
    post_task = asyncio.create_task(run.post(posters, args.storm_seconds + 1.0))
    storm_times, failed = await run.storm(clients, storm_count, args.storm_seconds)
    await post_task
    await asyncio.sleep(1.0)  # the last comments arrive
    storm_cpu, storm_own = run.cpu() - cpu1, self_cpu() - own1
    for c in clients + posters:
        c.close()
    deadline = time.perf_counter() + 10
    rss_left = run.rss()
    while time.perf_counter() < deadline:  # the server lets go of the viewers (no fixed wait)
        await asyncio.sleep(0.5)
        now = run.rss()
        if now >= rss_left - 64:
            break
        rss_left = now
    return {
        "viewers_connected": len(clients),
        "connect_seconds": round(connect_seconds, 2),
        "join_p50_ms": _ms(percentile(join_times, 0.5)),
        "join_p99_ms": _ms(percentile(join_times, 0.99)),
        "server_cpu_ms_per_join": round(connect_cpu * 1000 / len(clients), 3),
        # The load generator shares the machine: a share near 0.5 on 2 cores means it, not the server, limits.
        "loadgen_cpu_share": _share(connect_own, connect_cpu),
        "storm": {
            "rejoins": len(storm_times),
            "failed": failed,
            "seconds": args.storm_seconds,
            "join_p50_ms": _ms(percentile(storm_times, 0.5)),
            "join_p99_ms": _ms(percentile(storm_times, 0.99)),
            "comment_p50_ms": _ms(percentile(run.latencies, 0.5)),
            "comment_p99_ms": _ms(percentile(run.latencies, 0.99)),
            "comments": int(args.rate * (args.storm_seconds + 1.0)),
            "server_cpu_ms_per_rejoin": round(storm_cpu * 1000 / max(1, len(storm_times)), 3),
            "loadgen_cpu_share": _share(storm_own, storm_cpu),
        },
        "rss_kib_per_viewer": round((rss_full - rss_none) / max(1, len(clients)), 1),
        "rss_kib_after_leave": rss_left - rss_none,
        "errors": run.errors[:5],
    }


# --- setting up each side -------------------------------------------------------------------


async def seed(database_url: str, viewers: int, posters: int, history: int) -> tuple[int, list[str], list[str]]:
    """Members with one session per viewer, a live room with `history` comments, posters' sessions."""
    from core.db import Database, utcnow
    from core.members.models import LoginSession
    from core.members.service import hash_token
    from live.rooms import posting
    from live.rooms.models import CommentRoom

    db = Database(database_url)
    try:
        async with db.session() as s:
            now = utcnow()
            broadcast = live_broadcast("接続ベンチマーク放送")
            room = broadcast.id
            s.add(broadcast)
            batch = secrets.token_hex(4)
            people = bench_members(f"connect-{batch}", "接続", math.ceil(viewers / SOCKETS_PER_MEMBER) + posters)
            s.add_all(people)
            await s.flush()
            # Posters have no rate limit to meet: the room's limit is lifted for the bench.
            s.add(CommentRoom(broadcast_id=room, rate_count=10**6, rate_seconds=1))
            raws = [secrets.token_urlsafe(32) for _ in range(viewers + posters)]
            expires = now + dt.timedelta(days=1)
            for i, raw in enumerate(raws):
                member = people[-1 - (i - viewers)] if i >= viewers else people[i // SOCKETS_PER_MEMBER]
                s.add(LoginSession(token_hash=hash_token(raw), member_id=member.id, expires_at=expires))
            await s.commit()
            for k in range(history):
                await posting.post_comment(s, room, people[k % len(people)], f"履歴 {k}", None)
        cookies = [f"Cookie: chonai_session={raw}\r\n" for raw in raws]
        return room, cookies[:viewers], cookies[viewers:]
    finally:
        await db.dispose()


def run_chonai(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import subprocess

    env, database_url = chonai_env(args, tmp)

    subprocess.run([sys.executable, "-m", "web.cli", "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
    room, cookies, poster_cookies = asyncio.run(seed(database_url, args.viewers, args.posters, args.history))
    ports = [free_port() for _ in range(args.processes)]
    serve = [sys.executable, "-m", "web.cli", "serve", "--workers", "1", "--port"]
    procs = [start([*serve, str(port)], env, tmp / "chonai.log") for port in ports]
    with serving(procs, ports, "/healthz"):
        return asyncio.run(drive(Run(ports, cookies + poster_cookies, room, [p.pid for p in procs], args)))


def run_reference(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    ports = [free_port() for _ in range(args.processes)]
    extra: list[str] = []
    if args.processes > 1:
        extra = ["--redis", args.redis_url, "--channel", f"chonai-bench-{secrets.token_hex(6)}"]
    command = [sys.executable, "-m", "bench.reference_server", "--window", "0.04", *extra, "--port"]
    procs = [start([*command, str(p)], dict(os.environ), tmp / "reference.log") for p in ports]
    with serving(procs, ports, "/"):
        return asyncio.run(drive(Run(ports, [""], 1, [p.pid for p in procs], args)))


def main(argv: list[str]) -> int:
    parser = room_bench_parser("connect", __doc__)
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument("--storm", type=int, default=2000, help="viewers that drop and resume")
    parser.add_argument("--storm-seconds", type=float, default=5.0, help="the storm's reconnects spread over this")
    parser.add_argument("--rate", type=float, default=5, help="comments per second during the storm")
    parser.add_argument("--posters", type=int, default=5)
    parser.add_argument("--history", type=int, default=200, help="comments in the room before anyone joins")
    parser.add_argument("--concurrency", type=int, default=100, help="connects in flight in the connect phase")
    parser.add_argument("--sample", type=int, default=50, help="viewers whose frames are decoded for latency")
    parser.add_argument("--only", choices=["chonai", "reference"], help="run one side only")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.viewers * 3 + 1024)), hard))
    result: dict[str, Any] = {k: getattr(args, k) for k in ("viewers", "storm", "storm_seconds", "rate", "processes")}
    result["load_average"] = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="chonai-bench-") as raw_tmp:
        tmp = Path(raw_tmp)
        for side, runner in (("chonai", run_chonai), ("reference", run_reference)):
            if args.only in (None, side):
                if not args.json:
                    print(f"{side} …", file=sys.stderr)
                result[side] = runner(args, tmp)
    if "chonai" in result and "reference" in result:
        ours, ref = result["chonai"]["server_cpu_ms_per_join"], result["reference"]["server_cpu_ms_per_join"]
        result["cpu_per_join_ratio"] = round(ours / ref, 2) if ref else None
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 2))
    return 0
