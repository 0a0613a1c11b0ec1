"""The fan-out benchmark's load generator, split over several processes.

One Python process cannot count 10,000 viewers' frames and still read each frame when it
arrives: its own event loop becomes the latency it measures. So `drive` (in the parent)
starts `--loadgen` worker processes. With more than one, worker 0 only times: it holds the
sampled viewers (about `--sample` of them, none a poster), which decode every frame at once,
and nothing else, so a busy counting process never delays a timestamp. The other workers
share the remaining viewers round-robin, read them lazily (every COUNT_PERIOD) and post the
comments from their own posters (comment `k` by counting worker `k % (workers - 1)`, due at
`start + k / rate`). Viewer `i` connects to port `i % ports` with credentials `i % headers`,
as with one process. A comment's text carries its send time in microseconds after the start
(`bench <k> <µs>`): perf_counter is CLOCK_MONOTONIC, one clock for every process on the
machine, so the timing worker times every worker's comments.

The parent talks to each worker over a pipe: `connected` (or `failed`), then `go` with the
start time, `done` with counts, latencies and the worker's CPU over the load, then `close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import resource
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from bench._wsclient import RoomSocket, opened

ITEM_MARK = b'{"position":'
CONNECT_TIMEOUT = 120.0  # seconds for a worker to connect all its viewers
COUNT_PERIOD = 0.5  # seconds between the reads of a counting (not sampled) viewer
SETTLE_SECONDS = 10.0  # after the last comment, how long deliveries may still arrive
STALL_SECONDS = 3.0  # ...unless nothing more arrived for this long


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Stats:
    start: float = 0.0  # the run's start (perf_counter), which comment texts count from
    latencies: list[float] = field(default_factory=list)
    joined: int = 0
    closed: int = 0
    acks: int = 0
    errors: list[str] = field(default_factory=list)


class Viewer(RoomSocket):
    """A room viewer: comment items counted, JSON decoded only if sampled."""

    def __init__(self, host: str, headers: str, room: int, sample: bool, stats: Stats) -> None:
        super().__init__(host, headers)
        self.room = room
        self.sample = sample
        self.stats = stats
        self.joined = False
        self.count = 0
        self.lazy = False  # read only when `catch_up` is called (counting viewers of the fan-out benchmark)
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stats.closed += 1
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before joining"))

    def on_upgraded(self) -> None:
        self.send_text(json.dumps({"type": "join", "room": self.room}))

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.lazy and self.joined and self.transport is not None:
            self.transport.pause_reading()

    def catch_up(self) -> None:
        """Read what arrived since the last call, in one go (a lazy viewer is paused in between)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def on_refused(self, head: bytes) -> None:
        self.stats.errors.append(head[:80].decode(errors="replace"))
        assert self.transport is not None
        self.transport.close()

    def on_text(self, payload: bytes) -> None:
        n = payload.count(ITEM_MARK)
        if n:
            self.count += n
            if self.sample and self.joined:
                self._sample(payload)
        elif not self.joined and b'"type":"history"' in payload:
            self.joined = True
            self.stats.joined += 1
            if not self.ready.done():
                self.ready.set_result(None)
        elif b'"type":"ack"' in payload:
            self.stats.acks += 1
        elif b'"type":"error"' in payload:
            self.stats.errors.append(payload[:200].decode(errors="replace"))

    def _sample(self, payload: bytes) -> None:
        """Latency of each bench comment in the frame, from the send time in its text."""
        now = time.perf_counter()
        message = json.loads(payload)
        for item in message.get("items", ()):
            words = item.get("text", "").split()  # bench <k> <µs after the start>
            if len(words) == 3 and words[0] == "bench":
                self.stats.latencies.append(now - self.stats.start - int(words[2]) / 1e6)


@dataclass(frozen=True)
class Plan:
    """What one worker does: its viewers, which of them time comments, which post, and what."""

    ports: list[int]
    headers: list[str]
    room: int
    viewers: list[int]  # indices (in the whole run) of the viewers this worker connects
    sampled: frozenset[int]  # of those, the ones that decode frames at once to time comments
    posters: frozenset[int]  # of those, the ones that post this worker's comments
    comments: list[int]  # the numbers of the comments this worker posts
    rate: float
    total: int  # comments in the whole run: every viewer expects them all


async def _connect(plan: Plan, stats: Stats) -> list[Viewer]:
    semaphore = asyncio.Semaphore(64)

    async def one(i: int) -> Viewer:
        port = plan.ports[i % len(plan.ports)]
        header, sample = plan.headers[i % len(plan.headers)], i in plan.sampled
        async with semaphore:
            return await opened(lambda: Viewer(f"127.0.0.1:{port}", header, plan.room, sample, stats), port)

    clients = list(await asyncio.gather(*(one(i) for i in plan.viewers)))
    for client in clients:
        client.lazy = not client.sample
    return clients


async def _count_lazily(clients: list[Viewer]) -> None:
    """Let the counting viewers read every COUNT_PERIOD: one read of several frames instead of
    one wake-up per frame. The kernel holds what arrives in between (a few KiB per viewer), so the
    server writes exactly as to a prompt reader; only sampled viewers, which time comments, read
    at once."""
    lazy = [c for c in clients if c.lazy]
    while True:
        await asyncio.sleep(COUNT_PERIOD)
        for client in lazy:
            client.catch_up()


