"""A viewer back within seconds takes its access check over; anything that changes it forces a read.

Joins that have no memo take the room's shared read (live.rooms.admission), counted as "room".
"""

from __future__ import annotations

from typing import Any

import pytest

from live.moderation import gate, sanctions
from live.rooms import rejoin
from tests.factories import member_id
from tests.live.test_moderation_room import api, room, tokens
from tests.live.test_rooms_socket import bearer, connect, join

__all__ = ["room", "tokens"]  # fixtures


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int | str]:
    """Restriction reads from the database: a member id for one member's, "room" for the room's shared read."""
    calls: list[int | str] = []
    one, everyone = sanctions.restriction_of, sanctions.restrictions_in_room

    async def counting_one(db: Any, member: int, *args: Any, **kwargs: Any) -> Any:
        calls.append(member)
        return await one(db, member, *args, **kwargs)

    async def counting_room(db: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append("room")
        return await everyone(db, *args, **kwargs)

    monkeypatch.setattr(sanctions, "restriction_of", counting_one)
    monkeypatch.setattr(sanctions, "restrictions_in_room", counting_room)
    return calls


async def rejoin_welcome(client: Any, token: str, room: int) -> dict:
    async with connect(client, "/ws/rooms", headers=bearer(token)) as ws:
        welcome, _ = join(ws, room)
        return welcome


async def test_a_quick_rejoin_reads_nothing_and_a_restriction_meanwhile_is_read(client, db, room, tokens, reads):
    viewer = await member_id(db, "member@example.jp")
    first = await rejoin_welcome(client, tokens["member"], room)
    again = await rejoin_welcome(client, tokens["member"], room)
    assert reads == ["room"]  # the second join took the first one's check over
    assert {**first, "viewers": 0} == {**again, "viewers": 0}
    ok = await api(client, tokens["host"], room, "/timeout", {"member_id": viewer, "seconds": 600})
    assert ok.status_code == 200
    timed_out = await rejoin_welcome(client, tokens["member"], room)
    assert reads == ["room", "room"] and timed_out["restriction"]["code"] == "timed_out"
    # The memo carries the restriction (kept current by events) and its age, not a fresh one.
    kept = await rejoin_welcome(client, tokens["member"], room)
    assert reads == ["room", "room"] and kept["restriction"] == timed_out["restriction"]


async def test_switches_moderators_and_time_force_a_read(client, db, room, tokens, reads, monkeypatch):
    await rejoin_welcome(client, tokens["member"], room)
    locked = await api(client, tokens["host"], room, "/controls", {"locked": True})
    assert locked.status_code == 200, locked.text
    await rejoin_welcome(client, tokens["member"], room)
    assert reads == ["room", "room"]  # the room's switches changed: read again
    await rejoin_welcome(client, tokens["moderator"], room)
    await rejoin_welcome(client, tokens["moderator"], room)
    assert reads == ["room", "room"]  # moderators decide by role: no restriction read, never a memo
    monkeypatch.setattr(rejoin, "GRACE", 0.0)
    await rejoin_welcome(client, tokens["member"], room)
    assert reads == ["room", "room"]  # past the grace: the room's shared read, still fresh
    monkeypatch.setattr(gate, "RESTRICTION_TTL", 0.0)
    await rejoin_welcome(client, tokens["member"], room)
    assert reads == ["room", "room", "room"]  # and past its time: read again
