"""Comment storage: gapless positions under concurrency, validation, limits, idempotent resends."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from core.db import Database
from live.models import BroadcastState
from live.rooms import posting, service
from live.rooms.protocol import CommentItem, Limits
from tests.live.rooms_support import make_broadcast, member, set_state


async def test_positions_are_gapless_and_unique_under_concurrent_writers(db, demo, settings):
    bid = await make_broadcast(db)
    author = await member(db, "member@example.jp")
    other = await member(db, "fukuoka@example.jp")
    # Separate engines = separate connections, like separate processes.
    engines = [Database(settings.database_url) for _ in range(3)]

    async def post(i: int) -> int:
        async with engines[i % 3].session() as s:
            who = author if i % 2 else other
            return (await posting.post_comment(s, bid, who, f"コメント{i}", None)).position

    try:
        positions = await asyncio.gather(*(post(i) for i in range(20)))
    finally:
        for e in engines:
            await e.dispose()
    assert sorted(positions) == list(range(1, 21))
    rows = await service.comments_between(db, bid, 0, 100)
    assert [p for p, _ in rows] == list(range(1, 21))
    info = await service.room_info(db, bid)
    assert info is not None and info.last_position == 20


async def test_comment_is_cleaned_and_carries_offset_and_author(db, demo):
    bid = await make_broadcast(db)
    author = await member(db, "member@example.jp")
    posted = await posting.post_comment(db, bid, author, "  カ\u3099ッコ\u0007いい\u202e！\n次  ", "r-1")
    item = msgspec.json.decode(posted.item, type=CommentItem)
    assert item.text == "ガッコいい！ 次"  # NFC, controls and bidi overrides gone, newline to space
    assert item.name == "市民 一郎" and item.organisation == "豊中市 市民協働部 くらし支援課"
    assert 4 * 60_000 < item.offset_ms < 6 * 60_000  # live for about five minutes
    stored = await service.comments_between(db, bid, 0, 10)
    assert stored == [(1, posted.item)]


@pytest.mark.parametrize(
    ("text", "code"),
    [("", "empty_comment"), (" \u200b\u0000 \n", "empty_comment"), ("あ" * 201, "too_long")],
)
async def test_bad_comments_are_refused_without_using_a_position(db, demo, text, code):
    bid = await make_broadcast(db)
    author = await member(db, "member@example.jp")
    with pytest.raises(service.RoomError) as refused:
        await posting.post_comment(db, bid, author, text, None)
    assert refused.value.code == code
    assert refused.value.message  # Japanese, shown as is
    assert (await posting.post_comment(db, bid, author, "あ" * 200, None)).position == 1


async def test_rate_limit_per_member_and_per_room_setting(db, demo):
    bid = await make_broadcast(db)
    author = await member(db, "member@example.jp")
    other = await member(db, "naha@example.jp")
    for i in range(11):
        await posting.post_comment(db, bid, author, f"{i}", None)
    with pytest.raises(service.RoomError) as refused:
        await posting.post_comment(db, bid, author, "12件目", None)
    assert refused.value.code == "rate_limited" and 0 < (refused.value.retry_after or 0) <= 30
    assert (await posting.post_comment(db, bid, other, "別の人", None)).position == 12
    await service.set_limits(db, bid, Limits(max_length=10, rate_count=20, rate_seconds=30))
    assert (await posting.post_comment(db, bid, author, "上限変更後", None)).position == 13
    with pytest.raises(service.RoomError) as too_long:
        await posting.post_comment(db, bid, author, "一二三四五六七八九十一", None)
    assert too_long.value.code == "too_long"


@pytest.mark.parametrize("state", [BroadcastState.SCHEDULED, BroadcastState.ENDED, BroadcastState.CANCELLED])
async def test_comments_only_while_open_or_live(db, demo, state):
    bid = await make_broadcast(db, BroadcastState.OPEN)
    author = await member(db, "member@example.jp")
    assert (await posting.post_comment(db, bid, author, "ロビーから", None)).position == 1
    await set_state(db, bid, state)
    with pytest.raises(service.RoomError) as refused:
        await posting.post_comment(db, bid, author, "閉まった後", None)
    assert refused.value.code == "room_closed"
    await set_state(db, bid, BroadcastState.LIVE)
    assert (await posting.post_comment(db, bid, author, "再開", None)).position == 2


async def test_resend_with_same_ref_is_stored_once(db, demo):
    bid = await make_broadcast(db)
    author = await member(db, "member@example.jp")
    first = await posting.post_comment(db, bid, author, "一度だけ", "same-ref")
    again = await posting.post_comment(db, bid, author, "一度だけ", "same-ref")
    assert (first.position, first.duplicate) == (1, False)
    assert (again.position, again.duplicate) == (1, True)
    assert len(await service.comments_between(db, bid, 0, 10)) == 1
    # The position was given back, not skipped.
    assert (await posting.post_comment(db, bid, author, "次", "other-ref")).position == 2


async def test_unknown_broadcast(db, demo):
    author = await member(db, "member@example.jp")
    with pytest.raises(service.RoomError) as refused:
        await posting.post_comment(db, 987654321, author, "どこ？", None)
    assert refused.value.code == "room_not_found"
    assert await service.room_info(db, 987654321) is None


async def test_reactions_aggregate(db, demo):
    bid = await make_broadcast(db)
    await service.add_reactions(db, bid, {"clap": 3, "idea": 1})
    await service.add_reactions(db, bid, {"clap": 2})
    assert await service.reaction_totals(db, bid) == {"clap": 5, "heart": 0, "laugh": 0, "idea": 1}
