"""Who a session cookie belongs to, remembered per process for WebSocket handshakes.

A reconnect storm would otherwise read `login_sessions` (joined with the member) once per
socket. An entry is trusted while a socket it opened is still open in this process (that
socket acts on the same member already) and for `TTL` seconds after the last one closed or
after it was read, never past the session's own expiry; at most `MAX_ENTRIES` are kept.

Entries are dropped, in every process, by what changes the answer: `Revoked` (logout,
suspension, password change or reset, token revocation) and `MemberChanged` (role, profile,
re-approval), both delivered by the socket registry's bus subscriptions (`core.sockets`); a
bus reconnect (events may have been lost) empties the cache. Only approved members are
cached, so approving someone needs no event. A read that started before an invalidation is
not stored (`epoch`): it may have seen the database before the change.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TTL = 30.0  # seconds an entry is trusted without an open socket behind it
MAX_ENTRIES = 50_000  # per process; the oldest go first


@dataclass(slots=True)
class _Entry:
    member: Any
    member_id: int
    until: float  # monotonic: trusted until then (pushed back while its sockets are open)
    expires: float  # wall clock: the session's own end
    open: int = 0  # sockets this credential holds open in this process


class CredentialCache:
    """credential ('session:<sha256>') → member, bounded, invalidated by member id."""

    def __init__(
        self, ttl: float = TTL, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self.entries: OrderedDict[str, _Entry] = OrderedDict()
        self.by_member: dict[int, set[str]] = {}
        self.epoch = 0  # bumped by every invalidation
        self.hits = 0
        self.misses = 0
        self._purge_handle: asyncio.TimerHandle | None = None
        self._purge_loop: asyncio.AbstractEventLoop | None = None

    def get(self, credential: str | None) -> Any:
        """The cached member, or None (then read the database and `put` what it says)."""
        entry = self.entries.get(credential) if credential else None
        if entry is None:
            self.misses += 1
            return None
        if (entry.open == 0 and entry.until <= self.clock()) or entry.expires <= time.time():
            self._drop(credential or "")
            self.misses += 1
            return None
        self.hits += 1
        return entry.member

    def put(self, credential: str, member: Any, expires: float, epoch: int) -> None:
        """Remember an approved member read at `epoch` (skipped if something was invalidated since)."""
        if epoch != self.epoch or not getattr(member, "is_active", False):
            return
        self._drop(credential)
        self.entries[credential] = _Entry(member, int(member.id), self.clock() + self.ttl, expires)
        self.by_member.setdefault(int(member.id), set()).add(credential)
        while len(self.entries) > self.max_entries:
            self._drop(next(iter(self.entries)))
        self._schedule_purge()

    def opened(self, credential: str | None) -> None:
        entry = self.entries.get(credential) if credential else None
        if entry is not None:
            entry.open += 1

    def closed(self, credential: str | None) -> None:
        """A socket of this credential closed: its entry is trusted `ttl` more seconds (a quick reconnect)."""
        entry = self.entries.get(credential) if credential else None
        if entry is not None and entry.open > 0:
            entry.open -= 1
            if entry.open == 0:
                entry.until = self.clock() + self.ttl
                self.entries.move_to_end(credential or "")
                self._schedule_purge()

    def forget_member(self, member_id: int) -> None:
        self.epoch += 1
        for credential in list(self.by_member.get(member_id, ())):
            self._drop(credential)

    def clear(self) -> None:
        self.epoch += 1
        self.entries.clear()
        self.by_member.clear()

    def purge(self) -> None:
        """Drop what is no longer trusted (keeps memory at what open sockets and recent closes need)."""
        self._purge_handle = None
        now, wall = self.clock(), time.time()
        for credential, entry in list(self.entries.items()):
            if (entry.open == 0 and entry.until <= now) or entry.expires <= wall:
                self._drop(credential)
        self._schedule_purge()

    def _drop(self, credential: str) -> None:
        entry = self.entries.pop(credential, None)
        if entry is None:
            return
        credentials = self.by_member.get(entry.member_id)
        if credentials is not None:
            credentials.discard(credential)
            if not credentials:
                del self.by_member[entry.member_id]

    def _schedule_purge(self) -> None:
        if not self.entries:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # used outside a loop: purged on access instead
            return
        if self._purge_handle is not None and self._purge_loop is loop:
            return
        # (A handle on another loop is one a test client's finished loop will never run.)
        self._purge_handle, self._purge_loop = loop.call_later(self.ttl, self.purge), loop