async def _post(plan: Plan, posters: list[Viewer], start: float) -> None:
    for n, k in enumerate(plan.comments):
        delay = start + k / plan.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent_us = round((time.perf_counter() - start) * 1e6)
        posters[n % len(posters)].send_text(
            json.dumps({"type": "comment", "text": f"bench {k} {sent_us}", "ref": f"b{k}"})
        )


async def _settle(clients: list[Viewer], expected: int) -> None:
    """Until every delivery arrived, nothing arrived for STALL_SECONDS, or SETTLE_SECONDS passed."""
    deadline = time.perf_counter() + SETTLE_SECONDS
    last_seen, stalled_since = -1, time.perf_counter()
    while time.perf_counter() < deadline:
        got = sum(c.count for c in clients)
        if got >= expected:
            return
        if got != last_seen:
            last_seen, stalled_since = got, time.perf_counter()
        elif time.perf_counter() - stalled_since > STALL_SECONDS:
            return
        await asyncio.sleep(0.1)


async def _work(plan: Plan, pipe: Connection) -> None:
    stats = Stats()
    try:
        clients = await _connect(plan, stats)
    except Exception as exc:  # reported to the parent, which fails the run with it
        pipe.send(("failed", f"{type(exc).__name__}: {exc}", stats.errors[:5]))
        return
    pipe.send(("connected", len(clients)))
    loop = asyncio.get_running_loop()
    message = await loop.run_in_executor(None, pipe.recv)
    if message[0] != "go":  # another worker failed to connect: the run is called off
        for c in clients:
            c.close()
        return
    start = stats.start = float(message[1])
    own = [c for i, c in zip(plan.viewers, clients, strict=True) if i in plan.posters]
    posters = own or clients[:1]  # a worker whose share holds no member's first socket
    for c in clients:
        c.count = 0
    cpu0 = self_cpu()
    counting = asyncio.create_task(_count_lazily(clients))
    await _post(plan, posters, start)
    posted = len(plan.comments)
    # Every worker settles after the run's last comment is due (the timing worker posts none).
    await asyncio.sleep(max(0.0, start + plan.total / plan.rate - time.perf_counter()))
    await _settle(clients, plan.total * len(clients))
    counting.cancel()
    pipe.send(
        (
            "done",
            {
                "received": sum(c.count for c in clients),
                "latencies": stats.latencies,
                "cpu_s": self_cpu() - cpu0,
                "posted": posted,
                "errors": stats.errors[:5],
            },
        )
    )
    await loop.run_in_executor(None, pipe.recv)  # close
    for c in clients:
        c.close()


def _worker_main(plan: Plan, pipe: Connection) -> None:
    """A worker runs on uvloop, as the servers do under uvicorn: the same socket work for less CPU."""
    try:
        import uvloop
    except ImportError:  # an installation without uvicorn[standard]'s loop
        asyncio.run(_work(plan, pipe))
    else:
        uvloop.run(_work(plan, pipe))


def _recv(pipe: Connection, timeout: float, what: str) -> Any:
    if not pipe.poll(timeout):
        raise RuntimeError(f"a load process did not report '{what}' within {timeout:.0f} s")
    return pipe.recv()


@dataclass
class Workers:
    """The running load processes and their pipes."""

    pipes: list[Connection]
    procs: list[multiprocessing.process.BaseProcess]

    @classmethod
    def start(cls, plans: list[Plan]) -> Workers:
        ctx = multiprocessing.get_context("spawn")  # no inherited event loop or sockets
        pipes: list[Connection] = []
        procs: list[multiprocessing.process.BaseProcess] = []
        for plan in plans:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(plan, child), daemon=True)
            proc.start()
            child.close()
            pipes.append(parent)
            procs.append(proc)
        return cls(pipes, procs)

    def connected(self) -> int:
        total = 0
        for pipe in self.pipes:
            message = _recv(pipe, CONNECT_TIMEOUT, "connected")
            if message[0] != "connected":
                raise RuntimeError(f"a load process could not connect its viewers: {message[1]} {message[2]}")
            total += int(message[1])
        return total

    def go(self, start: float) -> None:
        for pipe in self.pipes:
            pipe.send(("go", start))

    def done(self, timeout: float) -> list[dict[str, Any]]:
        return [_recv(pipe, timeout, "done")[1] for pipe in self.pipes]

    def stop(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):  # that worker already ended
                pipe.send(("close",))
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()


def plans(
    ports: list[int], headers: list[str], room: int, viewers: int, rate: float, total: int, sample: int, workers: int
) -> list[Plan]:
    """One worker does everything; with more, worker 0 times and the others count and post.

    The posters are the first viewers of the run (one socket per member when there are several
    members, else 20); the sampled viewers are every `viewers // sample`-th of the others."""
    posters = len(headers) if len(headers) > 1 else max(1, min(viewers, 20))
    every = max(1, viewers // max(1, sample))

    def plan(own: list[int], sampled: set[int], comments: list[int]) -> Plan:
        return Plan(
            ports=ports,
            headers=headers,
            room=room,
            viewers=own,
            sampled=frozenset(sampled),
            posters=frozenset(i for i in own if i < posters),
            comments=comments,
            rate=rate,
            total=total,
        )

    everyone = list(range(viewers))
    timers = [i for i in everyone if i >= posters and i % every == 0]
    if workers == 1 or not timers:
        return [plan(everyone, {i for i in everyone if i % every == 0}, list(range(total)))]
    timed = set(timers)
    rest = [i for i in everyone if i not in timed]
    counters = workers - 1
    return [plan(timers, timed, [])] + [
        plan(rest[w::counters], set(), list(range(w, total, counters))) for w in range(counters)
    ]
