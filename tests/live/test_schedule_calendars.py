"""The .ics feeds parse in a real client library and expand to exactly Chonai's own occurrences."""

from __future__ import annotations

import datetime as dt

import icalendar
import recurring_ical_events

from live.models import BroadcastState
from live.schedule import calendars, materialise, recurrence, service
from tests.helpers import login, post_form
from tests.live.schedule_helpers import NOW, RecordingBus, add_exception, jst, make_people, program


def expand(body: bytes, start: dt.datetime, end: dt.datetime) -> set[tuple[dt.datetime, dt.datetime]]:
    cal = icalendar.Calendar.from_ical(body)
    assert cal.walk("VTIMEZONE")[0]["TZID"] == "Asia/Tokyo"
    events = recurring_ical_events.of(cal).between(start, end)
    return {(e["DTSTART"].dt.astimezone(dt.UTC), e["DTEND"].dt.astimezone(dt.UTC)) for e in events}


async def setup_schedule(db):
    people = await make_people(db)
    bus = RecordingBus()
    rotation_monday = program(
        title="お昼の放送",
        rrule="FREQ=WEEKLY;BYDAY=MO",
        dtstart=jst(2026, 11, 16, 12, 10),
        duration_minutes=30,
        skip_holidays=True,
        personality_id=people["anna"].id,
    )
    orientation = program(personality_id=people["anna"].id)
    study = program(
        title="勉強会",
        rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=SA",
        dtstart=jst(2026, 11, 28, 10, 0),
        duration_minutes=90,
        personality_id=people["ben"].id,
    )
    once = program(title="特番", rrule="", dtstart=jst(2026, 12, 2, 19, 0), personality_id=people["cho"].id)
    db.add_all([rotation_monday, orientation, study, once])
    await db.commit()
    await materialise.materialise(db, bus, NOW)
    await add_exception(db, bus, orientation, occurrence="2026-12-04T21:00", kind="cancel")
    await add_exception(
        db, bus, orientation, occurrence="2026-12-11T21:00", kind="substitute", personality_id=str(people["ben"].id)
    )
    await add_exception(db, bus, study, occurrence="2026-12-12T10:00", kind="move", new_start="2026-12-13T14:00")
    return people, [rotation_monday, orientation, study, once]


async def own_occurrences(db, programs, start, end, personality_id=None):
    out = set()
    for p in programs:
        for occ in recurrence.occurrences(
            p, await service.exceptions_of(db, p.id), start, end, include_cancelled=False
        ):
            if personality_id is None or occ.personality_id == personality_id:
                out.add((occ.starts_at, occ.ends_at))
    return out


async def test_feeds_expand_to_chonai_occurrences(db):
    people, programs = await setup_schedule(db)
    start, end = jst(2026, 11, 16, 0, 0), jst(2027, 3, 1, 0, 0)
    body = await calendars.feed(db, "https://chonai.example.jp", now=NOW)
    ours = await own_occurrences(db, programs, start, end)
    assert expand(body, start, end) == ours
    assert (jst(2026, 11, 23, 12, 10), jst(2026, 11, 23, 12, 40)) not in ours  # 勤労感謝の日 skipped
    assert (jst(2026, 12, 4, 21, 0), jst(2026, 12, 4, 22, 0)) not in ours  # cancelled
    assert (jst(2026, 12, 13, 14, 0), jst(2026, 12, 13, 15, 30)) in ours  # moved
    text = body.decode()
    assert "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SA" in text and "EXDATE;TZID=Asia/Tokyo:20261123T121000" in text
    assert "RECURRENCE-ID;TZID=Asia/Tokyo:20261212T100000" in text

    # ... and equal the broadcasts Chonai materialised (those within its 30-day horizon).
    horizon_end = NOW + materialise.HORIZON
    rows = await service.broadcasts_between(db, NOW, horizon_end, include_cancelled=False)
    assert {(b.starts_at, b.ends_at) for b in rows} == expand(body, NOW, horizon_end)

    # One personality: Ben hosts the study session and substitutes on 12/11.
    ben = people["ben"].id
    body = await calendars.feed(db, "https://chonai.example.jp", personality_id=ben, now=NOW)
    assert expand(body, start, end) == await own_occurrences(db, programs, start, end, personality_id=ben)
    assert (jst(2026, 12, 11, 21, 0), jst(2026, 12, 11, 22, 0)) in expand(body, start, end)
    anna = people["anna"].id
    body = await calendars.feed(db, "https://chonai.example.jp", personality_id=anna, now=NOW)
    assert expand(body, start, end) == await own_occurrences(db, programs, start, end, personality_id=anna)
    # One program.
    body = await calendars.feed(db, "https://chonai.example.jp", program_id=programs[2].id, now=NOW)
    assert expand(body, start, end) == await own_occurrences(db, programs[2:3], start, end)


