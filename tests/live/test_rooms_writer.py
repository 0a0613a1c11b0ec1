"""Group commit (live/rooms/writer.py, live/rooms/posting.py) on both databases: every comment of a
batch gets its own answer, positions stay unique and consecutive, nothing is acknowledged that is
not stored."""

from __future__ import annotations

import asyncio
import dataclasses

import msgspec
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core.db import Database
from core.events import InProcessBus
from live.errors import RoomError
from live.moderation.models import RoomControls
from live.rooms import posting, service
from live.rooms.hub import Hub
from live.rooms.models import RoomComment
from live.rooms.protocol import BusComment, Limits, bus_decoder, room_channel
from live.rooms.writer import WriteFailed
from tests.live.rooms_support import make_broadcast, member

EMAILS = ["member@example.jp", "fukuoka@example.jp", "naha@example.jp", "kochi@example.jp", "mhlw@example.jp"]


@pytest.fixture
def batches(monkeypatch) -> list[int]:
    """The size of every batch the writers store (the real write_batch runs)."""
    sizes: list[int] = []
    real = posting.write_batch

    async def recording(db: AsyncSession, broadcast_id: int, drafts: list[posting.Draft], run=None):
        sizes.append(len(drafts))
        return await real(db, broadcast_id, drafts, run)

    monkeypatch.setattr("live.rooms.writer.write_batch", recording)
    return sizes


def published(hub: Hub, broadcast_id: int) -> list[int]:
    """Positions in the order the bus got them."""
    order: list[int] = []

    def on_bus(_channel: str, data: bytes) -> None:
        message = bus_decoder.decode(data)
        if isinstance(message, BusComment):
            order.append(message.position)

    hub.bus.add(room_channel(broadcast_id), on_bus)
    return order


async def stored(db, broadcast_id: int) -> list[tuple[int, int, str]]:
    rows = await db.execute(
        select(RoomComment.position, RoomComment.member_id, RoomComment.text)
        .where(RoomComment.broadcast_id == broadcast_id)
        .order_by(RoomComment.position)
    )
    result = [tuple(r) for r in rows]
    await db.commit()
    return result  # type: ignore[return-value]


async def outcome(coroutine) -> int | str:
    """A post's answer: its position, or the code it was refused with."""
    try:
        return (await coroutine).position
    except RoomError as exc:
        return exc.code
    except WriteFailed:
        return "unavailable"


async def test_concurrent_posters_get_one_ack_each_consecutive_and_in_their_order(hub, db, demo, batches):
    bid = await make_broadcast(db)
    await service.set_limits(db, bid, Limits(max_length=200, rate_count=1000, rate_seconds=30))
    authors = [await member(db, e) for e in EMAILS]
    room = await hub.room(bid)
    assert room is not None
    order = published(hub, bid)

    async def poster(author, n: int) -> list[int]:
        # One socket: each comment after the previous one's ack, as Connection.run does.
        return [
            (await room.writer.post(posting.draft(author, f"{author.id}:{k}", f"r{author.id}-{k}"))).position
            for k in range(n)
        ]

    acks = await asyncio.gather(*(poster(a, 8) for a in authors))
    positions = sorted(p for mine in acks for p in mine)
    assert positions == list(range(1, 41))  # every comment once, no gap, no duplicate
    assert all(mine == sorted(mine) for mine in acks)  # each sender's order kept
    assert max(batches) == len(authors) and sum(batches) == 40  # grouped: one comment per sender per batch
    rows = await stored(db, bid)
    assert [p for p, _, _ in rows] == list(range(1, 41))
    for author, mine in zip(authors, acks, strict=True):
        assert [t for p, m, t in rows if m == author.id] == [f"{author.id}:{k}" for k in range(8)]
        assert [p for p, m, _ in rows if m == author.id] == mine
    assert order == list(range(1, 41))  # published in position order
    info = await service.room_info(db, bid)
    assert info is not None and info.last_position == 40


