"""Socket rules through the app (both databases): deep frames, banned reactions, pending members
on /ws/faq, a frozen RRULE that must not freeze the rooms."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time

import pytest
from sqlalchemy import select

from faq.models import StudySession
from tests.factories import member_id
from tests.live.rooms_support import token_for
from tests.live.test_moderation_room import api, program_room
from tests.live.test_rooms_socket import WAIT, bearer, connect, join, next_of

pytestmark = pytest.mark.usefixtures("demo")


async def test_deep_frames_are_invalid_messages_not_crashes(client, db, caplog):
    room = await program_room(db)
    token = await token_for(db, "member@example.jp")
    caplog.set_level(logging.WARNING)
    async with connect(client, "/ws/rooms", headers=bearer(token)) as ws:
        for frame in ('{"a":' + "[" * 1000 + "]" * 1000 + ',"type":"ping"}', "[" * 1000 + "]" * 1000):
            ws.send_text(frame)
            assert next_of(ws, "error")["code"] == "invalid_message"
        # Not an object at all: documented as invalid_message too.
        for frame in ("null", "[]", "42", '"join"'):
            ws.send_text(frame)
            assert next_of(ws, "error")["code"] == "invalid_message"
        join(ws, room)  # the connection is fine afterwards
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]


async def test_banned_members_cannot_react(client, db):
    room = await program_room(db)
    host, member = await token_for(db, "host@example.jp"), await token_for(db, "member@example.jp")
    viewer = await member_id(db, "member@example.jp")
    async with connect(client, "/ws/rooms", headers=bearer(member)) as ws:
        join(ws, room)
        assert (await api(client, host, room, "/ban", {"member_id": viewer})).status_code == 200
        assert next_of(ws, "restricted")["code"] == "banned"
        ws.send_text(json.dumps({"type": "reaction", "kind": "clap"}))
        refused = next_of(ws, "error")
        assert refused["code"] == "banned" and refused["until"] is None


async def test_pending_member_on_the_board_socket_gets_account_inactive(client, db):
    from litestar.exceptions import WebSocketDisconnect

    from tests.helpers import login

    session_id = (await db.execute(select(StudySession.id).limit(1))).scalar_one()
    await login(client, "pending@example.jp")
    with pytest.raises(WebSocketDisconnect) as closed:
        async with connect(client, f"/ws/faq/sessions/{session_id}", headers={"origin": "http://127.0.0.1:8000"}) as ws:
            error = json.loads(ws.receive_bytes(timeout=WAIT))
            assert error["code"] == "account_inactive"
            ws.receive_bytes(timeout=WAIT)
    assert closed.value.code == 4403


async def test_a_rule_that_never_matches_does_not_freeze_the_loop(client, db):
    """FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30 used to walk every day to year 9999 on the event loop."""
    from tests.helpers import csrf, login

    await login(client, "operator@example.jp")
    headers = {"x-csrftoken": await csrf(client)}
    body = {
        "title": "存在しない日",
        "start_date": "2027-01-04",
        "start_time": "21:00",
        "end_time": "22:00",
        "rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
    }
    ticks: list[float] = []

    async def heartbeat() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.02)

    beat = asyncio.create_task(heartbeat())
    started = time.perf_counter()
    for rule in ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "FREQ=YEARLY;BYYEARDAY=-367"):
        refused = await client.post("/api/schedule/programs", json={**body, "rrule": rule}, headers=headers)
        assert refused.status_code == 400, refused.text[:300]
        assert "1日もありません" in refused.text or "解釈できません" in refused.text
    elapsed = time.perf_counter() - started
    beat.cancel()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert elapsed < 5, elapsed
    assert max(gaps, default=0) < 1.0, max(gaps)
