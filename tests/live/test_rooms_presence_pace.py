"""Viewer-count and reaction frames are paced by the room's size (live/rooms/presence.py)."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest

from live.rooms.hub import TICK
from live.rooms.presence import MAX_UPDATE_PAUSE, RoomPresence, update_pause
from live.rooms.protocol import BusReactions
from live.rooms.viewers import Viewer


class Recorder:
    """A sink that keeps the kinds of the frames written to it."""

    def __init__(self) -> None:
        self.kinds: list[str] = []

    def write(self, frame: Any) -> bool:
        self.kinds.append(msgspec.json.decode(frame.payload)["type"])
        return True


def room_of(viewers: int) -> tuple[RoomPresence, list[Recorder]]:
    room = RoomPresence(SimpleNamespace(node="n1"), 1)
    sinks = [Recorder() for _ in range(viewers)]
    for i, sink in enumerate(sinks):
        room.add(Viewer(sink, i))  # type: ignore[arg-type]
    return room, sinks


def test_small_rooms_hear_every_tick_and_large_rooms_at_a_bounded_rate() -> None:
    assert update_pause(10) <= 0.01
    assert update_pause(2_000) == pytest.approx(2.0)
    assert update_pause(1_000_000) == MAX_UPDATE_PAUSE


def test_a_small_room_gets_each_changed_count_on_the_next_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    room, sinks = room_of(3)
    room._tell_viewers(room.viewer_count())
    room.add(Viewer(Recorder(), 99))  # type: ignore[arg-type]
    clock[0] += TICK
    room._tell_viewers(room.viewer_count())
    assert sinks[0].kinds == ["presence", "presence"]


def test_a_large_room_gets_one_count_per_pause_then_the_latest(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    room, sinks = room_of(2000)  # a 2 s pause
    room._tell_viewers(room.viewer_count())
    room.on_reactions(BusReactions({"clap": 3}))
    room.remove(next(iter(room.viewers)))
    clock[0] += 1.0
    room._tell_viewers(room.viewer_count())
    watcher = next(iter(room.viewers)).sink
    assert watcher.kinds == ["presence"]  # type: ignore[attr-defined]
    clock[0] += 1.5
    room._tell_viewers(room.viewer_count())
    assert watcher.kinds == ["presence", "reactions", "presence"]  # type: ignore[attr-defined]
    assert room.sent_viewers == 1999
    assert sum(len(s.kinds) for s in sinks) < 3 * len(sinks)


def test_nothing_is_written_when_nothing_changed() -> None:
    room, sinks = room_of(2)
    room._tell_viewers(room.viewer_count())
    room.next_update = time.monotonic() - 1
    room._tell_viewers(room.viewer_count())
    assert sinks[0].kinds == ["presence"]
