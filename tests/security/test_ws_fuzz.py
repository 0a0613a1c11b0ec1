"""Fuzz the comment-room WebSocket of a real server: random and malformed frames from several connections.

Raw frames over TCP (no client library in the way): random bytes in text and binary
frames, invalid UTF-8, huge frames (also past the server's 16 MiB limit), deeply nested
JSON, wrong types, unknown kinds and fields, forged positions, floods, fragmented and
unmasked frames, bad control frames, reserved opcodes and bits, garbage handshakes. A
control poster and a control viewer use the same room all along.

Proven: the server log has no error, no answer is `internal_error` or close 1011, every
close code is one the protocol documents, and the control viewer receives every comment
exactly once, in the database's order. Fixed seed: the same frames every run.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import struct
from dataclasses import dataclass, field

import httpx
import pytest

from tests.conftest import free_port
from tests.faults.conftest import read, server_errors
from tests.faults.roomclient import RoomClient, stored_comments
from tests.live.rooms_support import make_broadcast, token_for
from tests.servers import ServerProcess, prepare_database

pytestmark = pytest.mark.slow

SEED = 20261122
FUZZERS = 6
ACTIONS = 45  # per fuzzer
# Close codes the protocol documents (docs/protocol.md) plus RFC 6455 protocol errors.
ALLOWED_CLOSES = {1000, 1002, 1003, 1007, 1009, 4401, 4403, 4408, 4409, 4429, None}  # docs/protocol.md


@dataclass
class Outcome:
    codes: list[str] = field(default_factory=list)  # `error` codes received
    closes: list[int | None] = field(default_factory=list)
    handshakes: list[int] = field(default_factory=list)


class RawSocket:
    """A WebSocket client that writes whatever frames it is told to, valid or not."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buf = b""
        self.closed_with: int | None = None
        self.eof = False

    @classmethod
    async def open(cls, port: int, headers: str, handshake: bytes | None = None) -> tuple[RawSocket, int]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            handshake
            or (
                f"GET /ws/rooms HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n"
            ).encode()
        )
        head = b""
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
        return cls(reader, writer), status

    def frame(self, opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True, rsv: int = 0) -> None:
        n = len(payload)
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        m = 0x80 if mask else 0
        if n < 126:
            head = struct.pack("!BB", b0, m | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, m | 126, n)
        else:
            head = struct.pack("!BBQ", b0, m | 127, n)
        key = os.urandom(4) if mask else b""
        if mask:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if n < 65536 else _mask_big(payload, key)
        with contextlib.suppress(ConnectionError, RuntimeError):
            self.writer.write(head + key + payload)

    def text(self, payload: str | bytes) -> None:
        self.frame(0x1, payload.encode() if isinstance(payload, str) else payload)

    async def messages(self, within: float = 0.3) -> list[dict]:
        """Text messages that arrive within the time (JSON-decoded); notes a close frame or EOF."""
        out: list[dict] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not self.eof and (left := deadline - loop.time()) > 0:
            try:
                chunk = await asyncio.wait_for(self.reader.read(65536), left)
            except TimeoutError:
                break
            except ConnectionError:
                chunk = b""
            if not chunk:
                self.eof = True
                break
            self.buf += chunk
            while len(self.buf) >= 2:
                length, head = self.buf[1] & 0x7F, 2
                if length == 126:
                    if len(self.buf) < 4:
                        break
                    length, head = struct.unpack("!H", self.buf[2:4])[0], 4
                elif length == 127:
                    if len(self.buf) < 10:
                        break
                    length, head = struct.unpack("!Q", self.buf[2:10])[0], 10
                if len(self.buf) < head + length:
                    break
                opcode, payload = self.buf[0] & 0x0F, self.buf[head : head + length]
                self.buf = self.buf[head + length :]
                if opcode == 0x1:
                    out.append(json.loads(payload))
                elif opcode == 0x8:
                    self.closed_with = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    self.eof = True
        return out

    def close(self) -> None:
        self.writer.transport.abort()