async def test_a_refused_comment_does_not_touch_the_rest_of_its_batch(hub, db, demo, batches):
    bid = await make_broadcast(db)
    await service.set_limits(db, bid, Limits(max_length=20, rate_count=2, rate_seconds=30))
    db.add(RoomControls(broadcast_id=bid, slow_mode_seconds=60))
    await db.commit()
    a, b, c, d = [await member(db, e) for e in EMAILS[:4]]
    room = await hub.room(bid)
    assert room is not None
    drafts = [
        posting.draft(a, "一件目", "a1"),
        posting.draft(b, "長" * 21, "b1"),  # too long
        posting.draft(a, "スローモード中の二件目", "a2"),  # slow mode: a posted just now, in this batch
        posting.draft(c, "司会なので二件", "c1", moderator=True),
        posting.draft(c, "司会の二件目", "c2", moderator=True),  # exempt from slow mode ...
        posting.draft(c, "司会の三件目", "c3", moderator=True),  # ... not from the rate limit (2 / 30 s)
        posting.draft(d, "最後", "d1"),
    ]
    answers = await asyncio.gather(*(outcome(room.writer.post(x)) for x in drafts))
    assert batches == [7]
    assert answers == [1, "too_long", "slow_mode", 2, 3, "rate_limited", 4]
    assert [(p, t) for p, _, t in await stored(db, bid)] == [
        (1, "一件目"),
        (2, "司会なので二件"),
        (3, "司会の二件目"),
        (4, "最後"),
    ]
    info = await service.room_info(db, bid)
    assert info is not None and info.last_position == 4  # refusals use no position


async def test_each_refusal_carries_its_own_wait(hub, db, demo):
    bid = await make_broadcast(db)
    await service.set_limits(db, bid, Limits(max_length=200, rate_count=1, rate_seconds=30))
    a = await member(db, EMAILS[0])
    room = await hub.room(bid)
    assert room is not None
    first, second = await asyncio.gather(
        room.writer.post(posting.draft(a, "一", "x1")),
        room.writer.post(posting.draft(a, "二", "x2")),
        return_exceptions=True,
    )
    assert not isinstance(first, BaseException) and first.position == 1
    assert isinstance(second, RoomError) and second.code == "rate_limited"
    assert second.retry_after == 30.0 and "30秒に1件まで" in second.message


async def test_duplicate_refs_in_one_batch_and_across_batches_are_stored_once(hub, db, demo, batches):
    bid = await make_broadcast(db)
    a, b = [await member(db, e) for e in EMAILS[:2]]
    room = await hub.room(bid)
    assert room is not None
    earlier = await room.writer.post(posting.draft(a, "前に届いた", "old"))
    assert earlier.position == 1
    order = published(hub, bid)
    drafts = [
        posting.draft(a, "一度だけ", "same"),
        posting.draft(a, "一度だけ", "same"),  # a resend while the first still waits: same batch
        posting.draft(b, "別の人の同じref", "same"),  # refs are per member
        posting.draft(a, "前に届いた", "old"),  # its ack was lost: resent into a later batch
    ]
    answers = await asyncio.gather(*(room.writer.post(x) for x in drafts))
    assert batches == [1, 4]
    assert [(x.position, x.duplicate) for x in answers] == [(2, False), (2, True), (3, False), (1, True)]
    assert answers[1].item == answers[0].item and answers[3].item == earlier.item
    assert [(p, t) for p, _, t in await stored(db, bid)] == [(1, "前に届いた"), (2, "一度だけ"), (3, "別の人の同じref")]
    assert order == [2, 3]  # a resend is acknowledged, never published again


async def test_a_failed_batch_acknowledges_nothing_and_each_sender_hears_unavailable(hub, db, demo, monkeypatch):
    bid = await make_broadcast(db)
    authors = [await member(db, e) for e in EMAILS]
    room = await hub.room(bid)
    assert room is not None
    order = published(hub, bid)
    real_commit = Session.commit
    failing = {"on": False}

    def commit(self: Session) -> None:
        # Fails the batch's COMMIT itself: the INSERT ran, so a half-done batch would show.
        if failing["on"]:
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))
        real_commit(self)

    monkeypatch.setattr(Session, "commit", commit)
    failing["on"] = True  # only the writers commit until it is off again
    answers = await asyncio.gather(
        *(outcome(room.writer.post(posting.draft(a, "消えるはず", f"f{a.id}"))) for a in authors)
    )
    failing["on"] = False
    assert answers == ["unavailable"] * len(authors)
    assert await stored(db, bid) == [] and order == []
    info = await service.room_info(db, bid)
    assert info is not None and info.last_position == 0  # the reservation was rolled back
    # The clients resend with their refs: stored once, positions from 1.
    again = await asyncio.gather(*(room.writer.post(posting.draft(a, "消えるはず", f"f{a.id}")) for a in authors))
    assert sorted(x.position for x in again) == list(range(1, len(authors) + 1))
    assert order == list(range(1, len(authors) + 1))


