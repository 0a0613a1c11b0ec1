"""uvicorn's HTTP protocols with a header deadline: a client gets HEADER_TIMEOUT seconds to send them.

uvicorn times out idle keep-alive connections but not a request whose headers never finish
(slowloris): every such connection would hold a socket forever. Here a timer starts when the
connection opens and after every response; if the headers of the next request are not
complete when it fires, the connection is closed.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

#: Seconds from connection (or the previous response) to a request's complete headers.
HEADER_TIMEOUT = float(os.environ.get("CHONAI_HEADER_TIMEOUT", "10"))
#: Largest WebSocket message uvicorn accepts (the app refuses anything over 4,096 characters).
WS_MAX_SIZE = 64 * 1024


class _HeaderDeadline:
    """Mixed into a uvicorn protocol: arm, and close when the headers are still incomplete."""

    transport: asyncio.Transport
    _deadline: asyncio.TimerHandle | None = None
    # Whether the request line/headers are still incomplete: each protocol class below defines it.
    _awaiting_headers: Callable[[], bool]

    def _arm(self) -> None:
        self._disarm()
        self._deadline = asyncio.get_running_loop().call_later(HEADER_TIMEOUT, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self._awaiting_headers() and not self.transport.is_closing():
            self.transport.close()


class TimedH11Protocol(_HeaderDeadline, H11Protocol):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _awaiting_headers(self) -> bool:
        return self.conn.their_state is h11.IDLE


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools comes with uvicorn[standard]
    HttpProtocol: type[asyncio.Protocol] = TimedH11Protocol
else:

    class TimedHttpToolsProtocol(_HeaderDeadline, HttpToolsProtocol):
        _in_headers = True

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._in_headers = True
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_headers = True
            self._arm()

        def on_headers_complete(self) -> None:
            self._in_headers = False
            self._disarm()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._in_headers = True
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _awaiting_headers(self) -> bool:
            return self._in_headers

    HttpProtocol = TimedHttpToolsProtocol
