"""Writing frames to viewers: the same bytes for everyone, no task per viewer per message.

On uvicorn's default WebSocket protocol (websockets' sans-I/O implementation) a server
frame is just bytes on the transport: text frames from the server are unmasked and
compression is off, so the wire bytes of a frame are identical for every viewer. We
build them once per frame (`OutFrame.wire`) and `transport.write()` them synchronously to
each viewer, the way `websockets.broadcast()` does. The transport's write buffer is the
viewer's bounded buffer: past `BUFFER_LIMIT` the viewer is too slow and is cut off (it
reconnects and resumes from its last position), so it never slows the room.

Any other ASGI server (or the test client) gets `QueueSink`: a bounded per-viewer queue
drained by one long-lived writer task per viewer.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import struct
from typing import Any, Protocol

from live.rooms import metrics

log = logging.getLogger("chonai.rooms")

#: The uvicorn WebSocket implementation DirectSink reaches into (`chonai serve` sets it explicitly;
#: pyproject bounds uvicorn to the versions whose WebSocketsSansIOProtocol has `.transport`/`.conn`).
UVICORN_WS = "websockets-sansio"

#: Bytes a viewer may have unsent before it is disconnected as too slow.
BUFFER_LIMIT = int(os.environ.get("CHONAI_ROOM_BUFFER_KIB", "512")) * 1024


class OutFrame:
    """One outgoing text message, encoded once; the wire form is built on first use."""

    __slots__ = ("_text", "_wire", "payload")

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self._wire: bytes | None = None
        self._text: str | None = None

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            n = len(self.payload)
            if n < 126:
                head = struct.pack("!BB", 0x81, n)
            elif n < 65536:
                head = struct.pack("!BBH", 0x81, 126, n)
            else:
                head = struct.pack("!BBQ", 0x81, 127, n)
            self._wire = head + self.payload
        return self._wire

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.payload.decode()
        return self._text


class Sink(Protocol):
    def write(self, frame: OutFrame) -> bool:
        """Queue or write the frame; False once the viewer is gone or was cut off as too slow."""

    async def close(self, code: int, reason: str = "") -> None: ...

    def stop(self) -> None: ...


def _sansio_protocol(receive: Any) -> Any | None:
    """uvicorn's WebSocketsSansIOProtocol behind this ASGI receive callable, if that is what serves us."""
    owner = getattr(receive, "__self__", None)
    if owner is None:
        return None
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    except ImportError:  # pragma: no cover - uvicorn is a dependency, but be safe
        return None
    if isinstance(owner, WebSocketsSansIOProtocol) and all(
        hasattr(owner, name)
        for name in ("transport", "conn", "handshake_complete", "request", "response", "queue", "writable")
    ):
        return owner
    return None


class Inbox:
    """What uvicorn's per-connection `asyncio.Queue` is used for, without its three deques and Event.

    uvicorn only `put_nowait`s events, and the one ASGI app reading the socket awaits `get()` and
    asks `empty()`. An asyncio.Queue allocates four deques (about 3 KiB) per idle socket for that.
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self, items: list[Any]) -> None:
        self._items = items
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    async def get(self) -> Any:
        while not self._items:
            if self._waiter is not None:
                raise RuntimeError("a socket has one reader")
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        return self._items.pop(0)


class Writable:
    """What uvicorn's per-connection `writable` asyncio.Event is used for (set, clear, wait), minus its deque."""

    __slots__ = ("_set", "_waiters")

    def __init__(self, is_set: bool) -> None:
        self._set = is_set
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if self._set:
            return
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        if self._set:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
        return True


def _slim(proto: Any) -> None:
    """Drop or replace what uvicorn keeps per socket but no longer needs once the handshake is done."""
    request = proto.request
    if request is not None:
        # websockets' parser generator keeps the handshake Request for the socket's lifetime
        # (a local of ServerProtocol.parse); its headers (about 2 KiB) are never read again.
        request.headers.clear()
    # uvicorn keeps the handshake's request and response but never reads them once it is done.
    proto.request = proto.response = None
    queue = proto.queue
    if type(queue) is asyncio.Queue and not getattr(queue, "_getters", True):  # nobody awaits it: swap
        items = []
        while not queue.empty():
            items.append(queue.get_nowait())
        proto.queue = Inbox(items)
    writable = proto.writable
    if type(writable) is asyncio.Event and not getattr(writable, "_waiters", True):
        proto.writable = Writable(writable.is_set())