async def test_feed_access_session_token_bearer_and_revocation(client, db, demo):
    # Anonymous: refused with a typed JSON error.
    r = await client.get("/schedule.ics")
    assert r.status_code == 401 and r.json()["error"]["code"] == "login_required"
    r = await client.get("/schedule.ics?token=1.0123456789012345678901234567890123456789")
    assert r.status_code == 401 and "リンクが無効" in r.json()["error"]["message"]

    await login(client, "member@example.jp")
    r = await client.get("/schedule.ics")
    assert r.status_code == 200 and r.headers["content-type"] == "text/calendar; charset=utf-8"  # charset once
    assert icalendar.Calendar.from_ical(r.content).walk("VEVENT")
    r = await client.get("/profile")
    assert "非公開リンクを発行する" in r.text
    r = await post_form(client, "/schedule/calendars/token", {}, follow_redirects=True)
    assert r.status_code == 200
    profile = (await client.get("/profile")).text
    token = profile.split("/schedule.ics?token=")[1].split("<")[0]
    r = await client.get("/api/schedule/programs")
    # A recurring program (the demo also has one-off broadcasts, whose feeds carry no RRULE).
    recurring = next(p for p in r.json() if p.get("rrule"))
    program_id = recurring["id"]
    personality_id = recurring["personality"]["id"]

    client.cookies.clear()
    for url in (
        "/schedule.ics",
        f"/schedule/programs/{program_id}/calendar.ics",
        f"/schedule/personalities/{personality_id}/calendar.ics",
    ):
        r = await client.get(f"{url}?token={token}")
        assert r.status_code == 200, (url, r.text)
        assert b"BEGIN:VTIMEZONE" in r.content and b"RRULE:" in r.content
    assert (await client.get("/schedule/programs/999999/calendar.ics?token=" + token)).status_code == 404

    # Bearer API token works too.
    from core.members import service as members

    member = await members.get_by_email(db, "member@example.jp")
    _, raw = await members.create_api_token(db, member, "calendar")
    r = await client.get("/schedule.ics", headers={"Authorization": f"Bearer {raw}"})
    assert r.status_code == 200

    # Revoking the private link stops it at once.
    await login(client, "member@example.jp")
    await post_form(client, "/schedule/calendars/token/revoke", {})
    client.cookies.clear()
    r = await client.get(f"/schedule.ics?token={token}")
    assert r.status_code == 401


async def test_cancelled_one_off_states_do_not_leak(db):
    # A cancelled materialised broadcast is not in the feed (EXDATE), a live one is.
    await setup_schedule(db)
    rows = await service.broadcasts_between(db, NOW, NOW + materialise.HORIZON)
    assert any(b.state is BroadcastState.CANCELLED for b in rows)
    body = await calendars.feed(db, "https://chonai.example.jp", now=NOW)
    cancelled = {(b.starts_at, b.ends_at) for b in rows if b.state is BroadcastState.CANCELLED}
    assert not cancelled & expand(body, NOW, NOW + materialise.HORIZON)


async def test_holiday_exdates_reach_as_far_as_the_holiday_calendar(db):
    import time

    people = await make_people(db)
    weekly = program(
        title="月曜の放送", rrule="FREQ=WEEKLY;BYDAY=MO", dtstart=jst(2026, 11, 16, 12, 10), skip_holidays=True
    )
    daily = program(title="毎日", rrule="FREQ=DAILY", dtstart=jst(2026, 11, 16, 8, 0), skip_holidays=True)
    db.add_all([weekly, daily])
    await db.commit()
    started = time.perf_counter()
    body = await calendars.feed(db, "https://chonai.example.jp", now=NOW)
    elapsed = time.perf_counter() - started
    text = body.decode().replace("\r\n ", "")  # unfold long EXDATE lines
    # 成人の日 2040 (9 January, a Monday) and 海の日 2099 are skipped, not only the next two years.
    assert "20400109T121000" in text and "20990720T121000" in text
    start, end = jst(2040, 1, 1, 0, 0), jst(2040, 2, 1, 0, 0)
    assert (jst(2040, 1, 9, 12, 10), jst(2040, 1, 9, 13, 10)) not in expand(body, start, end)
    assert (jst(2040, 1, 16, 12, 10), jst(2040, 1, 16, 13, 10)) in expand(body, start, end)
    assert (jst(2040, 1, 1, 8, 0), jst(2040, 1, 1, 9, 0)) not in expand(body, start, end)  # 元日, daily rule
    assert elapsed < 5, f"feed with a daily rule to 2099 took {elapsed:.1f}s"
    assert people
