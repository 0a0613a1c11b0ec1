"""`chonai bench fanout`: live-comment fan-out through Chonai's real path vs a websockets.broadcast() reference.

    chonai bench fanout --viewers 2000 --rate 50 --seconds 20 [--processes 2] --json

Chonai side: real `chonai serve` processes (SQLite file, or --database-url; Redis when
--processes > 1), authenticated members (API tokens), validation, storage, the bus.
Viewers are raw asyncio sockets in --loadgen worker processes (bench/_loadgen.py; by default
one per 3,000 viewers): each parses only WebSocket frame headers and counts comment items
with bytes.count(); a sample of viewers also decodes the JSON to time each comment from the
poster's send to receipt. The same load then runs against each of --peers:
bench/reference_server.py (same coalescing window, compression off) and, with
`--peers reference,litestar-channels`, Litestar's channels plugin (bench/_litestar_channels_server.py).

Output fields, per side: reach (comment deliveries received / comments sent × viewers),
p50_ms / p99_ms (send → receipt, sampled viewers), deliveries_per_cpu_s (deliveries per
CPU-second of the server processes during the load, Redis and the database server
excluded), rss_kib_per_viewer ((server RSS with N viewers − RSS with none) / N),
loadgen_cpu_share (load generator CPU / (load generator + server CPU) over the load, all its
processes), loadgen_processes;
ratio = chonai.deliveries_per_cpu_s / reference.deliveries_per_cpu_s, and vs_litestar_channels
the same over the Litestar peer's. Chonai's side also reports server_fanout: the servers' own
commit → written-to-viewers latency from their /metrics histogram (bucket bounds).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench._loadgen import ITEM_MARK, Stats, Viewer, Workers, plans, self_cpu

__all__ = ["ITEM_MARK", "Stats", "Viewer", "self_cpu"]  # the other room benchmarks take them from here
CLK_TCK = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parent.parent


# --- process measurements ------------------------------------------------------------------


def _stat(path: Path) -> tuple[int, float]:
    """(parent pid, CPU seconds) from a /proc/<pid>/stat file."""
    fields = path.read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_seconds(pid: int) -> float:
    return _stat(Path(f"/proc/{pid}/stat"))[1]


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of `pid` and its live children (uvicorn's workers under its supervisor)."""
    total = cpu_seconds(pid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent, cpu = _stat(stat)
        except OSError:  # the process ended while we looked
            continue
        if parent == pid:
            total += cpu
    return total


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError as exc:
            if getattr(exc, "code", None):  # an HTTP error status: it is up
                return
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


# --- the load generator --------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def drive(
    ports: list[int],
    headers: list[str],
    room: int,
    viewers: int,
    rate: float,
    seconds: float,
    sample: int,
    pids: list[int],
    loadgen: int = 1,
) -> dict[str, Any]:
    """Connect viewers round-robin over the ports from `loadgen` processes, post `rate` comments/s
    for `seconds`, measure (bench/_loadgen.py)."""
    total = int(rate * seconds)
    workers = Workers.start(plans(ports, headers, room, viewers, rate, total, sample, max(1, min(loadgen, viewers))))
    try:
        rss_none = sum(rss_kib(p) for p in pids)
        connected = workers.connected()
        time.sleep(1.5)  # presence and welcome traffic settles
        rss_full = sum(rss_kib(p) for p in pids)
        server_cpu0 = sum(cpu_seconds(p) for p in pids)
        workers.go(time.perf_counter() + 0.2)
        reports = workers.done(timeout=seconds + 60)
        server_cpu = sum(cpu_seconds(p) for p in pids) - server_cpu0
    finally:
        workers.stop()
    received = sum(r["received"] for r in reports)
    loadgen_cpu = sum(r["cpu_s"] for r in reports)
    latencies = [x for r in reports for x in r["latencies"]]
    expected = total * connected
    p50 = percentile(latencies, 0.50)
    p99 = percentile(latencies, 0.99)
    return {
        "reach": round(received / expected, 4) if expected else None,
        "p50_ms": round(p50 * 1000, 1) if p50 is not None else None,
        "p99_ms": round(p99 * 1000, 1) if p99 is not None else None,
        "deliveries_per_cpu_s": round(received / server_cpu) if server_cpu > 0 else None,
        "rss_kib_per_viewer": round((rss_full - rss_none) / connected, 1),
        "loadgen_cpu_share": round(loadgen_cpu / (loadgen_cpu + server_cpu), 3) if server_cpu else None,
        "loadgen_processes": len(reports),
        "comments": total,
        "deliveries": received,
        "server_cpu_s": round(server_cpu, 2),
        "viewers_connected": connected,
        "errors": [e for r in reports for e in r["errors"]][:5],
    }


