"""Schedule pages, operator forms, host buttons, JSON API and the live state socket."""

from __future__ import annotations

import datetime as dt

import pytest
from litestar.exceptions import WebSocketDisconnect
from sqlalchemy import select

from core.db import utcnow
from core.events import InProcessBus
from live.models import Broadcast, Program
from live.schedule import materialise, service
from tests.helpers import csrf, login, post_form

FORM = {
    "title": "財政勉強会ラジオ",
    "description": "予算編成の<b>裏話</b>",
    "start_date": "2031-01-10",
    "start_time": "21:00",
    "end_time": "22:00",
    "lobby_minutes": "10",
    "rrule": "FREQ=WEEKLY;BYDAY=FR",
    "timezone": "Asia/Tokyo",
    "stream_url": "https://zoom.us/j/123",
    "guests": "mhlw@example.jp\n外部 ゲスト<script>",
    "active": "on",
}


pytestmark = pytest.mark.sqlite_only


async def member_id(db, email):
    from core.members import service as members

    return (await members.get_by_email(db, email)).id


async def test_pages_are_members_only(client, demo):
    for url in ("/schedule", "/schedule/programs", "/broadcasts/1", "/api/schedule"):
        r = await client.get(url, follow_redirects=False)
        assert r.status_code in (303, 401), url
    await login(client, "member@example.jp")
    r = await client.get("/schedule/programs/new")
    assert r.status_code == 403 and "運営" in r.text
    r = await client.post("/api/schedule/programs", json={}, headers={"x-csrftoken": await csrf(client)})
    assert r.status_code == 403


