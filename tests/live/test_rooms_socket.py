"""The room WebSocket through the app (both databases): join, history, live, resume, and every bad input."""

from __future__ import annotations

import contextlib
import json

import pytest
from litestar.exceptions import WebSocketDisconnect

from live.models import BroadcastState
from tests.live.rooms_support import make_broadcast, set_state, token_for

WAIT = 10  # seconds: generous, only reached when something is broken


@contextlib.asynccontextmanager
async def connect(client, url: str, **kwargs):
    session = await client.websocket_connect(url, **kwargs)
    with session as ws:
        yield ws
    _stash.pop(id(ws), None)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


_stash: dict[int, list[dict]] = {}


def receive(ws) -> dict:
    """The next message, taking first those `comment` set aside while waiting for its ack."""
    stashed = _stash.get(id(ws))
    if stashed:
        return stashed.pop(0)
    return ws.receive_json(timeout=WAIT)


def next_of(ws, kind: str) -> dict:
    """The next message of a kind (presence/reactions updates may come in between)."""
    while True:
        message = receive(ws)
        if message["type"] == kind:
            return message


def join(ws, room: int, after: int | None = None) -> tuple[dict, list[dict]]:
    ws.send_text(json.dumps({"type": "join", "room": room, "after": after}))
    welcome = next_of(ws, "welcome")
    items: list[dict] = []
    while True:
        history = next_of(ws, "history")
        items += history["items"]
        if history["last_position"] is not None:
            return welcome, items


@contextlib.asynccontextmanager
async def in_room(client, tokens: dict[str, str], room: int, *who: str):
    """A room socket for each member named (keys of `tokens`), all connected, then each joined to `room`."""
    async with contextlib.AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(connect(client, "/ws/rooms", headers=bearer(tokens[w]))) for w in who
        ]
        for ws in sockets:
            join(ws, room)
        yield sockets


def comment(ws, text: str, ref: str) -> dict:
    ws.send_text(json.dumps({"type": "comment", "text": text, "ref": ref}))
    while True:
        message = ws.receive_json(timeout=WAIT)
        if message["type"] in {"ack", "error"} and message.get("ref") == ref:
            return message
        _stash.setdefault(id(ws), []).append(message)  # live frames stay readable in order


def live_items(ws, count: int) -> list[dict]:
    items: list[dict] = []
    while len(items) < count:
        items += next_of(ws, "comments")["items"]
    return items


@pytest.fixture
async def room(db, demo):
    return await make_broadcast(db)


@pytest.fixture
async def tokens(db, demo):
    return {who: await token_for(db, f"{who}@example.jp") for who in ("member", "fukuoka", "naha")}


async def test_comment_reaches_every_viewer_in_order_and_resume_is_exact(client, room, tokens):
    async with (
        connect(client, "/ws/rooms", headers=bearer(tokens["member"])) as a,
        connect(client, "/ws/rooms", headers=bearer(tokens["fukuoka"])) as b,
    ):
        welcome, history = join(a, room)
        assert welcome["state"] == "live" and welcome["limits"]["max_length"] == 200 and history == []
        join(b, room)
        for i in range(3):
            ack = comment(a, f"はじめまして{i}", f"a{i}")
            assert ack == {"type": "ack", "ref": f"a{i}", "position": i + 1}
        seen_b = live_items(b, 3)
        assert [c["position"] for c in seen_b] == [1, 2, 3]
        assert seen_b[0]["name"] == "市民 一郎" and seen_b[0]["organisation"].startswith("豊中市")
        assert [c["text"] for c in live_items(a, 3)] == ["はじめまして0", "はじめまして1", "はじめまして2"]
    # b was away for positions 4 and 5; resuming after 3 returns exactly those, then live ones.
    async with connect(client, "/ws/rooms", headers=bearer(tokens["member"])) as a:
        join(a, room)
        comment(a, "いない間の1", "x1")
        comment(a, "いない間の2", "x2")
        async with connect(client, "/ws/rooms", headers=bearer(tokens["fukuoka"])) as b:
            _, missed = join(b, room, after=3)
            # What was missed comes as history, or in the next live frame if it was still coalescing.
            missed += live_items(b, 2 - len(missed))
            comment(a, "戻ってきた後", "x3")
            missed += live_items(b, 1)
            assert [c["position"] for c in missed] == [4, 5, 6]
        # A fresh join gets the last comments as history.
        async with connect(client, "/ws/rooms", headers=bearer(tokens["naha"])) as c:
            _, recent = join(c, room)
            recent += live_items(c, 6 - len(recent))
            assert [x["position"] for x in recent] == [1, 2, 3, 4, 5, 6]


