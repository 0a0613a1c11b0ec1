"""`chonai bench pages`: time to first byte of the members' pages under many logged-in members.

    chonai bench pages [--members 100] [--seconds 20] [--think-ms 1000] [--database-url URL] --json

Seeds a scratch database (a temporary SQLite file, or a temporary database on the PostgreSQL
server of --database-url) with the demo plus volume (bench/_pages_seed.py), starts a real
`chonai serve` process, and logs every member in through the login form (real password,
real session and CSRF cookies). Each member is then one keep-alive HTTP/1.1 connection in
this process, in a closed loop: pick a page at random — home (/), the live broadcast, the
archive list, an archived broadcast, an FAQ document, /search with a Japanese query — ask for
it, read it whole, think (exponential, mean --think-ms; 0 for back-to-back requests), repeat.

Measured per request: time to first byte (request written → first response byte), per page
kind and overall: p50/p95/p99, requests/s, errors (any status but 200, or a broken
connection), server CPU seconds (the `chonai serve` process; a PostgreSQL server's own CPU is
not counted) and the load generator's CPU seconds. Then the same members run the same loop
for the same time against /healthz without cookies: the framework floor under that
concurrency (`reference`). `target` is p95 TTFB ≤ 50 ms over all pages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from bench.fanout import free_port, percentile, self_cpu, start, stop, tree_cpu_seconds, wait_http

TARGET_P95_MS = 50.0
KINDS = ("home", "broadcast", "archive_list", "archive_item", "faq_document", "search")
_CSRF_FIELD = re.compile(rb'name="_csrf_token" value="([^"]+)"')


class Broken(Exception):
    """The connection ended or answered something that is not HTTP/1.1; `received`: after any answer byte."""

    def __init__(self, message: str, received: bool = True) -> None:
        super().__init__(message)
        self.received = received


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    ttfb: float


class Member:
    """One member's browser: a keep-alive HTTP/1.1 connection and a cookie jar."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reconnects = 0

    async def _connect(self) -> None:
        self.close()
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, form: dict[str, str] | None = None, cookies: bool = True) -> Reply:
        """Like a browser, resend an idempotent request once if a kept-alive connection turned out closed."""
        reused = self.reader is not None and not self.reader.at_eof()
        if not reused:
            await self._connect()
        try:
            return await self._exchange(method, path, form, cookies)
        except Broken as exc:
            if not reused or method != "GET" or exc.received:
                raise
            self.reconnects += 1
            await self._connect()
            return await self._exchange(method, path, form, cookies)

    async def _exchange(self, method: str, path: str, form: dict[str, str] | None, cookies: bool) -> Reply:
        assert self.reader is not None and self.writer is not None
        body = urlencode(form).encode() if form is not None else b""
        head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", "Accept: text/html"]
        if cookies and self.cookies:
            head.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if form is not None:
            head += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
        started = time.perf_counter()
        try:
            self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            first = await self.reader.readexactly(1)
        except (asyncio.IncompleteReadError, ConnectionError):
            raise Broken("closed before answering", received=False) from None
        ttfb = time.perf_counter() - started
        try:
            raw = first + await self.reader.readuntil(b"\r\n\r\n")
            status, headers = _parse_head(raw)
            content = await self._body(headers)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            raise Broken(f"bad response: {exc.__class__.__name__}") from None
        for name, value in headers:
            if name == "set-cookie":
                self._remember(value)
            elif name == "connection" and value.lower() == "close":
                self.close()
        return Reply(status, headers, content, ttfb)

    async def _body(self, headers: list[tuple[str, str]]) -> bytes:
        assert self.reader is not None
        values = dict(headers)
        if "content-length" in values:
            return await self.reader.readexactly(int(values["content-length"]))
        if values.get("transfer-encoding", "").lower() != "chunked":
            return b""
        parts = []
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append((await self.reader.readexactly(size + 2))[:-2])
        await self.reader.readuntil(b"\r\n")  # the empty trailer
        return b"".join(parts)

    def _remember(self, header: str) -> None:
        pair, _, attributes = header.partition(";")
        name, _, value = pair.strip().partition("=")
        if not value or "max-age=0" in attributes.lower().replace(" ", ""):
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value


def _parse_head(raw: bytes) -> tuple[int, list[tuple[str, str]]]:
    lines = raw.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 "):
        raise ValueError(lines[0][:40])
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip().lower(), value.strip()))
    return int(lines[0].split()[1]), headers


async def log_in(member: Member, email: str, password: str) -> None:
    """The login form as a browser fills it: GET /login for the CSRF cookie and field, then POST."""
    page = await member.request("GET", "/login")
    found = _CSRF_FIELD.search(page.body)
    if page.status != 200 or not found:
        raise RuntimeError(f"login form for {email}: status {page.status}")
    form = {"_csrf_token": found.group(1).decode(), "email": email, "password": password, "next": ""}
    done = await member.request("POST", "/login", form)
    if done.status != 303 or "chonai_session" not in member.cookies:
        raise RuntimeError(f"login of {email}: status {done.status}")


