"""Moderation inside a room: switches, hidden comments, the display delay, restrictions, notices.

Moderators get every comment at once (hidden ones marked); everyone else gets a frame
without hidden comments, `controls.delay_seconds` late when a delay is set. The events come
from the broadcast's bus channel (`live.moderation.events`); `deliver` is where a flushed
frame takes the hot path (one frame for everyone) or the moderated one.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time

import msgspec

from live.moderation.events import MemberRestricted
from live.moderation.gate import Rule
from live.moderation.sanctions import Restriction
from live.rooms import service
from live.rooms.presence import RoomPresence
from live.rooms.protocol import Comments, Controls, ModNotice, Restricted, Visibility, encode
from live.rooms.transport import OutFrame
from live.rooms.viewers import RoomHost

log = logging.getLogger("chonai.rooms")

RESTRICTED_MESSAGES = {
    "timed_out": "タイムアウト中のためコメントできません。",
    "banned": "この放送でのコメントが禁止されています。",
    None: "コメントできるようになりました。",
}


class RoomModeration(RoomPresence):
    """Controls and hidden positions as last read, the delay queue, the blocked-word cache."""

    __slots__ = (
        "_controls_again",
        "_controls_task",
        "_delay_handle",
        "controls",
        "delayed",
        "hidden",
        "program_id",
        "public_flushed",
        "words",
        "words_at",
    )

    def __init__(self, hub: RoomHost, broadcast_id: int) -> None:
        super().__init__(hub, broadcast_id)
        self.program_id: int | None = None
        self.controls = Controls()
        self.hidden: set[int] = set()
        self.public_flushed = 0  # highest position written to non-moderators
        # (due time, last position, [(position, item)]) frames waiting for the display delay.
        self.delayed: collections.deque[tuple[float, int, list[tuple[int, msgspec.Raw]]]] = collections.deque()
        self._delay_handle: asyncio.TimerHandle | None = None
        self._controls_task: asyncio.Task[None] | None = None
        self._controls_again = False
        self.words: list[Rule] = []  # blocked-word rules, cached (see live.moderation.gate)
        self.words_at = -1e9

    # --- delivering a flushed frame -------------------------------------------------------

    def deliver(self, frame: OutFrame, items: list[msgspec.Raw], last: int) -> None:
        """Write the frame of positions (last - len(items), last] to the room."""
        delay = self.controls.delay_seconds
        first = last - len(items) + 1
        if (
            not delay
            and not self.delayed
            and not (self.hidden and any(p in self.hidden for p in range(first, last + 1)))
        ):
            self.broadcast(frame)  # the hot path: one frame for everyone
            self.public_flushed = last
            return
        # Moderators now and whole; viewers without hidden comments, `delay` seconds late.
        self.broadcast(frame, moderators=True)
        positioned = list(zip(range(first, last + 1), items, strict=True))
        due = self.hub.loop.time() + delay
        if self.delayed:
            due = max(due, self.delayed[-1][0])  # never overtake frames already waiting
        self.delayed.append((due, last, positioned))
        if delay:
            if self._delay_handle is None:
                self._delay_handle = self.hub.loop.call_at(self.delayed[0][0], self._send_delayed)
        else:
            self._send_delayed()

    def _send_delayed(self, force: bool = False) -> None:
        """Write the delayed frames that are due (all of them when the delay was switched off)."""
        if self._delay_handle is not None:
            self._delay_handle.cancel()
        self._delay_handle = None
        now = self.hub.loop.time()
        while self.delayed and (force or self.delayed[0][0] <= now):
            _, last, items = self.delayed.popleft()
            public = [item for position, item in items if position not in self.hidden]
            if public:
                self.broadcast(OutFrame(encode(Comments(public))), moderators=False)
            self.public_flushed = last
        if self.delayed:
            self._delay_handle = self.hub.loop.call_at(self.delayed[0][0], self._send_delayed)

    # --- events from the broadcast's channel -----------------------------------------------

    def notify_moderators(self, message: ModNotice) -> None:
        if self.moderators:
            self.broadcast(OutFrame(encode(message)), moderators=True)

    def on_restricted(self, event: MemberRestricted) -> None:
        """A member was timed out, banned or let back: tell their connections, keep them current."""
        until = service.iso(event.until) if event.until else None
        message = RESTRICTED_MESSAGES.get(event.code, "")
        frame = OutFrame(encode(Restricted(code=event.code, message=message, until=until)))
        for viewer in [v for v in self.viewers if v.member_id == event.member_id]:
            viewer.restriction = Restriction(event.code, message, event.until) if event.code else None
            viewer.checked_at = time.monotonic()
            if not viewer.sink.write(frame):
                self.remove(viewer)
        self.notify_moderators(ModNotice(kind="restricted", member_id=event.member_id))

    def on_notice(self, kind: str) -> None:
        if kind == "words":
            self.words_at = -1e9  # re-read the rules before the next comment
        self.notify_moderators(ModNotice(kind=kind))

    def on_visibility(self, position: int, hidden: bool) -> None:
        if hidden:
            self.hidden.add(position)
            self.broadcast(OutFrame(encode(Visibility(position=position, hidden=True))))
            if self.controls.picked_position == position:
                self.refresh_controls()  # a hidden question is no longer shown as picked
        else:
            self.hidden.discard(position)
            # Moderators have it (marked); viewers need the comment back: read it, then send.
            self.hub.loop.create_task(self._restore(position), name=f"room-{self.id}-restore")
        self.notify_moderators(ModNotice(kind="audit"))

    async def _restore(self, position: int) -> None:
        try:
            async with self.hub.db.session() as db:
                item = await service.comment_at(db, self.id, position, visible_only=True)
        except Exception:
            log.exception("room %s: reading restored comment %s failed", self.id, position)
            return
        if item is None or position in self.hidden or position > self.public_flushed:
            return  # hidden again meanwhile, or not delivered yet (it goes out with its frame)
        self.broadcast(
            OutFrame(encode(Visibility(position=position, hidden=False, item=msgspec.Raw(item)))), moderators=False
        )
        self.broadcast(OutFrame(encode(Visibility(position=position, hidden=False))), moderators=True)
        if self.controls.picked_position is None:
            self.refresh_controls()

    def refresh_controls(self) -> None:
        """Re-read the switches (and the picked question) and tell every viewer; coalesced."""
        if self._controls_task is not None:
            self._controls_again = True
            return
        self._controls_task = self.hub.loop.create_task(self._read_controls(), name=f"room-{self.id}-controls")

    async def _read_controls(self) -> None:
        try:
            while True:
                self._controls_again = False
                async with self.hub.db.session() as db:
                    controls = await service.room_controls(db, self.id)
                if not self._controls_again:
                    break
            if controls != self.controls:
                self.controls = controls
                self.broadcast(OutFrame(encode(controls)))
                if not controls.delay_seconds and self.delayed:
                    self._send_delayed(force=True)
        except Exception:
            log.exception("room %s: reading room controls failed", self.id)
        finally:
            self._controls_task = None