class DirectSink:
    """Synchronous writes of prebuilt frame bytes to uvicorn's transport."""

    __slots__ = ("proto", "send", "transport")

    def __init__(self, proto: Any, send: Any) -> None:
        self.proto = proto
        self.transport: asyncio.WriteTransport = proto.transport
        self.send = send
        if proto.handshake_complete:
            _slim(proto)

    def write(self, frame: OutFrame) -> bool:
        proto = self.proto
        if proto.close_sent or proto.disconnected:
            return False
        transport = self.transport
        transport.write(frame.wire)
        if transport.get_write_buffer_size() > BUFFER_LIMIT:
            metrics.SLOW_VIEWERS.inc()
            transport.abort()  # a close frame would wait behind the backlog; the client resumes
            return False
        return True

    async def close(self, code: int, reason: str = "") -> None:
        with contextlib.suppress(Exception):
            await self.send({"type": "websocket.close", "code": code, "reason": reason})

    def stop(self) -> None:
        return None


class QueueSink:
    """A bounded queue per viewer, drained by one writer task for the viewer's lifetime."""

    __slots__ = ("closed", "pending", "queue", "send", "task", "wakeup")

    def __init__(self, send: Any) -> None:
        self.send = send
        self.queue: collections.deque[OutFrame | tuple[int, str]] = collections.deque()
        self.pending = 0
        self.wakeup = asyncio.Event()
        self.closed = False
        self.task = asyncio.create_task(self._drain(), name="room-viewer-writer")

    def write(self, frame: OutFrame) -> bool:
        if self.closed:
            return False
        self.queue.append(frame)
        self.pending += len(frame.payload)
        if self.pending > BUFFER_LIMIT:
            metrics.SLOW_VIEWERS.inc()
            self.closed = True
            self.queue.clear()
            self.queue.append((4408, "too slow"))
            self.wakeup.set()
            return False
        self.wakeup.set()
        return True

    async def _drain(self) -> None:
        try:
            while True:
                await self.wakeup.wait()
                self.wakeup.clear()
                while self.queue:
                    item = self.queue.popleft()
                    if isinstance(item, tuple):
                        await self.send({"type": "websocket.close", "code": item[0], "reason": item[1]})
                        return
                    self.pending -= len(item.payload)
                    await self.send({"type": "websocket.send", "text": item.text})
        except asyncio.CancelledError:
            raise
        except Exception:  # the peer went away; the handler notices on receive
            self.closed = True

    async def close(self, code: int, reason: str = "") -> None:
        """Close after the frames already queued (e.g. the error that explains the close)."""
        if self.task.done():
            with contextlib.suppress(Exception):
                await self.send({"type": "websocket.close", "code": code, "reason": reason})
            return
        self.queue.append((code, reason))
        self.wakeup.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self.task), 5)

    def stop(self) -> None:
        self.closed = True
        self.task.cancel()


_warned = False


def make_sink(receive: Any, send: Any) -> Sink:
    """DirectSink on uvicorn's websockets-sansio protocol (what `chonai serve` runs), else QueueSink."""
    global _warned
    proto = _sansio_protocol(receive)
    if proto is not None and os.environ.get("CHONAI_ROOM_WRITER") != "queue":
        metrics.SINKS.labels("direct").inc()
        return DirectSink(proto, send)
    owner = getattr(receive, "__self__", None)
    if not _warned and owner is not None and type(owner).__module__.startswith("uvicorn."):
        _warned = True  # a real uvicorn, but not the protocol the fast path needs: say so once
        log.warning("room fan-out uses the slow queue writer: uvicorn serves WebSockets with %s", type(owner).__name__)
    metrics.SINKS.labels("queue").inc()
    return QueueSink(send)
