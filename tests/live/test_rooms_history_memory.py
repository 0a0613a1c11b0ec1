"""History from the room's memory is exactly what the database gives (both databases).

A join or resume inside the room's recent window reads no database; before it, the database
answers. Both give the same frames: no gap, no duplicate, hidden comments left out for
viewers and kept (marked) for moderators. The window is bounded and viewers leave nothing behind.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import pytest

from core.db import Database
from live.rooms import posting, service, stream
from live.rooms.hub import Hub
from live.rooms.protocol import Limits
from live.rooms.viewers import Viewer
from live.rooms.visits import VisitLog
from live.rooms.writer import publish_comment
from tests.live.rooms_support import make_broadcast, member
from tests.live.test_rooms_hub import RecordingSink


class Reads:
    """Counts the database's history reads (comments_between), passing them through."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[int, int]] = []
        original = service.comments_between

        async def counting(db: Any, broadcast_id: int, after: int, upto: int, **kw: Any) -> Any:
            self.calls.append((after, upto))
            return await original(db, broadcast_id, after, upto, **kw)

        monkeypatch.setattr(service, "comments_between", counting)


async def until(condition: Any, within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 (polling the hub's state, with a deadline)
            await asyncio.sleep(0.01)


async def post(hub: Hub, db: Any, bid: int, author: Any, n: int, start: int = 0) -> None:
    await service.set_limits(db, bid, Limits(max_length=200, rate_count=10_000, rate_seconds=1))
    for i in range(n):
        await publish_comment(hub.bus, bid, await posting.post_comment(db, bid, author, f"c{start + i}", None))


async def history_of(hub: Hub, room: Any, after: int | None, moderator: bool) -> list[dict]:
    sink = RecordingSink()
    viewer = Viewer(sink, 1, moderator=moderator)
    await hub.join(viewer, room, 1, after)
    room.remove(viewer)
    return [m for m in sink.messages if m["type"] == "history"]


async def hide(db: Any, room: Any, bid: int, position: int, actor: Any) -> None:
    await service.set_hidden(db, bid, position, actor, True, "test")
    room.on_visibility(position, True)  # what the broadcast channel's CommentVisibility does


async def test_joins_from_memory_give_the_databases_frames(hub, db, demo, monkeypatch):
    bid = await make_broadcast(db)
    author, host = await member(db, "member@example.jp"), await member(db, "operator@example.jp")
    await post(hub, db, bid, author, 3)  # before the room exists here: read with its state
    room = await hub.room(bid)
    assert room is not None and len(room.recent) == 3
    await post(hub, db, bid, author, 67, start=3)
    await until(lambda: room.flushed == 70)
    for position in (12, 60, 70):
        await hide(db, room, bid, position, host)
    cases = [(after, mod) for after in (None, 0, 2, 11, 12, 45, 69, 70) for mod in (False, True)]
    reads = Reads(monkeypatch)
    from_memory = [await history_of(hub, room, after, mod) for after, mod in cases]
    assert reads.calls == []  # inside the window: no database
    room.recent.clear()  # the same joins from the database
    from_database = [await history_of(hub, room, after, mod) for after, mod in cases]
    assert len(reads.calls) == len(cases) - 2  # all but the two empty resumes from 70
    assert from_memory == from_database
    positions = {c: [i["position"] for f in frames for i in f["items"]] for c, frames in zip(cases, from_memory)}
    assert positions[(None, False)] == [p for p in range(21, 71) if p not in (60, 70)]
    assert positions[(None, True)] == list(range(21, 71))
    assert positions[(11, False)] == [p for p in range(12, 71) if p not in (12, 60, 70)]
    assert positions[(69, True)] == [70] and positions[(69, False)] == [] and positions[(70, True)] == []


async def test_resume_across_the_windows_edge(hub, db, demo, monkeypatch):
    monkeypatch.setattr(stream, "RECENT", 20)
    bid = await make_broadcast(db)
    author = await member(db, "member@example.jp")
    room = await hub.room(bid)
    assert room is not None
    room.recent = type(room.recent)(maxlen=20)
    await post(hub, db, bid, author, 30)
    await until(lambda: room.flushed == 30)
    assert len(room.recent) == 20  # bounded: positions 11..30
    reads = Reads(monkeypatch)
    for after, source in [(9, "database"), (10, "memory"), (25, "memory"), (5, "database")]:
        reads.calls.clear()
        frames = await history_of(hub, room, after, False)
        got = [i["position"] for f in frames for i in f["items"]]
        assert got == list(range(after + 1, 31)), after
        assert frames[-1]["last_position"] == 30 and frames[-1]["resumed"] is True
        assert (reads.calls == []) is (source == "memory"), (after, reads.calls)


async def test_viewers_leave_nothing_behind(hub, db, demo):
    bid = await make_broadcast(db)
    room = await hub.room(bid)
    assert room is not None
    viewers = [Viewer(RecordingSink(), i) for i in range(50)]
    for viewer in viewers:
        await hub.join(viewer, room, viewer.member_id, None)
    assert len(room.viewers) == 50
    refs = [weakref.ref(v.sink) for v in viewers]  # a viewer's buffers hang off its sink
    for viewer in viewers:
        room.remove(viewer)
    del viewers, viewer
    gc.collect()
    assert [r for r in refs if r() is not None] == [] and room.viewers == set()


async def test_visits_are_one_statement_per_batch_and_none_is_lost(settings, db, demo):
    bid, other = await make_broadcast(db), await make_broadcast(db)
    ids = [(await member(db, e)).id for e in ("member@example.jp", "fukuoka@example.jp", "naha@example.jp")]
    database = Database(settings.database_url)
    visits = VisitLog(database, asyncio.get_running_loop())
    try:
        for _ in range(100):  # a storm of the same three members reconnecting
            for member_id in ids:
                visits.add(bid, member_id)
        visits.add(other, ids[0])
        await until(lambda: visits.statements == 1 and not visits.pending)
        assert sorted(await _visits(db)) == sorted([(bid, m) for m in ids] + [(other, ids[0])])
        visits.add(bid, ids[0])  # written already: nothing to do
        assert visits.pending == {}
        visits.forget(bid)
        visits.add(bid, ids[1])  # the room came back: written again, harmlessly
        await visits.close()  # closing writes what is left without waiting for the timer
        assert visits.statements == 2 and visits.pending == {}
        assert len(await _visits(db)) == 4
    finally:
        await visits.close()
        await database.dispose()


async def _visits(db: Any) -> list[tuple[int, int]]:
    from sqlalchemy import select

    from live.rooms.models import RoomVisit

    rows = (
        await db.execute(select(RoomVisit.broadcast_id, RoomVisit.member_id).where(RoomVisit.broadcast_id > 1000))
    ).all()
    await db.commit()
    return [(int(b), int(m)) for b, m in rows]