async def test_resend_after_reconnect_is_acknowledged_once(client, room, tokens):
    async with connect(client, "/ws/rooms", headers=bearer(tokens["member"])) as a:
        join(a, room)
        assert comment(a, "届いた？", "same")["position"] == 1
        assert comment(a, "届いた？", "same")["position"] == 1
        assert comment(a, "次", "next")["position"] == 2


async def test_refusals_are_typed_and_the_room_carries_on(client, db, room, tokens):
    async with in_room(client, tokens, room, "member", "fukuoka") as (bad, good):
        cases = [
            ("{not json", "invalid_json"),
            ('{"type":"shout","text":"x"}', "unknown_type"),
            ('{"text":"no type"}', "unknown_type"),
            ('{"type":"comment","text":"偽の位置","position":1}', "invalid_message"),
            ('{"type":"comment","text":42}', "invalid_message"),
            ('{"type":"reaction","kind":"boo"}', "unknown_reaction"),
            ('{"type":"join","room":' + str(room) + "}", "already_joined"),
            ("[1,2,3]", "invalid_message"),
        ]
        for raw, code in cases:
            bad.send_text(raw)
            assert next_of(bad, "error")["code"] == code, raw
        assert comment(bad, "   ", "e1")["code"] == "empty_comment"
        refused = comment(bad, "長" * 201, "e2")
        assert refused["code"] == "too_long" and "200文字以内" in refused["message"]
        # Still connected and served: a valid comment goes through to the other viewer.
        assert comment(bad, "大丈夫", "ok")["position"] == 1
        assert [c["text"] for c in live_items(good, 1)] == ["大丈夫"]
        await set_state(db, room, BroadcastState.ENDED)
        closed = comment(good, "終わった後", "late")
        assert closed["code"] == "room_closed" and "終了" in closed["message"]


async def test_forged_resume_position_is_refused(client, room, tokens):
    async with connect(client, "/ws/rooms", headers=bearer(tokens["member"])) as ws:
        ws.send_text(json.dumps({"type": "join", "room": room, "after": 999}))
        assert next_of(ws, "error")["code"] == "invalid_position"
        ws.send_text(json.dumps({"type": "join", "room": room, "after": -1}))
        assert next_of(ws, "error")["code"] == "invalid_message"
        welcome, _ = join(ws, room)  # a fresh join still works
        assert welcome["room"] == room


async def test_unknown_room_and_comment_before_join(client, tokens):
    async with connect(client, "/ws/rooms", headers=bearer(tokens["member"])) as ws:
        assert comment(ws, "どこ？", "r")["code"] == "not_joined"
        ws.send_text(json.dumps({"type": "join", "room": 2**31 - 1}))
        assert next_of(ws, "error")["code"] == "room_not_found"


