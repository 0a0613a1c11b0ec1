"""A resend of a comment that is already stored is acknowledged, even when a new comment would be refused.

The ack of a stored comment can be lost (connection cut, process killed); the client resends
it with the same ref. If by then the member is at the rate limit, or the broadcast has
ended, refusing the resend would tell the member their comment was not posted while
everyone else sees it.
"""

from __future__ import annotations

from live.models import BroadcastState
from live.rooms import posting, service
from live.rooms.protocol import Limits
from tests.live.rooms_support import make_broadcast, member, set_state


async def test_resend_at_the_rate_limit_and_after_the_end_is_acknowledged(db, demo):
    bid = await make_broadcast(db)
    await service.set_limits(db, bid, Limits(max_length=200, rate_count=2, rate_seconds=30))
    author = await member(db, "member@example.jp")
    first = await posting.post_comment(db, bid, author, "一件目", "r1")
    second = await posting.post_comment(db, bid, author, "二件目", "r2")
    # At the limit: a new comment is refused, the resend of a stored one is acknowledged as before.
    try:
        await posting.post_comment(db, bid, author, "三件目", "r3")
        raise AssertionError("not rate limited")
    except service.RoomError as exc:
        assert exc.code == "rate_limited"
    again = await posting.post_comment(db, bid, author, "二件目", "r2")
    assert (again.position, again.duplicate) == (second.position, True)
    # The broadcast ended: the same holds.
    await set_state(db, bid, BroadcastState.ENDED)
    late = await posting.post_comment(db, bid, author, "一件目", "r1")
    assert (late.position, late.duplicate) == (first.position, True)
    try:
        await posting.post_comment(db, bid, author, "終了後", "r4")
        raise AssertionError("not refused")
    except service.RoomError as exc:
        assert exc.code == "room_closed"
    assert [p for p, _ in await service.comments_between(db, bid, 0, 10)] == [1, 2]
