"""Fan-out of a room's comments: positions accepted in order, coalesced, flushed as one frame.

`last` is the highest position accepted into the room (gapless: `live.rooms.stream` decides
what is accepted), `flushed` the highest written to viewers. Coalescing adapts to load: in a
quiet room (comments a window or more apart, and so on average) a comment goes out on the
loop's next turn; otherwise it opens the window, and the comments accepted within it go out
as one `comments` frame, encoded once and written to every viewer synchronously (`deliver`).
The average keeps a busy room on the fixed window when the loop lags and leaves a gap, and a
large audience stays on it unless comments are rare (`IMMEDIATE_WRITES_PER_S`). A very large
audience widens the window (`busy_window`): every frame is one write per viewer, so a room of
10,000 at 100 comments/s would write 250,000 frames a second on a 40 ms window and 100,000 on
a 100 ms one, still well inside the 250 ms a comment may take to reach everyone.
Joins wait here until what they resume from has gone out.
"""

from __future__ import annotations

import asyncio
import time

import msgspec

from live.rooms import metrics
from live.rooms.protocol import Comments, encode
from live.rooms.room_moderation import RoomModeration
from live.rooms.transport import OutFrame
from live.rooms.viewers import RoomHost

WINDOW = 0.04  # coalescing window (seconds), opened only when the room is busy
#: Viewer writes per second a room may spend on one frame per comment. Above it (2,000 viewers
#: at more than 10 comments/s, say) per-comment frames would take the CPU the writers need to
#: commit: the comments then come slower, look quiet, and the room spirals. Measured in
#: `chonai bench fanout`: without this bound 2,000 x 50/s collapsed on a loaded machine.
IMMEDIATE_WRITES_PER_S = 20_000
#: Viewer writes per second a busy room spends on comment frames before its window widens
#: (up to MAX_WINDOW): 4,000 viewers and fewer keep WINDOW.
BUSY_WRITES_PER_S = 100_000
MAX_WINDOW = 0.1


def busy_window(window: float, viewers: int) -> float:
    """The coalescing window of a busy room of `viewers` (seconds)."""
    return max(window, min(MAX_WINDOW, viewers / BUSY_WRITES_PER_S))


class RoomFanout(RoomModeration):
    """The batch of the current window and the positions written so far."""

    __slots__ = (
        "_flush_handle",
        "_waiters",
        "accepted_at",
        "average_gap",
        "batch",
        "batch_committed",
        "flushed",
        "last",
    )

    def __init__(self, hub: RoomHost, broadcast_id: int) -> None:
        super().__init__(hub, broadcast_id)
        self.last = 0
        self.flushed = 0
        self.batch: list[msgspec.Raw] = []
        self.batch_committed: list[float] = []  # commit times of the batch (latency histogram)
        self.accepted_at = -1e9  # loop time of the previous comment
        # Seconds between comments, a moving average (a gap counts as at most ten windows).
        self.average_gap = 10 * hub.window
        self._flush_handle: asyncio.Handle | None = None
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def _accept(self, position: int, item: msgspec.Raw, committed: float | None) -> None:
        """Take `position` (always `last + 1`) into the batch, and say when the batch goes out."""
        self.last = position
        self.batch.append(item)
        if committed is not None:
            self.batch_committed.append(committed)
        loop = self.hub.loop
        now = loop.time()
        window = self.hub.window
        gap, self.accepted_at = min(now - self.accepted_at, 10 * window), now
        # Slow to follow one long gap (a lagging loop in a busy room), quick after a few.
        self.average_gap += (gap - self.average_gap) * 0.1
        if self._flush_handle is None:  # else the pending flush takes this comment too
            average = self.average_gap
            if gap >= window and average >= window and len(self.viewers) <= IMMEDIATE_WRITES_PER_S * average:
                # No waiting. The next turn still gathers what this turn accepts
                # (a drained gap, several bus messages read at once) into one frame.
                self._flush_handle = loop.call_soon(self.flush)
            else:  # busy: a window from this comment, as many comments as it gathers, one frame
                self._flush_handle = loop.call_later(busy_window(window, len(self.viewers)), self.flush)

    def flush(self) -> None:
        self._flush_handle = None
        if not self.batch:
            return
        items, self.batch = self.batch, []
        committed, self.batch_committed = self.batch_committed, []
        self.deliver(OutFrame(encode(Comments(items))), items, self.last)
        self.flushed = self.last
        metrics.FRAMES.inc()
        metrics.DELIVERIES.inc(len(items) * len(self.viewers))
        now = time.time()
        for t in committed:
            metrics.FANOUT_LATENCY.observe(max(0.0, now - t))
        if self._waiters:
            still = []
            for position, future in self._waiters:
                if position <= self.flushed:
                    if not future.done():
                        future.set_result(None)
                else:
                    still.append((position, future))
            self._waiters = still

    async def wait_flushed(self, position: int, within: float) -> bool:
        """True once `position` has been written to viewers, False after `within` seconds."""
        if position <= self.flushed:
            return True
        future: asyncio.Future[None] = self.hub.loop.create_future()
        self._waiters.append((position, future))
        try:
            await asyncio.wait_for(future, within)
        except TimeoutError:
            return False
        return True

    def cancel_timers(self) -> None:
        """The hub is closing: no flush or delayed frame may fire afterwards."""
        for handle in (self._flush_handle, self._delay_handle):
            if handle is not None:
                handle.cancel()
        if self._controls_task is not None:
            self._controls_task.cancel()
