"""Moderation on the room WebSocket (both databases): every refusal typed, hide/restore live,
held comments approved into the room, the control feed for moderators only, the delay."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from litestar.exceptions import WebSocketDisconnect

from live.models import BroadcastState, Program
from tests.factories import member_id
from tests.live.rooms_support import make_broadcast, token_for
from tests.live.test_rooms_socket import WAIT, bearer, connect, in_room, join, live_items, next_of


async def program_room(db, state: BroadcastState = BroadcastState.LIVE) -> int:
    """A broadcast of a program whose personality is host@ (so program word lists and bans apply)."""
    host = await member_id(db, "host@example.jp")
    program = Program(title="相談会", personality_id=host, dtstart=dt.datetime.now(dt.UTC))
    db.add(program)
    await db.commit()
    return await make_broadcast(db, state, personality_id=host, program_id=program.id)


@pytest.fixture
async def room(db, demo):
    return await program_room(db)


@pytest.fixture
async def tokens(db, demo):
    return {who: await token_for(db, f"{who}@example.jp") for who in ("host", "member", "fukuoka", "moderator")}


async def api(client, token: str, room: int, path: str, body: dict | None = None):
    url = f"/api/broadcasts/{room}/moderation{path}"
    if body is None:
        return await client.get(url, headers=bearer(token))
    return await client.post(url, json=body, headers=bearer(token))


def post(ws, text: str, ref: str, question: bool = False) -> dict:
    """The reply to a comment: ack, error or held."""
    ws.send_text(json.dumps({"type": "comment", "text": text, "ref": ref, "question": question}))
    while True:
        message = ws.receive_json(timeout=WAIT)
        if message["type"] in {"ack", "error", "held"} and message.get("ref") == ref:
            return message


async def test_timeout_ban_and_lift_are_typed_with_the_remaining_time(client, db, room, tokens):
    viewer = await member_id(db, "member@example.jp")
    async with connect(client, "/ws/rooms", headers=bearer(tokens["member"])) as ws:
        join(ws, room)
        assert post(ws, "こんにちは", "r1")["type"] == "ack"
        bad = await api(client, tokens["host"], room, "/timeout", {"member_id": viewer, "seconds": 5})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_duration"
        ok = await api(client, tokens["host"], room, "/timeout", {"member_id": viewer, "seconds": 600})
        assert ok.status_code == 200
        restricted = next_of(ws, "restricted")
        until = dt.datetime.fromisoformat(restricted["until"].replace("Z", "+00:00"))
        assert restricted["code"] == "timed_out" and 590 < (until - dt.datetime.now(dt.UTC)).total_seconds() <= 600
        refused = post(ws, "まだ話したい", "r2")
        assert refused["code"] == "timed_out" and refused["until"] == restricted["until"]
        assert "タイムアウト" in refused["message"]
        # Lifted: the member is told and may comment again.
        assert (await api(client, tokens["host"], room, "/lift", {"member_id": viewer})).status_code == 200
        assert next_of(ws, "restricted")["code"] is None
        assert post(ws, "戻りました", "r3")["type"] == "ack"
        # A program ban is refused the same way, without an end.
        assert (await api(client, tokens["host"], room, "/ban", {"member_id": viewer})).status_code == 200
        assert next_of(ws, "restricted")["code"] == "banned"
        banned = post(ws, "禁止中", "r4")
        assert banned["code"] == "banned" and banned["until"] is None
    # A member who re-joins while timed out is told at once (the page shows the remaining time).
    await api(client, tokens["host"], room, "/lift", {"member_id": viewer})
    await api(client, tokens["host"], room, "/timeout", {"member_id": viewer, "seconds": 60})
    async with connect(client, "/ws/rooms", headers=bearer(tokens["member"])) as ws:
        welcome, _ = join(ws, room)
        assert welcome["restriction"]["code"] == "timed_out" and welcome["restriction"]["until"]
        assert welcome["moderator"] is False


async def test_lock_comments_off_and_slow_mode(client, room, tokens):
    async with (
        connect(client, "/ws/rooms", headers=bearer(tokens["member"])) as ws,
        connect(client, "/ws/rooms", headers=bearer(tokens["host"])) as host,
    ):
        join(ws, room)
        assert join(host, room)[0]["moderator"] is True
        await api(client, tokens["host"], room, "/controls", {"locked": True})
        assert next_of(ws, "controls")["locked"] is True
        assert post(ws, "ロック中", "l1")["code"] == "room_locked"
        assert post(host, "ホストは話せます", "h1")["type"] == "ack"
        await api(client, tokens["host"], room, "/controls", {"locked": False, "comments_off": True})
        assert next_of(ws, "controls")["comments_off"] is True
        assert post(ws, "停止中", "o1")["code"] == "comments_off"
        await api(client, tokens["host"], room, "/controls", {"comments_off": False, "slow_mode_seconds": 30})
        assert next_of(ws, "controls")["slow_mode_seconds"] == 30
        assert post(ws, "一件目", "s1")["type"] == "ack"
        slow = post(ws, "二件目", "s2")
        assert slow["code"] == "slow_mode" and 0 < slow["retry_after"] <= 30 and "スローモード" in slow["message"]
        assert post(host, "ホストは制限なし", "h2")["type"] == "ack"
        assert post(host, "もう一件", "h3")["type"] == "ack"


async def test_blocked_words_refuse_and_hold_then_approve(client, db, room, tokens):
    assert (
        await api(client, tokens["host"], room, "/words", {"word": "ＦＸ投資", "action": "refuse"})
    ).status_code == 201
    assert (await api(client, tokens["host"], room, "/words", {"word": "宣伝", "action": "hold"})).status_code == 201
    async with in_room(client, tokens, room, "member", "host") as (ws, host):
        refused = post(ws, "fx投資で儲かる", "w1")
        assert refused["code"] == "blocked_word" and "ＦＸ投資" in refused["message"]
        held = post(ws, "勉強会の宣伝です", "w2")
        assert held["type"] == "held" and "確認待ち" in held["message"]
        assert next_of(host, "mod")["kind"] == "held"
        # A resend of the same ref (after a reconnect) is held once.
        assert post(ws, "勉強会の宣伝です", "w2")["type"] == "held"
        queue = (await api(client, tokens["host"], room, "/held")).json()
        assert [h["text"] for h in queue] == ["勉強会の宣伝です"]
        # Not for a plain member to decide.
        forbidden = await api(client, tokens["fukuoka"], room, f"/held/{queue[0]['id']}/approve", {})
        assert forbidden.status_code == 403
        approved = await api(client, tokens["host"], room, f"/held/{queue[0]['id']}/approve", {})
        assert approved.status_code == 200 and approved.json()["position"] == 1
        assert [c["text"] for c in live_items(ws, 1)] == ["勉強会の宣伝です"]
        again = await api(client, tokens["moderator"], room, f"/held/{queue[0]['id']}/approve", {})
        assert again.status_code == 409 and again.json()["error"]["code"] == "already_decided"
        assert (await api(client, tokens["host"], room, "/held")).json() == []
    actions = [a["action"] for a in (await api(client, tokens["host"], room, "/audit")).json()]
    assert actions[:3] == ["approve", "word_add", "word_add"]


async def test_hide_and_restore_reach_every_viewer_and_rejoin(client, db, room, tokens):
    async with in_room(client, tokens, room, "member", "fukuoka", "host") as (author, viewer, host):
        for i in range(3):
            assert post(author, f"コメント{i}", f"c{i}")["type"] == "ack"
        live_items(viewer, 3)
        hidden = await api(client, tokens["host"], room, "/comments/2/hide", {"reason": "個人情報"})
        assert hidden.status_code == 200 and hidden.json()["member_id"] == await member_id(db, "member@example.jp")
        assert next_of(viewer, "visibility") == {"type": "visibility", "position": 2, "hidden": True, "item": None}
        assert next_of(host, "visibility")["hidden"] is True
        # Two moderators hiding the same comment: one result each, nothing logged twice.
        twice = await api(client, tokens["moderator"], room, "/comments/2/hide", {})
        assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_hidden"
        missing = await api(client, tokens["host"], room, "/comments/99/hide", {})
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "comment_not_found"
        member_try = await api(client, tokens["fukuoka"], room, "/comments/1/hide", {})
        assert member_try.status_code == 403
    # Re-joining: viewers do not get it (and are told the position), moderators get it marked.
    async with connect(client, "/ws/rooms", headers=bearer(tokens["fukuoka"])) as viewer:
        welcome, items = join(viewer, room)
        assert welcome["hidden"] == [2] and [c["position"] for c in items] == [1, 3]
    async with connect(client, "/ws/rooms", headers=bearer(tokens["host"])) as host:
        welcome, items = join(host, room, after=0)
        assert welcome["hidden"] == [2] and [c["position"] for c in items] == [1, 2, 3]
    listed = (await client.get(f"/api/broadcasts/{room}/comments", headers=bearer(tokens["fukuoka"]))).json()
    assert [c["position"] for c in listed["items"]] == [1, 3]  # the archive replay reads this
    async with connect(client, "/ws/rooms", headers=bearer(tokens["fukuoka"])) as viewer:
        join(viewer, room)
        assert (await api(client, tokens["host"], room, "/comments/2/restore", {})).status_code == 200
        restored = next_of(viewer, "visibility")
        assert restored["hidden"] is False and restored["item"]["text"] == "コメント1"
    audit = (await api(client, tokens["host"], room, "/audit")).json()
    assert [(a["action"], a["target_position"]) for a in audit[:2]] == [("restore", 2), ("hide", 2)]
    assert audit[1]["reason"] == "個人情報"


async def test_questions_pick_pin_and_reports(client, room, tokens):
    async with in_room(client, tokens, room, "member", "fukuoka") as (ws, other):
        assert post(ws, "接種券の再発行は？", "q1", question=True)["type"] == "ack"
        assert post(ws, "ただの感想", "q2")["type"] == "ack"
        items = live_items(other, 2)
        assert [c["question"] for c in items] == [True, False]
        queue = (await api(client, tokens["host"], room, "/questions")).json()
        assert [q["position"] for q in queue] == [1]
        await api(client, tokens["host"], room, "/controls", {"picked_position": 1, "pinned_text": "資料は概要欄に"})
        controls = next_of(other, "controls")
        assert controls["picked"]["text"] == "接種券の再発行は？" and controls["pinned_text"] == "資料は概要欄に"
        report = await client.post(
            f"/api/broadcasts/{room}/reports", json={"position": 2}, headers=bearer(tokens["fukuoka"])
        )
        assert report.status_code == 201
        nowhere = await client.post(
            f"/api/broadcasts/{room}/reports", json={"position": 50}, headers=bearer(tokens["fukuoka"])
        )
        assert nowhere.status_code == 404
        reports = (await api(client, tokens["host"], room, "/reports")).json()
        assert reports[0]["comment"]["text"] == "ただの感想" and reports[0]["reporter"] == "博多 美咲"
        handled = await api(client, tokens["host"], room, f"/reports/{reports[0]['id']}/handled", {})
        assert handled.status_code == 200
        assert (
            await api(client, tokens["moderator"], room, f"/reports/{reports[0]['id']}/handled", {})
        ).status_code == 409
        assert (await api(client, tokens["host"], room, "/reports")).json() == []


# Role checks only; the moderation queries run on both in the other tests.
@pytest.mark.sqlite_only
async def test_control_feed_is_for_moderators_only(client, room, tokens):
    async with connect(client, "/ws/rooms", headers=bearer(tokens["member"])) as ws:
        ws.send_text(json.dumps({"type": "join", "room": room, "control": True}))
        assert next_of(ws, "error")["code"] == "forbidden"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json(timeout=WAIT)
        assert closed.value.code == 4403
    async with connect(client, "/ws/rooms", headers=bearer(tokens["moderator"])) as ws:
        ws.send_text(json.dumps({"type": "join", "room": room, "control": True}))
        assert next_of(ws, "welcome")["moderator"] is True
    for path in ("/held", "/audit", "/questions", "/viewers", "/sanctions"):
        assert (await api(client, tokens["member"], room, path)).status_code == 403
    assert (await client.get(f"/broadcasts/{room}/control", headers=bearer(tokens["member"]))).status_code == 403
    page = await client.get(f"/broadcasts/{room}/control", headers=bearer(tokens["host"]))
    assert page.status_code == 200 and "コントロール" in page.text and "<script>" not in page.text


async def test_state_buttons(client, db, demo):
    room = await program_room(db, BroadcastState.SCHEDULED)
    token = await token_for(db, "host@example.jp")
    async with connect(client, "/ws/rooms", headers=bearer(await token_for(db, "member@example.jp"))) as ws:
        join(ws, room)
        opened = await api(client, token, room, "/state", {"state": "open"})
        assert opened.json() == {"state": "open", "label": "まもなく開始", "changed": True}
        assert next_of(ws, "state")["state"] == "open"
        assert (await api(client, token, room, "/state", {"state": "live"})).json()["changed"] is True
        assert next_of(ws, "state")["accepting"] is True
        assert (await api(client, token, room, "/state", {"state": "ended"})).json()["state"] == "ended"
        back = await api(client, token, room, "/state", {"state": "open"})
        assert back.status_code == 409 and back.json()["error"]["code"] == "invalid_transition"
        assert (await api(client, token, room, "/state", {"state": "bogus"})).status_code == 400


async def test_moderation_delay_lets_a_moderator_hide_first(client, room, tokens):
    async with in_room(client, tokens, room, "member", "host") as (viewer, host):
        await api(client, tokens["host"], room, "/controls", {"delay_seconds": 3})
        next_of(viewer, "controls")
        assert post(viewer, "問題のある投稿", "d1")["type"] == "ack"
        assert [c["text"] for c in live_items(host, 1)] == ["問題のある投稿"]  # moderators at once
        await api(client, tokens["host"], room, "/comments/1/hide", {})
        assert post(viewer, "普通の投稿", "d2")["type"] == "ack"
        # The hidden one never reaches the viewer; the next arrives (late) on its own.
        assert [c["text"] for c in live_items(viewer, 1)] == ["普通の投稿"]


async def test_concurrent_hides_have_one_winner_and_one_log_entry(db, settings, room):
    from sqlalchemy import func, select

    from core.db import Database
    from live.moderation.models import ModerationAction
    from live.rooms import posting, service
    from tests.live.rooms_support import member

    author = await member(db, "member@example.jp")
    await posting.post_comment(db, room, author, "消される予定", None)
    mods = [await member(db, "host@example.jp"), await member(db, "moderator@example.jp")]
    engines = [Database(settings.database_url) for _ in range(2)]

    async def hide(i: int) -> str:
        async with engines[i].session() as s:
            try:
                await service.set_hidden(s, room, 1, mods[i], True, "同時")
            except service.RoomError as exc:
                return exc.code
            return "hidden"

    try:
        import asyncio

        results = await asyncio.gather(hide(0), hide(1))
    finally:
        for e in engines:
            await e.dispose()
    assert sorted(results) == ["already_hidden", "hidden"]
    logged = await db.scalar(select(func.count()).where(ModerationAction.action == "hide"))
    assert logged == 1
    assert await service.comments_between(db, room, 0, 1, visible_only=True) == []
    assert len(await service.comments_between(db, room, 0, 1)) == 1


async def test_viewer_samples_are_recorded_and_listed(client, db, room, tokens):
    from live.rooms.presence import record_viewers

    await record_viewers(db, room, 3)
    samples = (await api(client, tokens["host"], room, "/viewers")).json()
    assert [s["viewers"] for s in samples] == [3]


async def test_the_control_page_is_not_counted_as_a_viewer(client, room, tokens):
    async with connect(client, "/ws/rooms", headers=bearer(tokens["member"])) as viewer:
        assert join(viewer, room)[0]["viewers"] == 1
        async with connect(client, "/ws/rooms", headers=bearer(tokens["host"])) as control:
            control.send_text(json.dumps({"type": "join", "room": room, "control": True}))
            assert next_of(control, "welcome")["viewers"] == 1  # the member, not the host's own feed
            async with connect(client, "/ws/rooms", headers=bearer(tokens["fukuoka"])) as second:
                assert join(second, room)[0]["viewers"] == 2
                # The host watching as a viewer (the broadcast page) does count.
                async with connect(client, "/ws/rooms", headers=bearer(tokens["moderator"])) as watching:
                    assert join(watching, room)[0]["viewers"] == 3