async def test_writers_of_several_processes_share_one_gapless_sequence(settings, db, demo):
    """Two hubs with their own engines (two server processes) post into one room at once."""
    bid = await make_broadcast(db)
    await service.set_limits(db, bid, Limits(max_length=200, rate_count=1000, rate_seconds=30))
    authors = [await member(db, e) for e in EMAILS]
    databases = [Database(settings.database_url) for _ in range(2)]
    hubs = [Hub(d, InProcessBus(), window=0.01) for d in databases]
    try:
        rooms = [await h.room(bid) for h in hubs]

        async def poster(i: int, author) -> list[int]:
            room = rooms[i % 2]
            assert room is not None
            return [
                (await room.writer.post(posting.draft(author, f"p{i}-{k}", f"p{i}-{k}"))).position for k in range(6)
            ]

        acks = await asyncio.gather(*(poster(i, a) for i, a in enumerate(authors * 2)))
    finally:
        for h in hubs:
            await h.close()
        for d in databases:
            await d.dispose()
    assert sorted(p for mine in acks for p in mine) == list(range(1, 61))
    assert all(mine == sorted(mine) for mine in acks)
    assert [p for p, _, _ in await stored(db, bid)] == list(range(1, 61))


async def test_post_comment_is_a_batch_of_one(db, demo):
    bid = await make_broadcast(db)
    author = await member(db, EMAILS[0])
    posted = await posting.post_comment(db, bid, author, "単独", "solo", question=True)
    item = msgspec.json.decode(posted.item)
    assert (posted.position, posted.duplicate, item["text"], item["question"]) == (1, False, "単独", True)
    count = await db.scalar(select(func.count()).select_from(RoomComment).where(RoomComment.broadcast_id == bid))
    assert count == 1


# --- PostgreSQL's one-statement write: what happens between its reads and the room's lock --------


def postgres_only(db) -> None:
    if db.bind.dialect.name != "postgresql":
        pytest.skip("the reads-then-one-statement write is PostgreSQL's (SQLite locks first)")


async def test_a_broadcast_ending_between_the_reads_and_the_lock_stores_nothing(hub, db, demo, monkeypatch):
    postgres_only(db)
    from live.models import Broadcast, BroadcastState
    from live.rooms import drafts

    bid = await make_broadcast(db)
    author = await member(db, EMAILS[0])
    room = await hub.room(bid)
    assert room is not None
    assert (await room.writer.post(posting.draft(author, "開始直後", "a0"))).position == 1
    # Another process ends the broadcast right after this writer read it as live.
    await db.execute(update(Broadcast).where(Broadcast.id == bid).values(state=BroadcastState.ENDED))
    await db.commit()
    real, calls = drafts.read_rules, []

    def read_then_end(connection, broadcast_id):
        rules = real(connection, broadcast_id)
        calls.append(rules.state)
        return rules if len(calls) > 1 else dataclasses.replace(rules, state=BroadcastState.LIVE)

    monkeypatch.setattr("live.rooms.posting.read_rules", read_then_end)
    assert await outcome(room.writer.post(posting.draft(author, "終了後", "a1"))) == "room_closed"
    assert calls == [BroadcastState.ENDED, BroadcastState.ENDED]  # read as live, then the locked path's truth
    assert [p for p, _, _ in await stored(db, bid)] == [1]
    info = await service.room_info(db, bid)
    assert info is not None and info.last_position == 1  # no position taken


async def test_a_resend_racing_its_original_fails_its_batch_then_is_acknowledged_once(hub, db, demo, monkeypatch):
    postgres_only(db)
    bid = await make_broadcast(db)
    a, b = [await member(db, e) for e in EMAILS[:2]]
    room = await hub.room(bid)
    assert room is not None
    first = await room.writer.post(posting.draft(a, "元の投稿", "same"))
    # As if the original committed (through another process) after this batch looked for it.
    monkeypatch.setattr("live.rooms.posting.stored_refs", lambda *_: {})
    answers = await asyncio.gather(
        outcome(room.writer.post(posting.draft(a, "元の投稿", "same"))),
        outcome(room.writer.post(posting.draft(b, "同じ便の別の人", "other"))),
    )
    assert answers == ["unavailable", "unavailable"]  # the unique (member, ref) key refused the batch
    assert [p for p, _, _ in await stored(db, bid)] == [1]
    monkeypatch.undo()
    again = await room.writer.post(posting.draft(a, "元の投稿", "same"))
    other = await room.writer.post(posting.draft(b, "同じ便の別の人", "other"))
    assert (again.position, again.duplicate) == (first.position, True)
    assert (other.position, other.duplicate) == (2, False)