@dataclass
class Tally:
    ttfb: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    sample: list[str] = field(default_factory=list)
    bytes: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str, what: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.sample) < 10:
            self.sample.append(f"{kind}: {what}")


def page_paths(seeded: Any, rng: random.Random) -> dict[str, Any]:
    """For each page kind, a function giving the next path to ask for."""
    return {
        "home": lambda: "/",
        "broadcast": lambda: f"/broadcasts/{seeded.live_id}",
        "archive_list": lambda: "/archive",
        "archive_item": lambda: f"/archive/{rng.choice(seeded.archive_ids)}",
        "faq_document": lambda: f"/faq/documents/{rng.choice(seeded.document_ids)}",
        "search": lambda: "/search?q=" + quote(rng.choice(seeded.queries)),
    }


async def _walk(
    member: Member, paths: dict[str, Any], rng: random.Random, until: float, think: float, tally: Tally, cookies: bool
) -> None:
    while time.perf_counter() < until:
        kind = rng.choice(list(paths))
        path = paths[kind]()
        try:
            reply = await member.request("GET", path, cookies=cookies)
        except (Broken, OSError) as exc:
            tally.error(kind, f"{path}: {exc}")
            member.close()
        else:
            tally.ttfb.setdefault(kind, []).append(reply.ttfb)
            tally.bytes[kind] = tally.bytes.get(kind, 0) + len(reply.body)
            if reply.status != 200:
                tally.error(kind, f"{path}: {reply.status}")
        if think:
            await asyncio.sleep(min(rng.expovariate(1 / think), 10 * think))


def _ms(values: list[float], q: float) -> float | None:
    found = percentile(values, q)
    return round(found * 1000, 2) if found is not None else None


def _summary(values: list[float]) -> dict[str, Any]:
    return {
        "requests": len(values),
        "p50_ms": _ms(values, 0.5),
        "p95_ms": _ms(values, 0.95),
        "p99_ms": _ms(values, 0.99),
    }


async def drive(
    members: list[Member], paths: dict[str, Any], seconds: float, think_ms: float, pid: int, cookies: bool = True
) -> dict[str, Any]:
    """Every member walks the pages for `seconds`; TTFB per kind, throughput, errors and CPU."""
    tally = Tally()
    server0, loadgen0 = tree_cpu_seconds(pid), self_cpu()
    reconnects0 = sum(m.reconnects for m in members)
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(_walk(m, paths, random.Random(i), until, think_ms / 1000, tally, cookies) for i, m in enumerate(members))
    )
    elapsed = time.perf_counter() - started
    server_cpu, loadgen_cpu = tree_cpu_seconds(pid) - server0, self_cpu() - loadgen0
    every = [t for ts in tally.ttfb.values() for t in ts]
    by_kind = {
        kind: {
            **_summary(tally.ttfb.get(kind, [])),
            "errors": tally.errors.get(kind, 0),
            "kib_avg": round(tally.bytes.get(kind, 0) / 1024 / max(1, len(tally.ttfb.get(kind, []))), 1),
        }
        for kind in paths
    }
    return {
        **_summary(every),
        "requests_per_s": round(len(every) / elapsed, 1),
        "errors": sum(tally.errors.values()),
        "error_sample": tally.sample,
        "by_kind": by_kind,
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_ms_per_request": round(server_cpu * 1000 / len(every), 2) if every else None,
        "loadgen_cpu_s": round(loadgen_cpu, 2),
        "reconnects": sum(m.reconnects for m in members) - reconnects0,
    }


async def _log_in_all(port: int, emails: list[str], password: str) -> list[Member]:
    members = [Member(port) for _ in emails]
    gate = asyncio.Semaphore(8)  # argon2 is slow on purpose: a login queue, not a login storm

    async def one(member: Member, email: str) -> None:
        async with gate:
            await log_in(member, email, password)

    await asyncio.gather(*(one(m, e) for m, e in zip(members, emails, strict=True)))
    return members


async def _measure(args: argparse.Namespace, seeded: Any, port: int, pid: int, log: Any) -> dict[str, Any]:
    from bench._pages_seed import BENCH_PASSWORD

    began = time.perf_counter()
    members = await _log_in_all(port, seeded.emails, BENCH_PASSWORD)
    log(f"{len(members)} members logged in in {time.perf_counter() - began:.1f}s")
    rng = random.Random(1)
    paths = page_paths(seeded, rng)
    await drive(members, paths, min(2.0, args.seconds), 0, pid)  # warm-up: caches, pools, imports
    log(f"measuring pages for {args.seconds}s")
    pages = await drive(members, paths, args.seconds, args.think_ms, pid)
    log(f"measuring the /healthz reference for {args.seconds}s")
    reference = await drive(members, {"healthz": lambda: "/healthz"}, args.seconds, args.think_ms, pid, cookies=False)
    reference.pop("by_kind")
    for m in members:
        m.close()
    return {"pages": pages, "reference": reference}


