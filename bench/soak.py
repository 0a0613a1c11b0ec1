"""`chonai bench soak`: a long busy broadcast with random disconnects; nothing may be lost, doubled or reordered.

    chonai bench soak --viewers 1000 --rate 20 --seconds 300 [--processes 2] --json

Real `chonai serve` processes (a fresh SQLite file, or --database-url; Redis between
processes when --processes > 1). Viewers are raw WebSocket clients in this process that
check every comment position as it arrives; at random moments (Poisson, --churn per
viewer per minute) a viewer's or a poster's TCP connection is cut without a close frame
and it reconnects after a short pause, resuming with `after` = the last position it saw.
Posters resend unacknowledged comments with the same `ref`, as the browser does.

Printed JSON: acked (distinct comments acknowledged), persisted (rows in the room),
acked_not_persisted, delivered_expected (viewers × persisted), delivered (distinct
positions each viewer received, summed), lost (delivered_expected − delivered),
duplicated (a position received again), reordered (a position received after a later
one), reconnects, refused (comment errors other than retryable ones), rss_start_kib /
rss_end_kib / rss_growth (server processes, after the viewers joined and at the end),
and ok (all of lost, duplicated, reordered, acked_not_persisted are zero).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from bench._wsclient import RoomSocket
from bench.fanout import (
    ROOT,
    chonai_env,
    cpu_seconds,
    free_port,
    room_bench_parser,
    rss_kib,
    seed,
    start,
    stop,
    wait_http,
)

RETRYABLE = {"rate_limited", "unavailable", "flood"}


class _Item(msgspec.Struct):
    position: int


class _Message(msgspec.Struct):
    type: str
    items: list[_Item] = []
    last_position: int | None = None
    ref: str | None = None
    position: int | None = None
    code: str | None = None
    retry_after: float | None = None


_decode = msgspec.json.Decoder(_Message).decode


@dataclass
class Totals:
    reconnects: int = 0
    refused: list[str] = field(default_factory=list)
    join_errors: list[str] = field(default_factory=list)


class Client(RoomSocket):
    """One WebSocket connection at a time for one member; reconnects itself until told to stop."""

    def __init__(self, soak: Soak, index: int, header: str) -> None:
        super().__init__("127.0.0.1", header)
        self.soak = soak
        self.index = index
        self.joined = False
        self.stopping = False
        self.joined_event = asyncio.Event()
        # Viewer bookkeeping: `last` is the highest position seen; `holes` the ranges skipped.
        self.last = 0
        self.holes: list[list[int]] = []
        self.delivered = 0
        self.duplicated = 0
        self.reordered = 0

    # --- connection ---------------------------------------------------------------------

    def connect(self) -> None:
        loop = asyncio.get_running_loop()
        port = self.soak.ports[self.index % len(self.soak.ports)]
        self.buf, self.upgraded, self.joined = b"", False, False
        self.joined_event.clear()
        task = loop.create_task(self._open(port))
        self.soak.tasks.add(task)
        task.add_done_callback(self.soak.tasks.discard)

    async def _open(self, port: int) -> None:
        async with self.soak.connecting:
            try:
                await self.open(port)
                await asyncio.wait_for(self.joined_event.wait(), 30)
            except (OSError, TimeoutError):
                if self.transport is not None:
                    self.transport.abort()
                else:
                    self.schedule_reconnect()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.joined = False
        if not self.stopping:
            self.schedule_reconnect()

    def schedule_reconnect(self) -> None:
        if self.stopping:
            return
        self.soak.totals.reconnects += 1
        asyncio.get_running_loop().call_later(random.uniform(0.05, 1.0), self.connect)

    def cut(self) -> None:
        """Drop the connection like a phone losing signal (no close frame)."""
        if self.transport is not None and self.joined:
            self.transport.abort()

    def send(self, message: dict[str, Any]) -> None:
        self.send_text(json.dumps(message))

    def join_message(self) -> dict[str, Any]:
        return {"type": "join", "room": self.soak.room, "after": self.last}

    # --- frames -------------------------------------------------------------------------

    def on_upgraded(self) -> None:
        self.send(self.join_message())

    def on_refused(self, head: bytes) -> None:
        self.soak.totals.join_errors.append(head[:60].decode(errors="replace"))
        assert self.transport is not None
        self.transport.abort()

    def on_text(self, payload: bytes) -> None:
        self.on_message(_decode(payload))

    def on_message(self, message: _Message) -> None:
        kind = message.type
        if kind == "comments" or kind == "history":
            self.on_items(message.items)
            if kind == "history" and message.last_position is not None:
                self.joined = True
                self.joined_event.set()
                self.on_joined()
        elif kind == "ack":
            self.on_ack(message)
        elif kind == "error":
            self.on_error(message)

    def on_items(self, items: list[_Item]) -> None:
        for item in items:
            p = item.position
            if p == self.last + 1:
                self.last = p
                self.delivered += 1
            elif p > self.last:
                self.holes.append([self.last + 1, p - 1])
                self.last = p
                self.delivered += 1
            elif self._fill(p):
                self.reordered += 1
                self.delivered += 1
            else:
                self.duplicated += 1

    def _fill(self, p: int) -> bool:
        for i, (lo, hi) in enumerate(self.holes):
            if lo <= p <= hi:
                parts = [r for r in ([lo, p - 1], [p + 1, hi]) if r[0] <= r[1]]
                self.holes[i : i + 1] = parts
                return True
        return False

    def missing(self, upto: int) -> int:
        return sum(hi - lo + 1 for lo, hi in self.holes) + max(0, upto - self.last)

    def on_joined(self) -> None:
        return None

    def on_ack(self, message: _Message) -> None:
        return None

    def on_error(self, message: _Message) -> None:
        if message.code not in RETRYABLE:
            self.soak.totals.join_errors.append(str(message.code))
        if self.transport is not None and not self.joined:
            self.transport.abort()  # a refused join (e.g. "sync delayed"): reconnect and try again


class Poster(Client):
    """A member who posts; keeps unacknowledged comments and resends them with their ref."""

    def __init__(self, soak: Soak, index: int, header: str) -> None:
        super().__init__(soak, index, header)
        self.pending: dict[str, str] = {}
        self.acked: dict[str, int] = {}
        self.count = 0

    def join_message(self) -> dict[str, Any]:
        return {"type": "join", "room": self.soak.room}  # posters do not watch; history is ignored

    def on_items(self, items: list[_Item]) -> None:
        return None

    def post(self, k: int) -> None:
        self.count += 1
        ref = f"s{self.index}-{self.count}"
        text = f"soak {k}"
        self.pending[ref] = text
        if self.joined:
            self.send({"type": "comment", "text": text, "ref": ref})

    def on_joined(self) -> None:
        for ref, text in list(self.pending.items()):
            self.send({"type": "comment", "text": text, "ref": ref})

    def on_ack(self, message: _Message) -> None:
        if message.ref is not None and message.position is not None:
            self.pending.pop(message.ref, None)
            self.acked[message.ref] = message.position

    def on_error(self, message: _Message) -> None:
        ref = message.ref
        if ref is None or ref not in self.pending:
            super().on_error(message)
            return
        if message.code in RETRYABLE:
            delay = message.retry_after or 1.0
            asyncio.get_running_loop().call_later(delay, self._resend, ref)
        else:
            self.soak.totals.refused.append(str(message.code))
            self.pending.pop(ref, None)

    def _resend(self, ref: str) -> None:
        text = self.pending.get(ref)
        if text is not None and self.joined:
            self.send({"type": "comment", "text": text, "ref": ref})


@dataclass
class Soak:
    ports: list[int]
    room: int
    totals: Totals = field(default_factory=Totals)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    connecting: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(64))


async def _until(predicate: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return predicate()


async def drive(
    args: argparse.Namespace, ports: list[int], room: int, tokens: list[str], pids: list[int]
) -> dict[str, Any]:
    soak = Soak(ports, room)
    headers = [f"Authorization: Bearer {t}\r\n" for t in tokens]
    posters = [Poster(soak, i, headers[i]) for i in range(args.posters)]
    viewers = [Client(soak, i, headers[(args.posters + i) % len(headers)]) for i in range(args.viewers)]
    everyone: list[Client] = [*posters, *viewers]
    for c in everyone:
        c.connect()
    if not await _until(lambda: all(c.joined for c in everyone), 120):
        raise RuntimeError(f"only {sum(c.joined for c in everyone)} of {len(everyone)} clients joined")
    soak.totals.reconnects = 0
    await asyncio.sleep(2)  # welcome and presence traffic settles
    rss_start = sum(rss_kib(p) for p in pids)
    cpu_start = sum(cpu_seconds(p) for p in pids)

    rng = random.Random(args.seed)
    churn_per_s = args.churn / 60 * len(everyone)  # connections cut per second, whole population
    total = int(args.rate * args.seconds)
    started = time.monotonic()
    next_cut = started + rng.expovariate(churn_per_s) if churn_per_s > 0 else math.inf
    for k in range(total):
        due = started + k / args.rate
        while (now := time.monotonic()) < due:
            if next_cut <= now:
                rng.choice(everyone).cut()
                next_cut += rng.expovariate(churn_per_s)
                continue
            await asyncio.sleep(min(due, next_cut) - now)
        posters[k % len(posters)].post(k)

    # Drain: every comment acknowledged, every viewer at the end, nobody mid-reconnect.
    drained = await _until(lambda: all(not p.pending for p in posters), 60)
    persisted = await _count(args.database_url, room)
    caught_up = await _until(lambda: all(v.joined and v.last >= persisted for v in viewers), 60)
    await asyncio.sleep(1)  # late duplicates would arrive now
    rss_end = sum(rss_kib(p) for p in pids)
    cpu = sum(cpu_seconds(p) for p in pids) - cpu_start
    for c in everyone:
        c.stopping = True
        c.close()
    for task in list(soak.tasks):
        task.cancel()

    acked: dict[str, int] = {}
    for p in posters:
        acked.update({f"{p.index}:{r}": pos for r, pos in p.acked.items()})
    stored = await _stored_refs(args.database_url, room)
    acked_not_persisted = sum(1 for key, pos in acked.items() if stored.get(key.split(":", 1)[1]) != pos)
    delivered_expected = len(viewers) * persisted
    delivered = sum(v.delivered for v in viewers)
    result = {
        "acked": len(acked),
        "persisted": persisted,
        "acked_not_persisted": acked_not_persisted,
        "delivered_expected": delivered_expected,
        "delivered": delivered,
        "lost": sum(v.missing(persisted) for v in viewers),
        "duplicated": sum(v.duplicated for v in viewers),
        "reordered": sum(v.reordered for v in viewers),
        "reconnects": soak.totals.reconnects,
        "refused": len(soak.totals.refused),
        "refusal_codes": sorted(set(soak.totals.refused))[:5],
        "join_errors": soak.totals.join_errors[:5],
        "drained": drained and caught_up,
        "rss_start_kib": rss_start,
        "rss_end_kib": rss_end,
        "rss_growth": round(rss_end / rss_start - 1, 4) if rss_start else None,
        "server_cpu_s": round(cpu, 1),
    }
    result["ok"] = (
        result["lost"] == 0
        and result["duplicated"] == 0
        and result["reordered"] == 0
        and acked_not_persisted == 0
        and delivered == delivered_expected
        and result["acked"] == total
        and result["drained"]
    )
    return result


async def _count(database_url: str, room: int) -> int:
    return len(await _stored_refs(database_url, room))


async def _stored_refs(database_url: str, room: int) -> dict[str, int]:
    """ref -> position of every stored comment of the room (refs are unique per member; ours per poster)."""
    from sqlalchemy import select

    from core.db import Database
    from live.rooms.models import RoomComment

    db = Database(database_url, pool_size=0)
    try:
        async with db.session() as s:
            rows = await s.execute(
                select(RoomComment.ref, RoomComment.position).where(RoomComment.broadcast_id == room)
            )
            return {str(r): int(p) for r, p in rows}
    finally:
        await db.dispose()


def run(args: argparse.Namespace) -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.viewers * 2 + 1024)), hard))
    with tempfile.TemporaryDirectory(prefix="chonai-soak-") as raw_tmp:
        tmp = Path(raw_tmp)
        env, args.database_url = chonai_env(args, tmp, "soak.db")
        subprocess.run([sys.executable, "-m", "web.cli", "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
        # Each member stays well under the default 11 comments / 30 s, resends included.
        args.posters = max(2, math.ceil(args.rate * 30 / 7))
        room, tokens = asyncio.run(seed(args.database_url, args.posters + min(args.viewers, 50)))
        ports = [free_port() for _ in range(args.processes)]
        log = tmp / "server.log"
        procs = [
            start([sys.executable, "-m", "web.cli", "serve", "--port", str(p), "--workers", "1"], env, log)
            for p in ports
        ]
        try:
            for port, proc in zip(ports, procs, strict=True):
                wait_http(f"http://127.0.0.1:{port}/healthz", proc)
            result = asyncio.run(drive(args, ports, room, tokens, [p.pid for p in procs]))
        finally:
            stop(procs)
        errors = [line for line in log.read_text(errors="replace").splitlines() if " ERROR " in line]
        result["server_errors"] = len(errors)
        result["server_error_sample"] = errors[:3]
        return result


def main(argv: list[str]) -> int:
    parser = room_bench_parser("soak", __doc__)
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20, help="comments per second (whole room)")
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--churn", type=float, default=1.0, help="connection cuts per client per minute (random)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    if not args.json:
        print(f"soak: {args.viewers} viewers, {args.rate}/s for {args.seconds}s …", file=sys.stderr)
    result = {
        "viewers": args.viewers,
        "rate": args.rate,
        "seconds": args.seconds,
        "processes": args.processes,
        "churn_per_min": args.churn,
        **run(args),
    }
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 2))
    return 0 if result["ok"] else 1
