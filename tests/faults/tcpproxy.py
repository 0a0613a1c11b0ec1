"""A TCP proxy the test controls, to put between a server process and PostgreSQL and cut at will."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


class TcpProxy:
    """Forwards 127.0.0.1:port to an upstream address.

    `cut()`: every open connection is reset and new ones are closed at once (the database
    host is down). `blackhole()`: connections are accepted and kept, but nothing passes in
    either direction (a network partition: only timeouts notice). `restore()` forwards again.
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.mode = "up"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._closed = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Connections accepted after close() (asyncio hands them over on the next loop turn, and
        # Python 3.11's Server.wait_closed does not wait for them) are reset, never kept.
        if self.mode == "cut" or self._closed:
            writer.transport.abort()
            return
        self._writers.add(writer)
        if self.mode == "blackhole":
            return  # held open, never answered
        accepting = asyncio.current_task()
        assert accepting is not None
        self._tasks.add(accepting)  # close() cancels a connect to upstream still under way
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except (OSError, asyncio.CancelledError):
            # Cancelled by close(): returning, not re-raising, because asyncio's done-callback for
            # this task (Python 3.11) calls task.exception(), which raises on a cancelled task.
            writer.transport.abort()
            return
        finally:
            self._tasks.discard(accepting)
        self._writers.add(up_writer)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                if self.mode != "up":
                    continue  # swallowed: the peer waits for an answer that never comes
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            if self.mode == "up":
                dst.transport.abort()

    def _abort_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def cut(self) -> None:
        self.mode = "cut"
        self._abort_all()

    def blackhole(self) -> None:
        self.mode = "blackhole"

    def restore(self) -> None:
        # Connections held during a blackhole are dead to their owners: reset them.
        if self.mode == "blackhole":
            self._abort_all()
        self.mode = "up"

    async def close(self) -> None:
        self._closed = True
        if self._server is not None:
            self._server.close()  # no new connections
        self._abort_all()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # the pipes have let go of their sockets
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
