"""Every WebSocket action against every role, as a browser makes it (session cookie + same-site Origin).

Complements test_access_matrix.py (every HTTP route for anonymous and pending callers, and
every WebSocket path refusing them): here each action a socket offers is tried by each
role, with what each role is meant to get. Roles: anonymous, pending, member, the host
of another program (Role.HOST, someone else's broadcast and series), the host of this
broadcast and organiser of this study series, moderator, operator. Also: cross-site
Origins are refused on every socket, and a cookie-only socket without Origin where the
socket requires one.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from litestar.exceptions import WebSocketDisconnect
from sqlalchemy import select

from core.members.models import Member, Role
from faq.models import SeriesOrganiser, StudySession
from tests.helpers import csrf, login
from tests.live.rooms_support import make_broadcast

pytestmark = [pytest.mark.usefixtures("demo"), pytest.mark.sqlite_only]

ORIGIN = {"origin": "http://127.0.0.1:8000"}
EVIL = {"origin": "https://evil.example"}
WAIT = 10
ROLES = {
    "anonymous": None,
    "pending": "pending@example.jp",
    "member": "member@example.jp",
    "other_host": "kochi@example.jp",  # promoted to host below; hosts nothing here
    "host": "host@example.jp",  # this broadcast's personality, organiser of this series
    "moderator": "moderator@example.jp",
    "operator": "operator@example.jp",
}
MEMBERS = ("member", "other_host", "host", "moderator", "operator")
ORGANISERS = ("host", "moderator", "operator")  # see the series' board as organisers do


@pytest.fixture
async def scene(db) -> dict[str, Any]:
    """A live broadcast hosted by host@, the live study session organised by host@, and kochi@ a host elsewhere."""
    people = {m.email: m for m in (await db.execute(select(Member))).unique().scalars()}
    people["kochi@example.jp"].role = Role.HOST
    room = await make_broadcast(db, personality_id=people["host@example.jp"].id)
    session = (await db.execute(select(StudySession).where(StudySession.number == 3))).scalar_one()
    db.add(SeriesOrganiser(series_id=session.series_id, member_id=people["host@example.jp"].id))
    await db.commit()
    return {"room": room, "session": session.id}


async def as_role(client, role: str) -> None:
    client.cookies.clear()
    if ROLES[role]:
        await login(client, ROLES[role])


def next_of(ws, kind: str, decode=json.loads, receive="receive_text") -> dict:
    while True:
        message = decode(getattr(ws, receive)(timeout=WAIT))
        if message["type"] == kind:
            return message


# --- /ws/rooms: join, comment, reaction, ping ---------------------------------------------------------


async def room_actions(client, room: int) -> dict[str, Any]:
    """What each room action gives this caller."""
    with await client.websocket_connect("/ws/rooms", headers=ORIGIN) as ws:
        ws.send_text('{"type":"ping"}')
        first = ws.receive_json(timeout=WAIT)
        if first["type"] == "error":
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json(timeout=WAIT)
            return {"refused": (first["code"], closed.value.code)}
        outcome: dict[str, Any] = {"ping": first["type"]}
        ws.send_text(json.dumps({"type": "join", "room": room}))
        outcome["join"] = next_of(ws, "welcome")["room"] == room
        next_of(ws, "history")
        ws.send_text(json.dumps({"type": "reaction", "kind": "clap"}))
        ws.send_text(json.dumps({"type": "comment", "text": "権限の確認", "ref": "matrix"}))
        while (message := ws.receive_json(timeout=WAIT))["type"] not in {"ack", "error"}:
            pass
        outcome["comment"] = message["type"] if message["type"] == "ack" else message["code"]
        return outcome


async def test_room_socket_actions_by_role(client, scene):
    results = {}
    for role in ROLES:
        await as_role(client, role)
        results[role] = await room_actions(client, scene["room"])
    allowed = {"ping": "pong", "join": True, "comment": "ack"}
    assert results == {
        "anonymous": {"refused": ("login_required", 4401)},
        "pending": {"refused": ("account_inactive", 4403)},
        **dict.fromkeys(MEMBERS, allowed),
    }


async def test_room_reactions_count_for_members_only(client, scene):
    await as_role(client, "member")
    with await client.websocket_connect("/ws/rooms", headers=ORIGIN) as watcher:
        watcher.send_text(json.dumps({"type": "join", "room": scene["room"]}))
        next_of(watcher, "history")
        for role in ("anonymous", "pending", "operator"):
            await as_role(client, role)
            with await client.websocket_connect("/ws/rooms", headers=ORIGIN) as ws:
                ws.send_text(json.dumps({"type": "join", "room": scene["room"]}))
                ws.send_text(json.dumps({"type": "reaction", "kind": "heart"}))
                with contextlib.suppress(WebSocketDisconnect):
                    next_of(ws, "welcome")
                    next_of(ws, "history")
        # Only the operator's heart counts; the refused sockets never got into the room.
        while (counts := next_of(watcher, "reactions")["counts"])["heart"] < 1:
            pass
        assert counts["heart"] == 1


# --- /ws/faq/sessions/{id}: the board, organiser view or member view ----------------------------------


async def board_view(client, session_id: int, anonymous_question: int) -> Any:
    with await client.websocket_connect(f"/ws/faq/sessions/{session_id}", headers=ORIGIN) as ws:
        first = json.loads(ws.receive_bytes(timeout=WAIT))
        if first["type"] == "error":
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_bytes(timeout=WAIT)
            return ("refused", first["code"], closed.value.code)
        assert first["type"] == "snapshot"
        shown = {q["id"]: q for q in first["questions"]}
        question = shown.get(anonymous_question)
        return "organiser" if question and question["author"] != "匿名" else "member"


async def test_board_socket_by_role(client, scene):
    # fukuoka asks anonymously: organisers see who asked, members and other hosts do not.
    await as_role(client, "member")
    await login(client, "fukuoka@example.jp")
    response = await client.post(
        f"/api/faq/sessions/{scene['session']}/questions",
        json={"body": "匿名の質問です", "anonymous": True},
        headers={"x-csrftoken": await csrf(client), "accept": "application/json"},
    )
    assert response.status_code == 201, response.text
    question = response.json()["id"]
    results = {}
    for role in ROLES:
        await as_role(client, role)
        results[role] = await board_view(client, scene["session"], question)
    assert results == {
        "anonymous": ("refused", "login_required", 4401),
        "pending": ("refused", "account_inactive", 4403),  # as on /ws/rooms (docs/protocol.md)
        "member": "member",
        "other_host": "member",
        "host": "organiser",
        "moderator": "organiser",
        "operator": "organiser",
    }


# --- /schedule/events: state changes for members ---------------------------------------------------------


async def test_schedule_socket_by_role(client, scene):
    results = {}
    for role in ROLES:
        await as_role(client, role)
        try:
            with await client.websocket_connect("/schedule/events", headers=ORIGIN) as ws:
                results[role] = json.loads(ws.receive_text(timeout=WAIT))["type"]
        except WebSocketDisconnect as closed:
            results[role] = closed.code
    assert results == {"anonymous": 4401, "pending": 4403, **dict.fromkeys(MEMBERS, "hello")}


# --- Origin: cross-site sockets refused everywhere ------------------------------------------------------------


async def test_cross_site_origins_are_refused_on_every_socket(client, app, scene):
    from litestar.routes import WebSocketRoute

    await as_role(client, "operator")  # the most privileged cookie a cross-site page could ride on
    paths = {
        "/ws/rooms": "/ws/rooms",
        "/ws/faq/sessions/{session_id:int}": f"/ws/faq/sessions/{scene['session']}",
        "/schedule/events": "/schedule/events",
        "/ws/notifications": "/ws/notifications",
    }
    registered = {r.path for r in app.routes if isinstance(r, WebSocketRoute)} | {"/ws/rooms"}
    assert set(paths) >= registered - {"/ws/rooms"}, f"a WebSocket route is missing from this test: {registered}"
    for path in paths.values():  # the check itself can tell: our own Origin is let in
        assert not await _refused(client, path, ORIGIN), path
    for headers in (EVIL, {"origin": "http://127.0.0.1:8000.evil.example"}, {"origin": "null"}):
        for path in paths.values():
            assert await _refused(client, path, headers), f"{path} accepted Origin {headers['origin']}"
    # Sockets that must come from a page of ours also refuse a cookie without any Origin.
    for path in (paths["/ws/faq/sessions/{session_id:int}"], "/schedule/events", "/ws/notifications"):
        assert await _refused(client, path, {}), f"{path} accepted a cookie without Origin"


async def _refused(client, path: str, headers: dict[str, str]) -> bool:
    try:
        with await client.websocket_connect(path, headers=headers) as ws:
            ws.send_text('{"type":"ping"}')  # the room socket speaks when spoken to; the others ignore it
            message: Any = ws.receive(timeout=WAIT)
            if message["type"] == "websocket.close":
                return True
            payload = message.get("text") or (message.get("bytes") or b"").decode()
            if json.loads(payload).get("type") != "error":
                return False
            with pytest.raises(WebSocketDisconnect):
                ws.receive(timeout=WAIT)
            return True
    except WebSocketDisconnect:
        return True
