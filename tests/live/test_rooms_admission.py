"""A room's shared access read: one read for many joins, the same answers as one member's read, dropped on change."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from core.db import Database, utcnow
from core.members.models import Role
from live.models import ProgramModerator
from live.moderation import gate, sanctions
from live.moderation.models import RoomControls, Sanction, SanctionKind, SanctionScope
from live.rooms.admission import AdmissionCache
from tests.factories import live_show, new_member

pytestmark = pytest.mark.usefixtures("demo")


@pytest.fixture
async def cache(settings: Any) -> Any:
    database = Database(settings.database_url)
    yield lambda broadcast_id: AdmissionCache(database, broadcast_id)
    await database.dispose()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = sanctions.restrictions_in_room

    async def counting(db: Any, broadcast_id: int, program_id: int | None) -> Any:
        calls.append(broadcast_id)
        return await original(db, broadcast_id, program_id)

    monkeypatch.setattr(sanctions, "restrictions_in_room", counting)
    return calls


async def people(db: Any, show: Any) -> dict[str, Any]:
    names = ("banned", "timed_out", "program_banned", "clean", "named", "site_moderator")
    found = {n: new_member(f"adm-{n}-{show.id}@example.jp", n) for n in names}
    found["site_moderator"].role = Role.MODERATOR
    db.add_all(found.values())
    await db.flush()
    later = utcnow() + dt.timedelta(hours=1)
    site, program = SanctionScope.SITE, SanctionScope.PROGRAM
    db.add_all(
        [
            Sanction(member_id=found["banned"].id, kind=SanctionKind.BAN, scope=site),
            Sanction(member_id=found["timed_out"].id, kind=SanctionKind.TIMEOUT, scope=site, until=later),
            Sanction(
                member_id=found["program_banned"].id, kind=SanctionKind.BAN, scope=program, program_id=show.program_id
            ),
            # lifted or expired: neither restricts here
            Sanction(member_id=found["clean"].id, kind=SanctionKind.BAN, scope=site, lifted_at=utcnow()),
            Sanction(member_id=found["clean"].id, kind=SanctionKind.TIMEOUT, scope=site, until=utcnow()),
            ProgramModerator(program_id=show.program_id, member_id=found["named"].id),
        ]
    )
    await db.commit()
    return found


async def test_one_read_answers_every_join_as_each_members_own_read_would(db, cache, reads) -> None:
    show = await live_show(db)
    who = await people(db, show)
    room = cache(show.id)
    answers = await asyncio.gather(*(room.get() for _ in range(50)))
    assert reads == [show.id] and all(a is answers[0] for a in answers)
    admission = answers[0]
    for member in who.values():
        own = await sanctions.restriction_of(db, member.id, show.id, show.program_id)
        assert admission.restriction(member.id) == own, member.name
    assert {n for n, m in who.items() if admission.restriction(m.id)} == {"banned", "timed_out", "program_banned"}
    assert admission.restriction(who["banned"].id).message == "すべての放送でのコメントが禁止されています。"
    assert {n for n, m in who.items() if admission.moderates(m)} == {"named", "site_moderator"}
    host = await db.get(type(who["clean"]), show.personality_id)
    assert admission.moderates(host)


async def test_a_change_drops_it_and_a_read_overlapping_a_change_is_read_again(db, cache, reads, monkeypatch) -> None:
    show = await live_show(db)
    who = await people(db, show)
    room = cache(show.id)
    assert (await room.get()).restriction(who["clean"].id) is None
    db.add(RoomControls(broadcast_id=show.id, comments_off=True))
    await db.commit()
    assert (await room.get()).restriction(who["clean"].id) is None  # trusted until told or stale
    room.forget()  # what ControlsChanged does
    assert (await room.get()).restriction(who["clean"].id).code == "comments_off"
    assert len(reads) == 2

    counting = sanctions.restrictions_in_room  # the fixture's: it appends to `reads`

    async def changed_meanwhile(db: Any, broadcast_id: int, program_id: int | None) -> Any:
        if len(reads) == 2:
            room.forget()  # an event arrives while the first read is under way
        return await counting(db, broadcast_id, program_id)

    room.forget()
    monkeypatch.setattr(sanctions, "restrictions_in_room", changed_meanwhile)
    await room.get()
    assert len(reads) == 4  # the overlapped read was not used
    await room.get()
    assert len(reads) == 4
    monkeypatch.setattr(gate, "RESTRICTION_TTL", 0.0)
    await room.get()
    assert len(reads) == 5  # stale: read again


async def test_a_failed_read_reaches_the_joiners_and_the_next_join_reads_again(db, cache, monkeypatch) -> None:
    show = await live_show(db)
    room = cache(show.id)

    async def down(*_: Any) -> Any:
        raise ConnectionError("database restarting")

    monkeypatch.setattr(sanctions, "restrictions_in_room", down)
    results = await asyncio.gather(room.get(), room.get(), return_exceptions=True)
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]
    monkeypatch.undo()
    assert (await room.get()) is not None
    assert await cache(2**31 - 1).get() is None  # no such broadcast