# Protocol limits and refused sockets (no SQL of their own); the room's queries run on both in the
# tests around them.
@pytest.mark.sqlite_only
async def test_binary_oversized_and_flood_close_with_codes(client, room, tokens):
    async with connect(client, "/ws/rooms", headers=bearer(tokens["member"])) as ws:
        join(ws, room)
        ws.send_bytes(b"\x00\x01")
        assert next_of(ws, "error")["code"] == "binary_not_supported"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json(timeout=WAIT)
        assert closed.value.code == 1003
    async with connect(client, "/ws/rooms", headers=bearer(tokens["member"])) as ws:
        ws.send_text(json.dumps({"type": "comment", "text": "x" * 5000}))
        assert next_of(ws, "error")["code"] == "frame_too_large"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json(timeout=WAIT)
        assert closed.value.code == 1009
    async with connect(client, "/ws/rooms", headers=bearer(tokens["member"])) as ws:
        for _ in range(40):
            ws.send_text('{"type":"ping"}')
        while (message := ws.receive_json(timeout=WAIT))["type"] == "pong":
            pass
        assert message["code"] == "flood"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json(timeout=WAIT)
        assert closed.value.code == 4429


@pytest.mark.sqlite_only
async def test_members_only(client, db, room, tokens):
    async with connect(client, "/ws/rooms") as ws:
        assert ws.receive_json(timeout=WAIT)["code"] == "login_required"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json(timeout=WAIT)
        assert closed.value.code == 4401
    async with connect(client, "/ws/rooms?token=chn_forged") as ws:
        assert ws.receive_json(timeout=WAIT)["code"] == "login_required"
    pending = await token_for(db, "pending@example.jp")
    async with connect(client, "/ws/rooms", headers=bearer(pending)) as ws:
        assert ws.receive_json(timeout=WAIT)["code"] == "account_inactive"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json(timeout=WAIT)
        assert closed.value.code == 4403
    # ?token= works for scripts that cannot set headers.
    async with connect(client, f"/ws/rooms?token={tokens['naha']}") as ws:
        assert join(ws, room)[0]["room"] == room


@pytest.mark.sqlite_only
async def test_cross_origin_is_refused_with_a_reason_and_one_log_line(client, tokens, caplog):
    caplog.set_level("WARNING", logger="chonai.access")
    async with connect(
        client, "/ws/rooms", headers={**bearer(tokens["member"]), "origin": "https://evil.example"}
    ) as ws:
        refusal = ws.receive_json(timeout=WAIT)
        assert refusal["type"] == "error" and refusal["code"] == "origin_not_allowed"
        assert "https://evil.example" in refusal["message"] and "ALLOWED_ORIGINS" in refusal["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json(timeout=WAIT)
        assert closed.value.code == 4403
    lines = [r.getMessage() for r in caplog.records if r.name == "chonai.access"]
    assert len(lines) == 1
    assert "Origin https://evil.example" in lines[0] and "BASE_URL=" in lines[0] and "ALLOWED_ORIGINS=" in lines[0]
    async with connect(
        client, "/ws/rooms", headers={**bearer(tokens["member"]), "origin": "http://127.0.0.1:8000"}
    ) as ws:
        ws.send_text('{"type":"ping"}')
        assert ws.receive_json(timeout=WAIT)["type"] == "pong"


async def test_reactions_are_aggregated_for_everyone(client, room, tokens):
    async with in_room(client, tokens, room, "member", "fukuoka") as (a, b):
        for kind in ("clap", "clap", "idea"):
            a.send_text(json.dumps({"type": "reaction", "kind": kind}))
        while (counts := next_of(b, "reactions")["counts"]) != {"clap": 2, "heart": 0, "laugh": 0, "idea": 1}:
            pass
        assert counts["clap"] == 2


async def test_room_page_is_members_only_and_embeds_youtube(client, db, demo):
    from tests.helpers import login

    room = await make_broadcast(db, stream_url="https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    html = {"accept": "text/html"}
    response = await client.get(f"/broadcasts/{room}/room", headers=html, follow_redirects=False)
    assert response.status_code == 303 and "/login" in response.headers["location"]
    await login(client, "member@example.jp")
    page = await client.get(f"/broadcasts/{room}/room", headers=html)
    assert page.status_code == 200
    assert "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ" in page.text
    assert f'data-room-id="{room}"' in page.text and "/static/live/room.js" in page.text
    assert (await client.get("/broadcasts/2147483000/room", headers=html)).status_code == 404
    assert (await client.get("/metrics")).status_code == 403  # operators only