async def test_operator_creates_program_with_clear_errors(client, db, demo):
    await login(client, "operator@example.jp")
    host = await member_id(db, "host@example.jp")
    bad = {
        **FORM,
        "personality_id": str(host),
        "rrule": "FREQ=WEEKLY;BYDAY=XX",
        "end_time": "20:00",
        "stream_url": "ftp://x",
        "timezone": "Asia/Nowhere",
    }
    r = await post_form(client, "/schedule/programs/new", bad)
    assert r.status_code == 400
    for message in (
        "繰り返しルールを解釈できません",
        "終了時刻は開始時刻より後に",
        "https:// で始まるURL",
        "タイムゾーン「Asia/Nowhere」は存在しません",
    ):
        assert message in r.text
    assert 'value="財政勉強会ラジオ"' in r.text  # what was typed is kept
    r = await post_form(client, "/schedule/programs/new", {**FORM, "personality_id": "987654"})
    assert r.status_code == 400 and "指定されたパーソナリティ（メンバー）が見つかりません。" in r.text

    r = await post_form(client, "/schedule/programs/new", {**FORM, "personality_id": str(host)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert "番組を作成しました。" in page.text and "毎週 金曜 21:00〜22:00" in page.text
    assert "&lt;b&gt;裏話&lt;/b&gt;" in page.text and "外部 ゲスト&lt;script&gt;" in page.text
    assert "霞 直子" in page.text  # member guest by e-mail
    program = (await db.execute(select(Program).where(Program.title == "財政勉強会ラジオ"))).unique().scalar_one()

    # Edit: an end before start is refused; a valid edit saves.
    r = await post_form(
        client, f"/schedule/programs/{program.id}/edit", {**FORM, "personality_id": str(host), "end_time": "21:00"}
    )
    assert r.status_code == 400 and "終了時刻は開始時刻より後に" in r.text
    r = await post_form(
        client,
        f"/schedule/programs/{program.id}/edit",
        {**FORM, "personality_id": str(host), "title": "財政ラジオ"},
        follow_redirects=True,
    )
    assert "番組を保存しました。" in r.text and "財政ラジオ" in r.text

    # Exceptions through the form: a bad one comes back in Japanese, a good one is listed.
    r = await post_form(
        client, f"/schedule/programs/{program.id}/exceptions", {"occurrence": "2031-01-11T21:00", "kind": "cancel"}
    )
    assert r.status_code == 400 and "指定された回はこの番組の予定にありません。" in r.text
    r = await post_form(
        client,
        f"/schedule/programs/{program.id}/exceptions",
        {"occurrence": "2031-01-17T21:00", "kind": "cancel", "note": "年度末"},
        follow_redirects=True,
    )
    assert "変更を登録しました。" in r.text and "年度末" in r.text

    # Hostile identifiers never 500.
    for url in (
        "/schedule/programs/999999",
        "/schedule/personalities/999999",
        "/broadcasts/999999",
        "/schedule?week=banana&section=abc&personality=-1",
    ):
        assert (await client.get(url)).status_code in (200, 404), url


async def test_rotation_form_creates_one_program_per_weekday(client, db, demo):
    await login(client, "operator@example.jp")
    ids = {e: await member_id(db, f"{e}@example.jp") for e in ("host", "fukuoka", "naha")}
    form = {
        "title": "朝の庁内ラジオ",
        "start_date": "2031-03-03",
        "start_time": "08:30",
        "end_time": "08:45",
        "lobby_minutes": "5",
        "skip_holidays": "on",
        "personality_mo": str(ids["host"]),
        "personality_we": str(ids["fukuoka"]),
        "personality_fr": str(ids["naha"]),
    }
    r = await post_form(client, "/schedule/rotation/new", {**form, "personality_tu": "31337"})
    assert r.status_code == 400 and "火曜日のパーソナリティが見つかりません。" in r.text
    r = await post_form(
        client, "/schedule/rotation/new", {k: v for k, v in form.items() if not k.startswith("personality")}
    )
    assert r.status_code == 400 and "少なくとも1つの曜日" in r.text
    r = await post_form(client, "/schedule/rotation/new", form, follow_redirects=True)
    assert "日替わりローテーションを作成しました。" in r.text
    rows = (
        (await db.execute(select(Program).where(Program.rotation == "朝の庁内ラジオ").order_by(Program.dtstart)))
        .unique()
        .scalars()
        .all()
    )
    assert [(p.rrule, p.personality_id) for p in rows] == [
        ("FREQ=WEEKLY;BYDAY=MO", ids["host"]),
        ("FREQ=WEEKLY;BYDAY=WE", ids["fukuoka"]),
        ("FREQ=WEEKLY;BYDAY=FR", ids["naha"]),
    ]
    assert all(p.skip_holidays and p.duration_minutes == 15 for p in rows)
    r = await post_form(client, "/schedule/rotation/new", form)
    assert r.status_code == 400 and "同じ名前のローテーション" in r.text


async def make_live_soon(db, personality_email: str) -> Broadcast:
    now = utcnow()
    p = Program(
        title="まもなく番組",
        personality_id=await member_id(db, personality_email),
        rrule="",
        dtstart=now + dt.timedelta(hours=1),
        duration_minutes=30,
        lobby_minutes=10,
    )
    db.add(p)
    await db.commit()
    await materialise.materialise_program(db, InProcessBus(), p.id)
    return (await db.execute(select(Broadcast).where(Broadcast.program_id == p.id))).unique().scalar_one()


async def test_host_buttons_and_state_changes(client, db, demo):
    b = await make_live_soon(db, "host@example.jp")
    await login(client, "member@example.jp")
    page = await client.get(f"/broadcasts/{b.id}")
    assert page.status_code == 200 and "まもなく番組" in page.text and "放送を開始" not in page.text
    assert "{% block room %}" not in page.text
    r = await post_form(client, f"/broadcasts/{b.id}/state", {"action": "live"})
    assert r.status_code == 403

    await login(client, "host@example.jp")
    page = await client.get(f"/broadcasts/{b.id}")
    assert "待機室を開く" in page.text and "放送を開始" in page.text
    r = await post_form(client, f"/broadcasts/{b.id}/state", {"action": "end"})
    assert r.status_code == 409 and "まだ開始していない放送は終了できません。" in r.text
    r = await post_form(client, f"/broadcasts/{b.id}/state", {"action": "live"}, follow_redirects=True)
    assert "放送を開始しました。" in r.text and "ON AIR" in r.text
    home = await client.get("/")
    assert "いま放送中" in home.text and "まもなく番組" in home.text.split("次の放送")[0]
    r = await client.post(f"/api/schedule/broadcasts/{b.id}/end", headers={"x-csrftoken": await csrf(client)})
    assert r.status_code == 200 and r.json()["state"] == "ended"
    r = await client.post(f"/api/schedule/broadcasts/{b.id}/live", headers={"x-csrftoken": await csrf(client)})
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"


async def test_json_api(client, db, demo):
    await login(client, "operator@example.jp")
    token = await csrf(client)
    r = await client.get("/api/schedule?days=14")
    assert r.status_code == 200 and r.json() and {"state", "personality", "guests", "starts_at"} <= set(r.json()[0])
    r = await client.get("/api/schedule?days=500")
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_range"
    r = await client.get("/api/schedule?start=yesterday")
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_date"
    r = await client.get("/api/schedule/now")
    assert r.status_code == 200 and "on_air" in r.json()

    body = {
        "title": "API番組",
        "start_date": "2031-05-01",
        "start_time": "19:00",
        "end_time": "18:00",
        "personality_id": await member_id(db, "host@example.jp"),
        "rrule": "FREQ=MINUTELY",
    }
    r = await client.post("/api/schedule/programs", json=body, headers={"x-csrftoken": token})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "invalid_program" and set(error["fields"]) == {"end_time", "rrule"}
    r = await client.post(
        "/api/schedule/programs",
        json={**body, "end_time": "20:00", "rrule": "FREQ=DAILY;COUNT=3"},
        headers={"x-csrftoken": token},
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["summary"] == "毎日 19:00〜20:00"
    r = await client.post(
        f"/api/schedule/programs/{created['id']}/exceptions",
        json={"occurrence": "2031-05-02T19:00", "kind": "substitute", "personality_id": 424242},
        headers={"x-csrftoken": token},
    )
    assert (
        r.status_code == 400 and r.json()["error"]["fields"]["personality_id"] == "指定されたメンバーが見つかりません。"
    )
    r = await client.post(
        f"/api/schedule/programs/{created['id']}/exceptions",
        json={"occurrence": "2031-05-02T19:00", "kind": "cancel"},
        headers={"x-csrftoken": token},
    )
    assert r.status_code == 201
    r = await client.get(f"/api/schedule/programs/{created['id']}")
    assert [e["kind"] for e in r.json()["exceptions"]] == ["cancel"]
    r = await client.post(
        "/api/schedule/programs",
        content=b"{not json",
        headers={"x-csrftoken": token, "content-type": "application/json"},
    )
    assert r.status_code == 400 and "error" in r.json()
    r = await client.get("/api/schedule/programs/999999")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_state_socket_streams_transitions_to_members_only(client, db, demo):
    b = await make_live_soon(db, "host@example.jp")
    origin = {"origin": "http://127.0.0.1:8000"}

    async def refused(headers):
        with (
            pytest.raises(WebSocketDisconnect) as info,
            await client.websocket_connect("/schedule/events", headers=headers) as ws,
        ):
            first = ws.receive_json(timeout=5)  # a foreign Origin is told why before the close
            assert first["type"] == "error" and first["code"] == "origin_not_allowed", first
            ws.receive_text(timeout=5)
        return info.value.code

    assert await refused(origin) == 4401  # not logged in
    await login(client, "member@example.jp")
    assert await refused({"origin": "https://evil.example"}) == 4403
    assert await refused({}) == 4403  # a cookie-authenticated socket must come from our pages
    with await client.websocket_connect("/schedule/events", headers=origin) as ws:
        assert ws.receive_json(timeout=5) == {"type": "hello"}
        await login(client, "moderator@example.jp")
        r = await post_form(client, f"/broadcasts/{b.id}/state", {"action": "open"}, follow_redirects=False)
        assert r.status_code == 303
        event = ws.receive_json(timeout=5)
        assert event["type"] == "broadcast_state" and event["broadcast_id"] == b.id and event["state"] == "open"
        assert event["label"] == "まもなく開始"  # pages show the server's label (BroadcastState.label)


async def test_broadcast_page_links_the_control_page_for_its_moderators_only(client, db):
    from tests.factories import live_show
    from tests.helpers import login
    from web.demo import load_demo

    await load_demo(db)
    show = await live_show(db, title="リンクの確認")
    await login(client, "host@example.jp")
    page = await client.get(f"/broadcasts/{show.id}", headers={"accept": "text/html"})
    assert f'href="/broadcasts/{show.id}/control"' in page.text
    client.cookies.clear()
    await login(client, "member@example.jp")
    page = await client.get(f"/broadcasts/{show.id}", headers={"accept": "text/html"})
    assert "/control" not in page.text


async def test_any_future_week_is_computed_from_the_rules(client, db, demo):
    from live.schedule import projection, recurrence
    from live.schedule.demo import ROTATION

    await login(client, "member@example.jp")
    # The week of 4 May 2027 (みどりの日, a Tuesday), far beyond the 30-day horizon: nothing is stored there.
    monday = dt.date(2027, 5, 3)
    start, _ = service.jst_day_bounds(monday)
    assert await service.broadcasts_between(db, start, start + dt.timedelta(days=7)) == []
    page = await client.get("/schedule", params={"week": "2027-05-05"})
    assert page.status_code == 200 and "2027年5月3日（月）からの1週間" in page.text
    days = page.text.split('<section class="day')[1:]
    assert len(days) == 7
    rotation = (await db.execute(select(Program).where(Program.rotation == ROTATION))).scalars().all()
    # Every weekday: the rotation (holiday-skipped ones marked), Friday also the orientation.
    for n, day in enumerate(days[:5]):
        assert ROTATION in day, n
        assert 'href="/schedule/programs/' in day and "放送はありません" not in day
    assert "祝日（みどりの日）のため休止" in days[1] and "祝日（憲法記念日）のため休止" in days[0]
    assert "金曜オリエンテーション" in days[4] or "オリエンテーション" in days[4]
    # Exactly the rules' occurrences, and nothing written.
    entries = await projection.week_entries(db, start, start + dt.timedelta(days=7), utcnow())
    expected = []
    for program in (await db.execute(select(Program).where(Program.active.is_(True)))).unique().scalars():
        exceptions = await service.exceptions_of(db, program.id)
        expected += [
            (o.starts_at, program.id)
            for o in recurrence.occurrences(program, exceptions, start, start + dt.timedelta(days=7))
        ]
    assert sorted((e.starts_at, e.program.id) for e in entries) == sorted(expected)
    assert len([e for e in entries if e.program.id in {p.id for p in rotation}]) == 5
    assert await service.broadcasts_between(db, start, start + dt.timedelta(days=7)) == []
    # A personality filter applies to planned entries too.
    tuesday = next(p for p in rotation if p.rrule.endswith("BYDAY=TU"))
    only = await client.get("/schedule", params={"week": "2027-05-03", "personality": str(tuesday.personality_id)})
    assert only.text.count(ROTATION) >= 1 and "オリエンテーション" not in only.text.split('<div class="week">')[1]
    # Beyond the holiday calendar: a clear notice, this week instead.
    far = await client.get("/schedule", params={"week": "2100-01-04"})
    assert far.status_code == 200 and "2099年までを表示できます" in far.text


async def test_the_program_form_s_recurrence_editor_round_trips(client, db, demo):
    await login(client, "operator@example.jp")
    host = await member_id(db, "host@example.jp")
    page = await client.get("/schedule/programs/new")
    assert 'name="repeat"' in page.text and 'name="day_MO"' in page.text and 'id="f-rrule"' in page.text
    assert '<option value="weekly" selected>' in page.text  # a friendly default, the raw rule still there
    editor = {**FORM, "personality_id": str(host), "rrule": "", "repeat": "monthly", "interval": "1"}
    # A weekly rule without a day is refused on the editor, not on the RRULE.
    r = await post_form(client, "/schedule/programs/new", {**editor, "repeat": "weekly"})
    assert r.status_code == 400 and "曜日を1つ以上選んでください" in r.text and 'id="e-repeat"' in r.text
    r = await post_form(
        client,
        "/schedule/programs/new",
        {
            **editor,
            "title": "月例 法規相談",
            "nth": "2",
            "nth_day": "TU",
            "until": "2031-12-31",
            "start_date": "2031-01-14",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    program = (await db.execute(select(Program).where(Program.title == "月例 法規相談"))).unique().scalar_one()
    assert program.rrule == "FREQ=MONTHLY;BYDAY=2TU;UNTIL=20311231T145959Z"
    edit = await client.get(f"/schedule/programs/{program.id}/edit")
    assert '<option value="monthly" selected>' in edit.text and '<option value="2" selected>' in edit.text
    assert '<option value="TU" selected>' in edit.text and 'value="2031-12-31"' in edit.text
    assert 'value="FREQ=MONTHLY;BYDAY=2TU"' in edit.text  # the rule itself, its end in the end-date field
    # Experts: a rule the editor cannot show stays raw, and is saved as typed.
    r = await post_form(
        client,
        f"/schedule/programs/{program.id}/edit",
        {**editor, "title": "月例 法規相談", "repeat": "custom", "rrule": "FREQ=MONTHLY;BYMONTHDAY=1,15", "until": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    await db.refresh(program)
    assert program.rrule == "FREQ=MONTHLY;BYMONTHDAY=1,15"
    edit = await client.get(f"/schedule/programs/{program.id}/edit")
    assert '<option value="custom" selected>' in edit.text and '<details class="rrule-raw" open>' in edit.text
