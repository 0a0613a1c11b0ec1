"""A viewer that drops and comes back within seconds resumes its access check instead of re-reading it.

When a non-moderator viewer leaves, the room remembers its member's restriction (kept current
by `MemberRestricted` events while it watched) with the time it was last read (`checked_at`)
and the member's role, for `GRACE` seconds. A rejoin of that member on the viewer page within
them takes both over: the comment path re-reads the restriction when `checked_at` is older
than `gate.RESTRICTION_TTL`, exactly as for the viewer that left. A role change gives another
member object (the session cache drops it), so the role must match; a restriction event or a
change of the room's switches forgets the memo; moderators and control feeds always read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from live.moderation.sanctions import Restriction

GRACE = 10.0  # seconds after leaving that a rejoin takes the access check over


@dataclass(slots=True, frozen=True)
class Left:
    role: str
    restriction: Restriction | None
    checked_at: float
    left_at: float


class RejoinMemo:
    """member id → what their last viewer here knew; bounded by time (insertion order is leave order)."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: dict[int, Left] = {}

    def left(self, member_id: int, role: str, restriction: Restriction | None, checked_at: float) -> None:
        now = time.monotonic()
        self._expire(now)
        self.entries.pop(member_id, None)  # re-insert: the dict stays in leave order
        self.entries[member_id] = Left(role, restriction, checked_at, now)

    def take(self, member_id: int, role: str) -> Left | None:
        """The memo of a member rejoining now, if recent and for the same role (used once)."""
        found = self.entries.pop(member_id, None)
        if found is None or found.role != role or time.monotonic() - found.left_at > GRACE:
            return None
        return found

    def forget(self, member_id: int) -> None:
        self.entries.pop(member_id, None)

    def clear(self) -> None:
        self.entries.clear()

    def _expire(self, now: float) -> None:
        entries = self.entries
        while entries:
            member_id, oldest = next(iter(entries.items()))
            if now - oldest.left_at <= GRACE:
                return
            del entries[member_id]
