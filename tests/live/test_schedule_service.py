"""Materialising broadcasts, exceptions, transitions, the scheduler and its lease (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from core.db import Database
from core.errors import Forbidden
from live.models import Broadcast, BroadcastState
from live.schedule import exceptions, materialise, service
from live.schedule.inputs import ProgramInput, validate_program
from live.schedule.scheduler import DatabaseLease, RedisLease, Scheduler
from live.schedule.service import ScheduleError
from live.schedule.transitions import TransitionError, transition
from tests.conftest import REDIS_TEST_URL, redis_available, require
from tests.live.schedule_helpers import NOW, RecordingBus, add_exception, jst, make_people, program


@pytest.fixture
async def database(settings):
    database = Database(settings.database_url, pool_size=0)
    yield database
    await database.dispose()


async def broadcasts(db, program_id):
    rows = await db.execute(
        select(Broadcast)
        .where(Broadcast.program_id == program_id)
        .order_by(Broadcast.occurrence_start)
        .execution_options(populate_existing=True)
    )
    return list(rows.unique().scalars())


async def test_materialise_is_idempotent_and_applies_exceptions(db):
    people = await make_people(db)
    bus = RecordingBus()
    p = program(personality_id=people["anna"].id)
    db.add(p)
    await db.commit()
    assert await materialise.materialise_program(db, bus, p.id, NOW) == 4  # 11/27 … 12/18 (30 days)
    assert await materialise.materialise_program(db, bus, p.id, NOW) == 0
    await materialise.materialise(db, bus, NOW)
    rows = await broadcasts(db, p.id)
    assert [b.starts_at for b in rows] == [jst(2026, 11, 27, 21, 0) + dt.timedelta(weeks=i) for i in range(4)]
    assert all(
        b.state is BroadcastState.SCHEDULED and b.opens_at == b.starts_at - dt.timedelta(minutes=10) for b in rows
    )
    assert bus.published == []

    await add_exception(db, bus, p, occurrence="2026-12-04T21:00", kind="cancel", note="点検")
    await add_exception(
        db, bus, p, occurrence="2026-12-11T21:00", kind="substitute", personality_id=str(people["ben"].id)
    )
    await add_exception(db, bus, p, occurrence="2026-12-18T21:00", kind="move", new_start="2026-12-19T10:00")
    rows = {b.occurrence_start: b for b in await broadcasts(db, p.id)}
    cancelled = rows[jst(2026, 12, 4, 21, 0)]
    assert cancelled.state is BroadcastState.CANCELLED and cancelled.note == "中止：点検"
    assert bus.states() == [(cancelled.id, "cancelled")]
    assert bus.states(f"broadcast:{cancelled.id}") == [(cancelled.id, "cancelled")]
    substituted = rows[jst(2026, 12, 11, 21, 0)]
    assert substituted.personality_id == people["ben"].id and substituted.note.startswith("代役：ben")
    moved = rows[jst(2026, 12, 18, 21, 0)]
    assert (moved.starts_at, moved.ends_at) == (jst(2026, 12, 19, 10, 0), jst(2026, 12, 19, 11, 0))

    # Removing the cancellation re-instates the occurrence (one more event).
    exc_id = next(e.id for e in await service.exceptions_of(db, p.id) if e.kind.value == "cancel")
    await exceptions.remove_exception(db, bus, p, exc_id, NOW)
    assert (await service.get_broadcast(db, cancelled.id)).state is BroadcastState.SCHEDULED
    assert bus.states()[-1] == (cancelled.id, "scheduled")

    # Editing the rule drops the occurrences that no longer exist; nothing is duplicated.
    p.rrule = "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR"
    await db.commit()
    await materialise.materialise_program(db, bus, p.id, NOW)
    assert [b.occurrence_start for b in await broadcasts(db, p.id)] == [
        jst(2026, 11, 27, 21, 0),
        jst(2026, 12, 11, 21, 0),
    ]


async def test_exception_refusals(db):
    people = await make_people(db)
    bus = RecordingBus()
    p = program(personality_id=people["anna"].id)
    other = program(title="別番組", personality_id=people["ben"].id, dtstart=jst(2026, 12, 4, 21, 30), rrule="")
    db.add_all([p, other])
    await db.commit()
    await materialise.materialise(db, bus, NOW)

    async def refused(form):
        with pytest.raises(ScheduleError) as info:
            await add_exception(db, bus, p, **form)
        return info.value.fields

    assert "予定にありません" in (await refused({"occurrence": "2026-12-05T21:00", "kind": "cancel"}))["occurrence"]
    assert "対象の回" in (await refused({"occurrence": "not-a-date", "kind": "cancel"}))["occurrence"]
    assert "種類" in (await refused({"occurrence": "2026-12-04T21:00", "kind": "explode"}))["kind"]
    errors = await refused({"occurrence": "2026-12-04T21:00", "kind": "substitute", "personality_id": "99999"})
    assert errors["personality_id"] == "指定されたメンバーが見つかりません。"
    # Ben already hosts 別番組 at 21:30 that day: an overlapping substitution is refused.
    errors = await refused(
        {"occurrence": "2026-12-04T21:00", "kind": "substitute", "personality_id": str(people["ben"].id)}
    )
    assert "別の番組「別番組」を担当しています" in errors["personality_id"]
    errors = await refused({"occurrence": "2026-12-04T21:00", "kind": "move", "new_start": "2026-11-01T10:00"})
    assert "未来の日時" in errors["new_start"]
    await add_exception(db, bus, p, occurrence="2026-12-04T21:00", kind="cancel")
    errors = await refused(
        {"occurrence": "2026-12-04T21:00", "kind": "substitute", "personality_id": str(people["cho"].id)}
    )
    assert "既に「中止」が登録されています" in errors["occurrence"]


async def test_program_validation_messages(db):
    people = await make_people(db)
    good = {
        "title": "テスト番組",
        "personality_id": str(people["anna"].id),
        "start_date": "2026-11-27",
        "start_time": "21:00",
        "end_time": "22:00",
        "rrule": "FREQ=WEEKLY;BYDAY=FR",
        "timezone": "Asia/Tokyo",
        "stream_url": "https://www.youtube.com/watch?v=abc",
        "guests": "ben@example.jp\n外部 講師",
        "active": "on",
    }
    data, errors = await validate_program(db, ProgramInput.from_form(good))
    assert errors == {} and data is not None
    assert data.dtstart == jst(2026, 11, 27, 21, 0) and data.duration_minutes == 60
    assert data.guests == [(people["ben"].id, ""), (None, "外部 講師")]
    cases = {
        "rrule": ({"rrule": "FREQ=SOMETIMES"}, "FREQ=SOMETIMES は使えません"),
        "end_time": ({"end_time": "20:00"}, "終了時刻は開始時刻より後に"),
        "personality_id": ({"personality_id": "424242"}, "見つかりません"),
        "stream_url": ({"stream_url": "javascript:alert(1)"}, "https://"),
        "timezone": ({"timezone": "Tokyo/Mars"}, "存在しません"),
        "guests": ({"guests": "nobody@example.jp"}, "メンバー「nobody@example.jp」が見つかりません"),
        "start_date": ({"start_date": "2026-02-30"}, "開始日"),
        "section_id": ({"section_id": "x1"}, "課が見つかりません"),
        "until": ({"until": "2026-01-01"}, "開始日より後"),
        "title": ({"title": " \u200b "}, "番組名を入力"),
    }
    for field, (change, message) in cases.items():
        data, errors = await validate_program(db, ProgramInput.from_form({**good, **change}))
        assert data is None and message in errors[field], (field, errors)
    data, errors = await validate_program(
        db, ProgramInput.from_form({**good, "rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"})
    )
    assert "1日もありません" in errors["rrule"]


async def _one_off_broadcast(db, bus):
    """The people and the only broadcast of anna's one-off program, materialised at NOW."""
    people = await make_people(db)
    p = program(personality_id=people["anna"].id, rrule="")
    db.add(p)
    await db.commit()
    await materialise.materialise_program(db, bus, p.id, NOW)
    [b] = await broadcasts(db, p.id)
    return people, b