# --- setting up each side --------------------------------------------------------------------


def live_broadcast(title: str) -> Any:
    """A broadcast on air for two hours, with a random id (the Redis channel is shared)."""
    from core.db import utcnow
    from live.models import Broadcast, BroadcastState

    now = utcnow()
    return Broadcast(
        id=random.randint(10**8, 2**31 - 2),
        title=title,
        starts_at=now,
        ends_at=now + dt.timedelta(hours=2),
        opens_at=now,
        state=BroadcastState.LIVE,
        live_at=now,
    )


def bench_members(prefix: str, name: str, n: int) -> list[Any]:
    """Approved members who cannot log in with a password (e-mail `{prefix}-{i}@example.jp`)."""
    from core.members.models import Member, OrgKind, Role, Status

    return [
        Member(
            email=f"{prefix}-{i}@example.jp",
            name=f"{name} {i}号",
            org_kind=OrgKind.MUNICIPALITY,
            organisation="ベンチ市",
            department="性能試験課",
            prefecture="東京都",
            password_hash="!",  # cannot log in with a password
            role=Role.MEMBER,
            status=Status.APPROVED,
        )
        for i in range(n)
    ]


def chonai_env(args: argparse.Namespace, tmp: Path, name: str = "bench.db") -> tuple[dict[str, str], str]:
    """The servers' environment (and database URL): a fresh SQLite file unless --database-url; Redis for > 1."""
    from core.settings import normalise_database_url

    given = args.database_url and normalise_database_url(args.database_url, Path.cwd())
    database_url = given or f"sqlite+aiosqlite:///{tmp / name}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "VAR_DIR": str(tmp),
        "SECRET_KEY": secrets.token_urlsafe(40),
        "LOG_LEVEL": "WARNING",
        "DEMO_DATA": "false",
    }
    env.pop("REDIS_URL", None)
    if args.processes > 1:
        env["REDIS_URL"] = args.redis_url
    return env, database_url


BENCH_RATE_COUNT = 1000  # comments per member per 30 s in the bench room


async def seed(database_url: str, members: int) -> tuple[int, list[str]]:
    """Bench members with API tokens and a live broadcast (random id: the Redis channel is shared)."""
    from core.db import Database
    from core.members.service import create_api_token
    from live.rooms.models import CommentRoom

    db = Database(database_url)
    tokens: list[str] = []
    try:
        async with db.session() as s:
            broadcast = live_broadcast("ベンチマーク放送")
            s.add(broadcast)
            await s.flush()
            # The room's per-member limit raised (as PUT .../room/limits would): at a few thousand
            # comments/s the posting clients would otherwise hit 11 per 30 s and the probe would
            # measure the rate limiter, not the fan-out.
            s.add(CommentRoom(broadcast_id=broadcast.id, rate_count=BENCH_RATE_COUNT, rate_seconds=30))
            batch = secrets.token_hex(4)
            people = bench_members(f"bench-{batch}", "ベンチ", members)
            s.add_all(people)
            await s.commit()
            for person in people:
                _, raw = await create_api_token(s, person, "bench")
                tokens.append(raw)
            return broadcast.id, tokens
    finally:
        await db.dispose()


async def operator_token(database_url: str) -> str:
    """An operator's API token: the bench reads the servers' /metrics (operators only) with it."""
    from core.db import Database
    from core.members.models import Role
    from core.members.service import create_api_token

    db = Database(database_url)
    try:
        async with db.session() as s:
            (operator,) = bench_members(f"bench-op-{secrets.token_hex(4)}", "ベンチ運営", 1)
            operator.role = Role.OPERATOR
            s.add(operator)
            await s.commit()
            return (await create_api_token(s, operator, "bench metrics"))[1]
    finally:
        await db.dispose()


def server_fanout(ports: list[int], token: str) -> dict[str, Any]:
    """The servers' own commit → written-to-viewers latency (`chonai_room_fanout_seconds`, summed
    over the processes): each quantile as the histogram bucket bound it falls under. Beside the
    load generator's send → receipt figures it tells the server's share of the latency."""
    from prometheus_client.parser import text_string_to_metric_families

    buckets: dict[float, float] = {}
    for port in ports:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            families = text_string_to_metric_families(answer.read().decode())
        for sample in (s for family in families for s in family.samples):
            if sample.name == "chonai_room_fanout_seconds_bucket":
                bound = float(sample.labels["le"])  # "+Inf" reads as inf
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    total = buckets.get(math.inf, 0.0)

    def at_most(q: float) -> float | None:
        for bound in sorted(buckets):
            if total and buckets[bound] >= q * total:
                return None if bound == math.inf else round(bound * 1000, 1)
        return None

    # One observation per comment per server process that knows its commit time.
    return {"observations": int(total), "p50_ms_at_most": at_most(0.5), "p99_ms_at_most": at_most(0.99)}


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