def _mask_big(payload: bytes, key: bytes) -> bytes:
    whole = key * (len(payload) // 4 + 1)
    return (int.from_bytes(payload, "big") ^ int.from_bytes(whole[: len(payload)], "big")).to_bytes(len(payload), "big")


def _nested(depth: int) -> str:
    return '{"type":"join","room":1,"x":' + "[" * depth + "]" * depth + "}"


def _random_text(rng: random.Random, n: int) -> str:
    pools = [(0x20, 0x7E), (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0x0, 0x1F), (0x202A, 0x202E), (0x1F300, 0x1F6FF)]
    return "".join(chr(rng.randint(*rng.choice(pools))) for _ in range(n))


def malformed_json(rng: random.Random, room: int) -> str:
    """One message a client could send that is wrong in some way (or, sometimes, right)."""
    choices = [
        lambda: "{",
        lambda: "",
        lambda: "null",
        lambda: "true",
        lambda: "123456789012345678901234567890",
        lambda: '"just a string"',
        lambda: "[" * 100,
        lambda: _nested(rng.choice([50, 500, 2000])),
        lambda: json.dumps({"type": rng.choice(["shout", "", "JOIN", "admin", "comment ", None, 1, []])}),
        lambda: json.dumps({"type": "comment", "text": rng.choice([42, None, [], {}, True, 1e309 if False else 1.5])}),
        lambda: json.dumps(
            {"type": "comment", "text": _random_text(rng, rng.randint(0, 300)), "ref": f"f{rng.random()}"}
        ),
        lambda: json.dumps({"type": "comment", "text": "x", "ref": rng.choice(["", "a" * 65, "日本", "a b", "../"])}),
        lambda: json.dumps({"type": "comment", "text": "偽の位置", "position": rng.randint(-5, 10**6)}),
        lambda: json.dumps({"type": "comment", "text": "偽の送信者", "member_id": 1, "name": "運営"}),
        lambda: json.dumps({"type": "join", "room": rng.choice([room, -1, 0, 2**31, 2**63, "1", 1.5, None])}),
        lambda: json.dumps({"type": "join", "room": room, "after": rng.choice([-1, 2**31, 10**6, "0", 0.5])}),
        lambda: json.dumps({"type": "join", "room": room, "after": rng.randint(0, 5)}),
        lambda: json.dumps({"type": "reaction", "kind": rng.choice(["clap", "boo", "", "<script>", "clap" * 100])}),
        lambda: json.dumps({"type": "ping", "extra": 1}),
        lambda: '{"type":"ping"}',
        lambda: '{"type":"comment","text":"\\ud800"}',  # lone surrogate escape
        lambda: '{"type":"comment","type":"join","room":1}',  # duplicate keys
        lambda: "\ufeff" + json.dumps({"type": "ping"}),
    ]
    return rng.choice(choices)()


async def fuzz_one(port: int, room: int, tokens: list[str], seed: int, outcome: Outcome) -> None:
    opened: list[RawSocket] = []
    try:
        await _fuzz(port, room, tokens, random.Random(seed), outcome, opened)
    finally:  # also when an assertion failed midway: no socket left to the GC (abort is idempotent)
        for raw in opened:
            raw.close()


async def _fuzz(
    port: int, room: int, tokens: list[str], rng: random.Random, outcome: Outcome, opened: list[RawSocket]
) -> None:
    sock: RawSocket | None = None

    async def fresh(joined: bool = True) -> RawSocket:
        token = rng.choice([*tokens, None]) if rng.random() < 0.15 else rng.choice(tokens)
        headers = f"Authorization: Bearer {token}\r\n" if token else ""
        s, status = await RawSocket.open(port, headers)
        opened.append(s)
        outcome.handshakes.append(status)
        assert status == 101, status
        if joined and token:
            s.text(json.dumps({"type": "join", "room": room}))
        return s

    for _ in range(ACTIONS):
        if sock is None or sock.eof:
            if sock is not None:
                outcome.closes.append(sock.closed_with)
                sock.close()
            sock = await fresh(joined=rng.random() < 0.8)
        action = rng.randrange(14)
        if action <= 4:
            sock.text(malformed_json(rng, room))
        elif action == 5:
            sock.text(bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))))  # mostly invalid UTF-8
        elif action == 6:
            sock.frame(0x2, bytes(rng.randrange(256) for _ in range(rng.randint(0, 200))))  # binary
        elif action == 7:
            size = rng.choice([4097, 20_000, 1 << 20])
            sock.text('{"type":"comment","text":"' + "長" * (size // 3) + '"}')
        elif action == 8:
            for _ in range(rng.choice([35, 80])):  # flood
                sock.text('{"type":"ping"}')
        elif action == 9:
            # Fragmented message: two halves, possibly never finished, possibly interleaved with a ping.
            message = json.dumps({"type": "comment", "text": "分割", "ref": f"frag{rng.randrange(10**6)}"}).encode()
            cut = rng.randint(1, len(message) - 1)
            sock.frame(0x1, message[:cut], fin=False)
            if rng.random() < 0.5:
                sock.frame(0x9, b"ping")
            if rng.random() < 0.7:
                sock.frame(0x0, message[cut:])
        elif action == 10:
            sock.frame(0x1, b'{"type":"ping"}', mask=False)  # clients must mask
        elif action == 11:
            kind = rng.randrange(4)
            if kind == 0:
                sock.frame(0x9, b"x" * 200)  # control frame > 125 bytes
            elif kind == 1:
                sock.frame(rng.choice([0x3, 0x7, 0xB, 0xF]), b"reserved opcode")
            elif kind == 2:
                sock.frame(0x1, b'{"type":"ping"}', rsv=rng.choice([1, 2, 4]))
            else:
                sock.frame(0x8, struct.pack("!H", rng.choice([0, 999, 1005, 1006, 5000])) + b"\xff")
        elif action == 12:
            sock.frame(0x9, os.urandom(rng.randint(0, 125)))  # a ping: answered with a pong
        else:
            # A garbage handshake on its own connection.
            garbage = bytes(rng.randrange(256) for _ in range(rng.randint(1, 300))) + b"\r\n\r\n"
            other, status = await RawSocket.open(port, "", handshake=garbage)
            opened.append(other)
            outcome.handshakes.append(status)
            other.close()
        for message in await sock.messages(0.05):
            if message.get("type") == "error":
                outcome.codes.append(message["code"])
    if sock is not None:
        await sock.messages(0.3)
        outcome.closes.append(sock.closed_with)
        sock.close()


async def test_ws_fuzzing_breaks_nothing_and_disturbs_no_viewer(tmp_path):
    env = {"VAR_DIR": str(tmp_path), "SECRET_KEY": "z" * 48, "LOG_LEVEL": "WARNING"}
    prepare_database(env)
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'chonai.db'}"
    server = ServerProcess(env, tmp_path / "server.log", port=free_port())
    outcomes = [Outcome() for _ in range(FUZZERS)]
    # The control clients and the server are closed on the way out, also when a step before the fuzzing fails.
    async with contextlib.AsyncExitStack() as opened:
        opened.callback(server.stop)
        await asyncio.to_thread(server.start)
        from core.db import Database

        db = Database(database_url)
        async with db.session() as s:
            room = await make_broadcast(s)
            tokens = {w: await token_for(s, f"{w}@example.jp") for w in ("member", "fukuoka", "naha", "kochi", "mhlw")}
        await db.dispose()
        viewer = await RoomClient("viewer", tokens["member"], room, lambda: [server.url]).start()
        opened.push_async_callback(viewer.close)
        poster = await RoomClient("poster", tokens["fukuoka"], room, lambda: [server.url]).start()
        opened.push_async_callback(poster.close)
        fuzz_tokens = [tokens[w] for w in ("naha", "kochi", "mhlw")]

        async def control_posts() -> None:
            for i in range(10):
                await poster.post(f"対照コメント {i}")
                await asyncio.sleep(0.4)

        await asyncio.gather(
            control_posts(),
            *(fuzz_one(server.port, room, fuzz_tokens, SEED + i, outcomes[i]) for i in range(FUZZERS)),
        )
        await poster.wait_for(lambda: not poster.pending)
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(server.url + "/healthz")).status_code == 200
        stored = await stored_comments(database_url, room)
        await viewer.wait_for(lambda: viewer.last >= len(stored))

    log = read(tmp_path / "server.log")
    assert server_errors(log) == [], log[-3000:]
    codes = {c for o in outcomes for c in o.codes}
    closes = {c for o in outcomes for c in o.closes}
    assert "internal_error" not in codes
    assert closes <= ALLOWED_CLOSES, closes
    # The fuzzing reached the server's typed refusals, not just the WebSocket layer.
    assert {"invalid_json", "invalid_message", "unknown_type", "frame_too_large", "flood"} <= codes, codes
    assert {1002, 1003, 1007, 1009, 4429} <= closes, closes
    # The control pair never noticed: every comment once, in the database's order, acknowledged once.
    assert (viewer.duplicates, viewer.gaps, viewer.errors, poster.errors) == ([], [], [], [])
    assert viewer.seen == [(p, t) for p, t, _ in stored]
    assert len(viewer.connections) == 1  # never disconnected
    assert [t for _, t in viewer.seen if t.startswith("対照")] == [f"対照コメント {i}" for i in range(10)]