async def test_scheduler_opens_starts_and_ends_on_time(db, database):
    bus = RecordingBus()
    _, b = await _one_off_broadcast(db, bus)
    clock = {"now": NOW}
    scheduler = Scheduler(
        database, bus, DatabaseLease(database, clock=lambda: clock["now"]), clock=lambda: clock["now"]
    )

    async def at(when):
        clock["now"] = when
        await scheduler.step()
        return (await service.get_broadcast(db, b.id)).state

    assert await at(jst(2026, 11, 27, 20, 49)) is BroadcastState.SCHEDULED
    assert await at(jst(2026, 11, 27, 20, 50)) is BroadcastState.OPEN
    assert await at(jst(2026, 11, 27, 20, 51)) is BroadcastState.OPEN
    assert await at(jst(2026, 11, 27, 21, 0)) is BroadcastState.LIVE
    assert await at(jst(2026, 11, 27, 21, 59)) is BroadcastState.LIVE
    assert await at(jst(2026, 11, 27, 22, 0)) is BroadcastState.ENDED
    assert await at(jst(2026, 11, 27, 22, 5)) is BroadcastState.ENDED
    assert bus.states() == [(b.id, "open"), (b.id, "live"), (b.id, "ended")]
    assert bus.states(f"broadcast:{b.id}") == bus.states()
    row = await service.get_broadcast(db, b.id)
    assert (row.opened_at, row.live_at, row.ended_at) == (
        jst(2026, 11, 27, 20, 50),
        jst(2026, 11, 27, 21, 0),
        jst(2026, 11, 27, 22, 0),
    )