@contextlib.contextmanager
def serving(procs: list[subprocess.Popen[bytes]], ports: list[int], path: str) -> Iterator[None]:
    """Wait until every server answers `path`; stop them all afterwards, whatever happened."""
    try:
        for port, proc in zip(ports, procs, strict=True):
            wait_http(f"http://127.0.0.1:{port}{path}", proc)
        yield
    finally:
        stop(procs)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()


def run_chonai(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    env, database_url = chonai_env(args, tmp)
    if args.writer:
        env["CHONAI_ROOM_WRITER"] = args.writer
    subprocess.run([sys.executable, "-m", "web.cli", "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
    # Every member stays under 11 comments / 30 s, and under the per-process socket limit
    # (core.sockets.MAX_SOCKETS_PER_MEMBER: a member's viewers all land on one process).
    members = max(2, math.ceil(args.rate * 30 / 10), math.ceil(args.viewers / 10))
    room, tokens = asyncio.run(seed(database_url, members))
    operator = asyncio.run(operator_token(database_url))
    ports = [free_port() for _ in range(args.processes)]
    procs = [
        start(
            [sys.executable, "-m", "web.cli", "serve", "--port", str(port), "--workers", "1"], env, tmp / "chonai.log"
        )
        for port in ports
    ]
    try:
        for port, proc in zip(ports, procs, strict=True):
            wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        headers = [f"Authorization: Bearer {t}\r\n" for t in tokens]
        pids = [p.pid for p in procs]
        result = drive(ports, headers, room, args.viewers, args.rate, args.seconds, args.sample, pids, args.loadgen)
        result["server_fanout"] = server_fanout(ports, operator)
    finally:
        stop(procs)
    return result


def run_reference(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    extra: list[str] = []
    if args.processes > 1:
        extra = ["--redis", args.redis_url, "--channel", f"chonai-bench-{secrets.token_hex(6)}"]
    return run_peer(args, tmp, ["bench.reference_server", "--window", str(args.window_ms / 1000), *extra])


def run_litestar_channels(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    if args.processes > 1:  # its in-memory backend is one process's
        return {"skipped": "litestar-channels runs one process (in-memory channels backend)"}
    return run_peer(args, tmp, ["bench._litestar_channels_server"])


PEERS = {"reference": run_reference, "litestar-channels": run_litestar_channels}


def run_peer(args: argparse.Namespace, tmp: Path, module: list[str]) -> dict[str, Any]:
    """The same load against `python -m <module> --port P …`, one per --processes."""
    ports = [free_port() for _ in range(args.processes)]
    log = tmp / f"{module[0].rsplit('.', 1)[-1]}.log"
    procs = [
        start([sys.executable, "-m", module[0], "--port", str(p), *module[1:]], dict(os.environ), log) for p in ports
    ]
    try:
        for port, proc in zip(ports, procs, strict=True):
            wait_http(f"http://127.0.0.1:{port}/", proc)
        pids = [p.pid for p in procs]
        return drive(ports, [""], 1, args.viewers, args.rate, args.seconds, args.sample, pids, args.loadgen)
    finally:
        stop(procs)


# --- saturation: --find-max -----------------------------------------------------------------

MAX_P99_MS = 250.0  # a probe passes while p99 stays within this and every viewer gets every comment
SCALING_TARGET = 1.7  # two processes through Redis against one


def _passes(probe: dict[str, Any]) -> bool:
    p99, reach = probe.get("p99_ms"), probe.get("reach")
    return p99 is not None and p99 <= MAX_P99_MS and reach is not None and reach >= 1.0


def saturation(args: argparse.Namespace, tmp: Path, processes: int) -> dict[str, Any]:
    """The highest comment rate one room sustains on `processes` servers: double from --rate
    until a probe fails (halve first if --rate already fails), then bisect --refine times."""
    probes: list[dict[str, Any]] = []

    def probe(rate: float) -> bool:
        run = argparse.Namespace(**{**vars(args), "rate": round(rate, 1), "processes": processes})
        with tempfile.TemporaryDirectory(dir=tmp) as sub:
            result = run_chonai(run, Path(sub))
        ok = _passes(result)
        probes.append({"rate": run.rate, "passed": ok, **{k: result.get(k) for k in ("reach", "p99_ms", "errors")}})
        if not args.json:
            print(
                f"  {processes} process(es) at {run.rate}/s: {'pass' if ok else 'fail'} {probes[-1]}", file=sys.stderr
            )
        return ok

    best: float | None = None
    failed: float | None = None
    rate = args.rate
    while rate <= args.max_rate and rate >= 1:
        if probe(rate):
            best = rate
            if failed is not None:
                break
            rate *= 2
        else:
            failed = rate
            if best is not None:
                break
            rate /= 2
    for _ in range(args.refine if best is not None and failed is not None else 0):
        assert best is not None and failed is not None
        middle = (best + failed) / 2
        if probe(middle):
            best = middle
        else:
            failed = middle
    return {
        "max_rate": round(best, 1) if best is not None else None,
        "deliveries_per_s": round(best * args.viewers) if best is not None else None,
        "first_failing_rate": round(failed, 1) if failed is not None else None,
        "saturated": failed is not None and best is not None,  # False: max_rate is only a bound
        "probes": probes,
    }


def find_max(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    one = saturation(args, tmp, 1)
    two = saturation(args, tmp, 2)
    both = one["saturated"] and two["saturated"]
    scaling = round(two["max_rate"] / one["max_rate"], 2) if both else None
    return {
        "criteria": {"p99_ms_at_most": MAX_P99_MS, "reach_at_least": 1.0},
        "one_process": one,
        "two_processes": two,
        "scaling": scaling,
        "target": {"scaling_at_least": SCALING_TARGET, "met": scaling is not None and scaling >= SCALING_TARGET},
    }


def compare(result: dict[str, Any]) -> dict[str, Any]:
    """ratio: Chonai's deliveries per CPU-second over the bare reference's (target ≥ 0.8);
    vs_litestar_channels: the same over Litestar's channels plugin (≥ 1.0: no more CPU per delivery)."""
    ours = result.get("chonai", {}).get("deliveries_per_cpu_s")
    found: dict[str, Any] = {}
    for key, name in (("ratio", "reference"), ("vs_litestar_channels", "litestar_channels")):
        theirs = result.get(name, {}).get("deliveries_per_cpu_s")
        if ours and theirs:
            found[key] = round(ours / theirs, 3)
    return found


def default_loadgen(viewers: int) -> int:
    """One load process keeps up with ~3,000 viewers' frames; beyond, its own loop would be the latency."""
    return max(1, min(4, math.ceil(viewers / 3000)))


def room_bench_parser(name: str, doc: str | None) -> argparse.ArgumentParser:
    """The options every room benchmark takes (fanout, connect, soak): its servers, databases, JSON output."""
    parser = argparse.ArgumentParser(prog=f"chonai bench {name}", description=(doc or "").split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=1, help="server processes (>1 shares rooms through Redis)")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"))
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    return parser


def main(argv: list[str]) -> int:
    parser = room_bench_parser("fanout", __doc__)
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50, help="comments per second (whole room)")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--sample", type=int, default=50, help="viewers whose frames are decoded for latency")
    parser.add_argument(
        "--loadgen", type=int, default=0, help="load generator processes (default: one per 3,000 viewers, at most 4)"
    )
    parser.add_argument("--writer", choices=["direct", "queue"], help="force Chonai's viewer writer (for comparison)")
    parser.add_argument("--only", choices=["chonai", *PEERS], help="run one side only")
    parser.add_argument(
        "--peers",
        default="reference",
        help="comma-separated sides run after Chonai: reference (bare websockets) and/or litestar-channels",
    )
    parser.add_argument(
        "--find-max",
        action="store_true",
        help="find the highest rate with p99 <= 250 ms and reach 1.0, for 1 and 2 processes (from --rate)",
    )
    parser.add_argument("--max-rate", type=float, default=3200, help="--find-max: never probe above this rate")
    parser.add_argument("--refine", type=int, default=3, help="--find-max: bisection steps after bracketing")
    args = parser.parse_args(argv)
    args.loadgen = args.loadgen or default_loadgen(args.viewers)
    from live.rooms.fanout import WINDOW

    args.window_ms = WINDOW * 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, args.viewers * 2 + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))  # children inherit it
    with tempfile.TemporaryDirectory(prefix="chonai-bench-") as raw_tmp:
        tmp = Path(raw_tmp)
        result: dict[str, Any] = {
            "viewers": args.viewers,
            "rate": args.rate,
            "seconds": args.seconds,
            "processes": args.processes,
            "window_ms": args.window_ms,
        }
        if args.find_max:
            result.pop("processes")
            result["find_max"] = find_max(args, tmp)
            print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 2))
            return 0
        if args.only != "reference":
            if not args.json:
                print("chonai …", file=sys.stderr)
            result["chonai"] = run_chonai(args, tmp)
        peers = [args.only] if args.only in PEERS else [] if args.only else args.peers.split(",")
        for name in peers:
            if not args.json:
                print(f"{name} …", file=sys.stderr)
            result[name.replace("-", "_")] = PEERS[name](args, tmp)
        result.update(compare(result))
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 2))
    return 0
