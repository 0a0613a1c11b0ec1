"""A resumable comment-room client for fault tests, speaking the protocol the way the browser does.

It keeps the last position it saw and rejoins with `after` when its connection drops
(trying the servers it knows in turn), keeps every comment it posted until the `ack`
arrives and resends unacknowledged ones with the same `ref` after reconnecting. Every
frame is checked as it arrives: a position that is not exactly `last + 1` is recorded
as a duplicate or a gap, so a test can assert the stream was exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets

WAIT = 15


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://") + "/ws/rooms"


@dataclass
class RoomClient:
    name: str
    token: str
    room: int
    servers: Callable[[], list[str]]  # base URLs to try, in order of preference
    seen: list[tuple[int, str]] = field(default_factory=list)
    last: int = 0
    pending: dict[str, str] = field(default_factory=dict)  # ref -> text, not acknowledged yet
    acked: dict[str, int] = field(default_factory=dict)  # ref -> position
    duplicates: list[int] = field(default_factory=list)
    gaps: list[tuple[int, int, str]] = field(default_factory=list)  # (last, got, where)
    ack_conflicts: list[tuple[str, int, int]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    connections: list[str] = field(default_factory=list)  # server URL of each (re)connection
    ws: Any = None
    _task: asyncio.Task[None] | None = None
    _counter: int = 0
    _closing: bool = False
    _progress: asyncio.Event = field(default_factory=asyncio.Event)

    # --- connection -------------------------------------------------------------------

    async def start(self) -> RoomClient:
        await self._connect()
        self._task = asyncio.create_task(self._run(), name=f"client-{self.name}")
        return self

    async def _connect(self) -> None:
        last_error: Exception | None = None
        for _attempt in range(60):
            for url in self.servers():
                try:
                    ws = await websockets.connect(
                        ws_url(url), additional_headers={"Authorization": f"Bearer {self.token}"}, open_timeout=5
                    )
                except (OSError, websockets.WebSocketException, TimeoutError) as exc:
                    last_error = exc
                    continue
                try:
                    await ws.send(json.dumps({"type": "join", "room": self.room, "after": self.last}))
                    while True:
                        message = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
                        if message["type"] == "error":
                            raise RuntimeError(f"{self.name}: join refused: {message}")
                        if message["type"] == "history":
                            self._items(message["items"], f"history(resumed={message['resumed']})")
                            if message["last_position"] is not None:
                                break
                except (websockets.ConnectionClosed, OSError, TimeoutError) as exc:
                    last_error = exc
                    await ws.close()
                    continue
                except BaseException:
                    # A refused join, or close() cancelling this reconnect: the socket goes with it.
                    ws.transport.abort()
                    raise
                self.ws = ws
                self.connections.append(url)
                for ref, text in sorted(self.pending.items()):  # resend what was never acknowledged
                    await ws.send(json.dumps({"type": "comment", "text": text, "ref": ref}))
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} could not reconnect: {last_error!r}")

    async def _run(self) -> None:
        while not self._closing:
            try:
                async for raw in self.ws:
                    self._handle(json.loads(raw))
            except websockets.ConnectionClosed:
                pass
            if self._closing:
                return
            self.ws = None
            await self._connect()

    async def close(self) -> None:
        self._closing = True
        if self.ws is not None:
            await self.ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.ws is not None:  # a reconnect the cancel caught after it had joined (resending)
            await self.ws.close()

    def drop(self) -> None:
        """Cut the TCP connection abruptly (no close frame): the client reconnects and resumes."""
        if self.ws is not None:
            self.ws.transport.abort()

    # --- messages ---------------------------------------------------------------------

    def _items(self, items: list[dict[str, Any]], where: str = "live") -> None:
        for item in items:
            position = item["position"]
            if position <= self.last:
                self.duplicates.append(position)
                continue
            if position != self.last + 1:
                self.gaps.append((self.last, position, f"{where} on connection {len(self.connections)}"))
            self.seen.append((position, item["text"]))
            self.last = position
        self._progress.set()

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "comments":
            self._items(message["items"])
        elif kind == "ack":
            ref, position = message["ref"], message["position"]
            if ref in self.acked and self.acked[ref] != position:
                self.ack_conflicts.append((ref, self.acked[ref], position))
            self.acked[ref] = position
            self.pending.pop(ref, None)
            self._progress.set()
        elif kind == "error":
            self.errors.append(message)
            self._progress.set()

    async def post(self, text: str) -> str:
        self._counter += 1
        ref = f"{self.name}-{self._counter}"
        self.pending[ref] = text
        if self.ws is not None:
            # A send into a connection that is dying is fine: the comment stays pending and is resent.
            with contextlib.suppress(websockets.ConnectionClosed):
                await self.ws.send(json.dumps({"type": "comment", "text": text, "ref": ref}))
        return ref

    async def resend_pending(self) -> None:
        if self.ws is None:
            return
        for ref, text in sorted(self.pending.items()):
            with contextlib.suppress(websockets.ConnectionClosed):
                await self.ws.send(json.dumps({"type": "comment", "text": text, "ref": ref}))

    async def wait_for(self, predicate: Callable[[], bool], within: float = 30) -> None:
        async with asyncio.timeout(within):
            while not predicate():
                self._progress.clear()
                if self._task is not None and self._task.done():
                    self._task.result()  # re-raise a reconnect failure
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._progress.wait(), 0.5)


async def stored_comments(database_url: str, room: int) -> list[tuple[int, str, str | None]]:
    """(position, text, ref) of every stored comment of the room, in position order."""
    from sqlalchemy import select

    from live.rooms.models import RoomComment
    from tests.factories import session_at

    async with session_at(database_url) as s:
        rows = await s.execute(
            select(RoomComment.position, RoomComment.text, RoomComment.ref)
            .where(RoomComment.broadcast_id == room)
            .order_by(RoomComment.position)
        )
        return [(int(p), str(t), r) for p, t, r in rows]
