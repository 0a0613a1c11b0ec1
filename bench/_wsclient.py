"""The raw WebSocket client under the room benchmarks (fanout, writes, connect, soak).

A client is an asyncio.Protocol on one TCP connection to /ws/rooms: it writes the upgrade
request, parses only frame headers, answers pings and hands each complete text frame to
`on_text`. Subclasses say what to send once upgraded (`on_upgraded`, usually the join), what a
refused upgrade means (`on_refused`) and what to do with a text frame; nothing here decodes JSON.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import struct
from collections.abc import Callable
from typing import Protocol, TypeVar, cast


def client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A masked client frame with an all-zero mask key (legal, and XOR-free)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + b"\0\0\0\0" + payload


class RoomSocket(asyncio.Protocol):
    """One connection to the room socket at `host` (the Host header), sending `headers` (credentials)."""

    path = "/ws/rooms"

    def __init__(self, host: str, headers: str) -> None:
        self.host = host
        self.headers = headers
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.upgraded = False

    async def open(self, port: int) -> None:
        """Connect to 127.0.0.1:`port` with this protocol (the upgrade request goes out at once)."""
        await asyncio.get_running_loop().create_connection(lambda: self, "127.0.0.1", port)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # cast, not isinstance: uvloop's TCP transport does not subclass asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        self.transport.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{self.headers}\r\n"
            ).encode()
        )

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def send_text(self, text: str) -> None:
        if self.transport is not None:
            self.transport.write(client_frame(text.encode()))

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.on_refused(buf[:200])
                return
            self.upgraded = True
            buf = buf[end + 4 :]
            self.on_upgraded()
        # Frame headers by hand, without a list of frames: fanout's viewers are the load generator's hot path.
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            b0, length, head = buf[pos], buf[pos + 1] & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            end = pos + head + length
            if end > size:
                break
            opcode = b0 & 0x0F
            if opcode == 0x1:
                self.on_text(buf[pos + head : end])
            elif opcode == 0x9 and self.transport is not None:  # ping -> pong
                self.transport.write(client_frame(buf[pos + head : end], 0xA))
            pos = end
        self.buf = buf[pos:] if pos < size else b""

    def on_upgraded(self) -> None:
        """The server switched protocols (frames may follow in the same read)."""

    def on_refused(self, head: bytes) -> None:
        """The server answered the upgrade with something else (`head`: its first 200 bytes).

        Here the connection just closes; the benchmarks' clients also record why."""
        self.close()

    def on_text(self, payload: bytes) -> None:
        """One complete text frame (ignored here; the benchmarks' clients count or decode it)."""


class _Joining(Protocol):
    ready: asyncio.Future[None]  # set once the server answered the join

    async def open(self, port: int) -> None: ...


C = TypeVar("C", bound=_Joining)


async def opened(make: Callable[[], C], port: int, attempts: int = 5) -> C:
    """A client `make()` builds, connected and joined; a refused or slow connect (a loaded server's listen
    queue) is retried with a fresh client, a little later each time."""
    for attempt in range(attempts):
        client = make()
        try:
            await client.open(port)
            await asyncio.wait_for(asyncio.shield(client.ready), 30)
            return client
        except (OSError, ConnectionError, TimeoutError):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")