def _server(url: str, tmp: Path, workers: int, redis_url: str) -> tuple[subprocess.Popen[bytes], int, dict[str, str]]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "VAR_DIR": str(tmp),
        "SECRET_KEY": secrets.token_urlsafe(40),
        "LOG_LEVEL": "WARNING",
        "DEMO_DATA": "false",
        "CHONAI_SCHEDULER": "off",
    }
    env.pop("REDIS_URL", None)
    if workers > 1:  # several workers share the bus (and the credential events) through Redis
        env.update(REDIS_URL=redis_url, REDIS_PREFIX=f"chonai-bench-{secrets.token_hex(6)}:")
    port = free_port()
    proc = start(
        [sys.executable, "-m", "web.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env,
        tmp / "serve.log",
    )
    return proc, port, env


async def _scratch(database_url: str, tmp: Path) -> tuple[str, str | None]:
    if database_url.startswith("sqlite"):
        return f"sqlite+aiosqlite:///{tmp / 'pages.db'}", None
    from bench.search import _create_postgres

    return await _create_postgres(database_url)


def run(args: argparse.Namespace, database_url: str, log: Any) -> dict[str, Any]:
    from bench._pages_seed import seed
    from bench.search import _drop_postgres
    from core.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="chonai-bench-") as raw_tmp:
        tmp = Path(raw_tmp)
        url, pg_name = asyncio.run(_scratch(database_url, tmp))
        try:
            began = time.perf_counter()
            log("migrating the scratch database")
            upgrade(url)
            seeded = asyncio.run(seed(url, args.members, args.archive, args.chat, args.documents, args.entries))
            seed_s = time.perf_counter() - began
            log(f"seeded in {seed_s:.1f}s: {seeded.counts}")
            proc, port, _ = _server(url, tmp, args.workers, args.redis_url)
            try:
                wait_http(f"http://127.0.0.1:{port}/healthz", proc)
                log(f"serving on port {port}")
                measured = asyncio.run(_measure(args, seeded, port, proc.pid, log))
            finally:
                stop([proc])
            server_log = (tmp / "serve.log").read_text(errors="replace")
        finally:
            if pg_name:
                asyncio.run(_drop_postgres(database_url, pg_name))
    pages = measured["pages"]
    worst = max((k["p95_ms"] or 0.0) for k in pages["by_kind"].values())
    return {
        "database": "sqlite" if pg_name is None else "postgresql",
        "members": args.members,
        "workers": args.workers,
        "seconds": args.seconds,
        "think_ms": args.think_ms,
        "seed": {**seeded.counts, "seed_s": round(seed_s, 1)},
        **measured,
        "target": {
            "p95_ttfb_ms": TARGET_P95_MS,
            "met": pages["p95_ms"] is not None and pages["p95_ms"] <= TARGET_P95_MS and pages["errors"] == 0,
            "every_kind_met": worst <= TARGET_P95_MS,
        },
        "server_log_tracebacks": server_log.count("Traceback"),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="chonai bench pages", description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100, help="logged-in members, each its own connection")
    parser.add_argument("--seconds", type=float, default=20, help="length of each measured phase")
    parser.add_argument("--think-ms", type=float, default=1000, help="mean think time between a member's pages")
    parser.add_argument("--archive", type=int, default=40, help="ended broadcasts added to the demo's")
    parser.add_argument("--chat", type=int, default=300, help="chat comments in each added broadcast")
    parser.add_argument("--documents", type=int, default=4, help="FAQ documents added to the demo's")
    parser.add_argument("--entries", type=int, default=60, help="entries in each added FAQ document")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (>1 through Redis)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"))
    parser.add_argument("--database-url", help="defaults to the configured DATABASE_URL (its kind and server)")
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args(argv)
    if (
        args.members < 1
        or args.workers < 1
        or args.seconds <= 0
        or args.think_ms < 0
        or min(args.archive, args.documents, args.entries) < 1
    ):
        parser.error("--members, --archive, --documents and --entries must be at least 1, --seconds above 0")
    from core.settings import get_settings, normalise_database_url

    url = normalise_database_url(args.database_url, Path.cwd()) if args.database_url else get_settings().database_url

    def log(message: str) -> None:
        print(f"bench pages: {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)

    result = run(args, url, log)
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 2))
    return 0