async def test_scheduler_catches_up_after_a_restart(db, database):
    people = await make_people(db)
    bus = RecordingBus()
    first = program(personality_id=people["anna"].id, rrule="")
    second = program(title="二本目", personality_id=people["ben"].id, rrule="", dtstart=jst(2026, 11, 27, 22, 30))
    db.add_all([first, second])
    await db.commit()
    await materialise.materialise(db, bus, NOW)
    [a] = await broadcasts(db, first.id)
    [b] = await broadcasts(db, second.id)
    # No scheduler ran from before 20:50 until 22:45: the first is over, the second is live.
    later = jst(2026, 11, 27, 22, 45)
    scheduler = Scheduler(database, bus, DatabaseLease(database, clock=lambda: later), clock=lambda: later)
    await scheduler.step()
    assert bus.states() == [(a.id, "ended"), (b.id, "live")]
    await scheduler.step()
    assert len(bus.states()) == 2


async def test_transitions_are_idempotent_and_checked(db):
    bus = RecordingBus()
    people, b = await _one_off_broadcast(db, bus)
    assert (await transition(db, bus, b.id, BroadcastState.LIVE, now=NOW)).changed
    assert not (await transition(db, bus, b.id, BroadcastState.LIVE, now=NOW)).changed
    assert bus.states() == [(b.id, "live")]
    with pytest.raises(TransitionError, match="放送中"):
        await transition(db, bus, b.id, BroadcastState.OPEN, now=NOW)
    with pytest.raises(TransitionError):
        await transition(db, bus, 999999, BroadcastState.OPEN, now=NOW)

    # Host actions: only the personality, moderators and operators.
    with pytest.raises(Forbidden) as info:  # the access policy (live.access) refuses
        await service.host_action(db, bus, b.id, "end", people["ben"], NOW)
    assert info.value.status == 403
    ended = await service.host_action(db, bus, b.id, "end", people["anna"], NOW)
    assert ended.state is BroadcastState.ENDED
    with pytest.raises(TransitionError, match="現在の状態（終了）") as moved:
        await service.host_action(db, bus, b.id, "live", people["mod"], NOW)
    assert moved.value.status == 409


async def test_only_one_scheduler_acts(db, database):
    people = await make_people(db)
    bus = RecordingBus()
    p = program(personality_id=people["anna"].id, rrule="FREQ=DAILY", dtstart=jst(2026, 11, 22, 9, 30))
    db.add(p)
    await db.commit()
    clock = {"now": NOW}
    tick = lambda: clock["now"]  # noqa: E731
    a = Scheduler(database, bus, DatabaseLease(database, ttl=3600, clock=tick), clock=tick)
    b = Scheduler(database, bus, DatabaseLease(database, ttl=3600, clock=tick), clock=tick)
    assert await a.step() is True
    assert await b.step() is False
    clock["now"] = jst(2026, 11, 22, 9, 31)
    assert await b.step() is False and await a.step() is True
    # A dies; once its lease expires, B takes over and catches up.
    clock["now"] = jst(2026, 11, 22, 10, 45)
    assert await b.step() is True
    assert await a.step() is False
    states = bus.states()
    assert [s for _, s in states] == ["live", "ended"]  # 9:30 live (opened late: lobby skipped), 10:30 ended


def test_redis_lease_is_exclusive():
    require(redis_available(), "Redis")
    import asyncio

    async def run():
        key = f"chonai-test:{uuid.uuid4().hex}:lease"
        a = RedisLease(REDIS_TEST_URL, key=key, ttl=0.5)
        b = RedisLease(REDIS_TEST_URL, key=key, ttl=0.5)
        try:
            assert await a.acquire() is True
            assert await b.acquire() is False
            assert await a.acquire() is True  # renewal by the holder
            await a.release()
            assert await b.acquire() is True
            assert await a.acquire() is False  # a's client reconnected for this: released below too
        finally:
            await b.release()
            await a.release()

    asyncio.run(run())
