"""Open WebSockets obey their credentials: one registry per process, fed by the bus.

Every members-only socket (comment rooms, the Q&A board, schedule events) registers here
with the credential that opened it. Suspending a member, revoking an API token, logging
out or resetting a password commits first, then publishes `Revoked` on `members:revoked`;
every process closes the matching sockets at once. After a bus outage (when a `Revoked`
may have been lost) each process re-checks its open sockets against the database.

Also here: the limits every socket shares (frame size, flood budget, sockets per member).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from core.credentials import CredentialCache
from core.db import Database
from core.events import EventBus

log = logging.getLogger("chonai.sockets")

REVOKED_CHANNEL = "members:revoked"
#: A member's role, profile or approval changed: cached credentials of theirs are dropped.
CHANGED_CHANNEL = "members:changed"

#: Close codes shared by every socket (docs/protocol.md, "Close codes").
CLOSE_SESSION_ENDED = 4401  # logged out, session ended, token revoked, password changed or reset
CLOSE_ACCOUNT_INACTIVE = 4403  # suspended or otherwise no longer approved
CLOSE_TOO_MANY_SOCKETS = 4409  # more than MAX_SOCKETS_PER_MEMBER open sockets in this process
CLOSE_FLOOD = 4429
CLOSE_UNSUPPORTED = 1003
CLOSE_TOO_BIG = 1009

MAX_SOCKETS_PER_MEMBER = 20  # per process: a few tabs, each with a room, a board and the schedule
MAX_FRAME_CHARS = 4096  # far above any valid client message (a 200-character comment is < 1 KiB)
FLOOD_BURST = 30  # messages a connection may send at once ...
FLOOD_RATE = 3.0  # ... refilled per second (typing, reactions and pings stay far below)

Closer = Callable[[int, str], None]


class Revoked(msgspec.Struct, kw_only=True):
    """Credentials that ended: one session, one token, or every credential of a member."""

    member_id: int
    session: str | None = None  # SHA-256 of the session token
    token: str | None = None  # SHA-256 of the API token
    every: bool = False  # all sessions and tokens (suspension, password reset)
    sessions: bool = False  # all sessions (password change) ...
    keep_session: str | None = None  # ... except this one (the member's own browser)
    inactive: bool = False  # the account is no longer approved


class MemberChanged(msgspec.Struct, kw_only=True):
    """Something a cached member carries changed (role, name, affiliation, status)."""

    member_id: int


_decoder = msgspec.json.Decoder(Revoked)
_changed_decoder = msgspec.json.Decoder(MemberChanged)


def session_credential(token_hash: str) -> str:
    return "session:" + token_hash


def token_credential(token_hash: str) -> str:
    return "token:" + token_hash


@dataclass(eq=False)
class Handle:
    """One registered socket."""

    member_id: int
    credential: str | None
    close: Closer
    loop: asyncio.AbstractEventLoop
    closed: bool = field(default=False)

    def matches(self, event: Revoked) -> bool:
        if event.member_id != self.member_id:
            return False
        if event.every or event.inactive:
            return True
        cred = self.credential or ""
        if event.sessions and cred.startswith("session:"):
            return event.keep_session is None or cred != session_credential(event.keep_session)
        return (event.session is not None and cred == session_credential(event.session)) or (
            event.token is not None and cred == token_credential(event.token)
        )

    def end(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._close(code, reason)
        else:  # delivered on another thread's loop (test clients): hand over safely
            self.loop.call_soon_threadsafe(self._close, code, reason)

    def _close(self, code: int, reason: str) -> None:
        try:
            self.close(code, reason)
        except Exception:  # one broken socket must not keep the others open
            log.exception("closing a revoked socket failed")


class SocketRegistry:
    """The open sockets of this process, by member."""

    def __init__(self, db: Database | None, bus: EventBus, per_member: int = MAX_SOCKETS_PER_MEMBER) -> None:
        self.db = db
        self.bus = bus
        self.per_member = per_member
        self.by_member: dict[int, set[Handle]] = defaultdict(set)
        # Session lookups of WebSocket handshakes (web.middleware), dropped by the same events.
        self.credentials = CredentialCache()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.bus.subscribe(REVOKED_CHANNEL, self.on_revoked)
        await self.bus.subscribe(CHANGED_CHANNEL, self.on_changed)
        self.bus.on_reconnect(self._on_reconnect)

    async def stop(self) -> None:
        await self.bus.unsubscribe(REVOKED_CHANNEL, self.on_revoked)
        await self.bus.unsubscribe(CHANGED_CHANNEL, self.on_changed)
        for task in list(self._tasks):
            task.cancel()

    def open(self, member_id: int, credential: str | None, close: Closer) -> Handle | None:
        """Register a socket; None when this member already holds `per_member` sockets here."""
        handles = self.by_member[member_id]
        if len(handles) >= self.per_member:
            return None
        handle = Handle(member_id, credential, close, asyncio.get_running_loop())
        handles.add(handle)
        self.credentials.opened(credential)
        return handle

    def release(self, handle: Handle) -> None:
        self.credentials.closed(handle.credential)
        handles = self.by_member.get(handle.member_id)
        if handles is not None:
            handles.discard(handle)
            if not handles:
                del self.by_member[handle.member_id]

    def count(self, member_id: int) -> int:
        return len(self.by_member.get(member_id, ()))

    def on_revoked(self, _channel: str, data: bytes) -> None:
        try:
            event = _decoder.decode(data)
        except msgspec.DecodeError:
            log.warning("undecodable revocation event")
            return
        self.credentials.forget_member(event.member_id)
        code = CLOSE_ACCOUNT_INACTIVE if event.inactive else CLOSE_SESSION_ENDED
        reason = "account_inactive" if event.inactive else "session_ended"
        for handle in list(self.by_member.get(event.member_id, ())):
            if handle.matches(event):
                handle.end(code, reason)

    def on_changed(self, _channel: str, data: bytes) -> None:
        """Role or profile changed: only cached sessions go (the member's open sockets stay)."""
        with contextlib.suppress(msgspec.DecodeError):
            self.credentials.forget_member(_changed_decoder.decode(data).member_id)

    def _on_reconnect(self) -> None:
        self.credentials.clear()  # an invalidation may have been lost with the connection
        task = asyncio.get_running_loop().create_task(self.revalidate())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def revalidate(self) -> None:
        """Close every socket whose credential ended while the bus could not tell us."""
        if self.db is None:
            return
        from core.members import service  # members imports nothing of this module; keep start-up light

        for member_id, handles in list(self.by_member.items()):
            for handle in list(handles):
                async with self.db.session() as db:
                    member = await service.member_for_credential(db, handle.credential)
                if member is None or member.id != member_id:
                    handle.end(CLOSE_SESSION_ENDED, "session_ended")
                elif not member.is_active:
                    handle.end(CLOSE_ACCOUNT_INACTIVE, "account_inactive")


async def publish_revoked(bus: EventBus, event: Revoked) -> None:
    """After the commit: tell every process. The database already holds the truth if this fails."""
    try:
        await bus.publish(REVOKED_CHANNEL, msgspec.json.encode(event))
    except Exception:  # each process re-checks its sockets when its bus reconnects
        log.warning("publishing a revocation failed", exc_info=True)


async def publish_member_changed(bus: EventBus | None, member_id: int) -> None:
    """After the commit: every process forgets the member's cached sessions (a lost event: see TTL)."""
    if bus is None:
        return
    try:
        await bus.publish(CHANGED_CHANNEL, msgspec.json.encode(MemberChanged(member_id=member_id)))
    except Exception:  # the cache empties itself when the bus reconnects
        log.warning("publishing a member change failed", exc_info=True)


def registry_for(app: Any) -> SocketRegistry:
    """The process's registry (created by the app factory; a bare registry for tests without one)."""
    registry = getattr(app.state, "sockets", None)
    if registry is None:
        registry = SocketRegistry(getattr(app.state, "db", None), app.state.bus)
        app.state.sockets = registry
    assert isinstance(registry, SocketRegistry)
    return registry


def credential_of(scope: Any) -> str | None:
    """What AuthMiddleware recorded: 'session:<sha256>' or 'token:<sha256>'."""
    value = scope.get("credential")
    return value if isinstance(value, str) else None


class FrameBudget:
    """The flood budget of one connection: FLOOD_BURST at once, FLOOD_RATE per second sustained."""

    __slots__ = ("refilled", "tokens")

    def __init__(self) -> None:
        self.tokens = float(FLOOD_BURST)
        self.refilled = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(float(FLOOD_BURST), self.tokens + (now - self.refilled) * FLOOD_RATE)
        self.refilled = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def frame_refusal(message: Mapping[str, Any], budget: FrameBudget) -> tuple[int, str] | None:
    """For push-only sockets: the close code and reason a received frame earns, or None if it is fine."""
    text = message.get("text")
    if text is None:
        return CLOSE_UNSUPPORTED, "binary_not_supported"
    if not budget.take():
        return CLOSE_FLOOD, "flood"
    if len(text) > MAX_FRAME_CHARS:
        return CLOSE_TOO_BIG, "frame_too_large"
    return None


async def read_until_gone(socket: Any, end: Callable[[int, str], None]) -> None:
    """For push-only sockets: read until the client goes away; a frame over the limits ends it via `end`.

    Nothing is expected from the client; reading notices when it leaves, and whatever it sends anyway
    is held to the room socket's limits (size, binary, flood).
    """
    budget = FrameBudget()
    while True:
        message = await socket.receive()
        if message["type"] == "websocket.disconnect":
            return
        refusal = frame_refusal(message, budget)
        if refusal is not None:
            end(*refusal)
            return
