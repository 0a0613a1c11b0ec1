"""The notifications contract: follows, the list and mark-read, settings, pages, unsubscribe and the bell."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import delete, select

from core.db import utcnow
from core.events import InProcessBus
from core.members.models import Member
from core.notify import prefs
from core.notify.mail import unsubscribe_url
from core.notify.models import Kind, Notification
from faq.models import StudySeries, StudySession
from live.models import BroadcastState
from live.schedule.transitions import transition
from tests.factories import make_broadcast, member_id
from tests.helpers import csrf, login, post_form, signup

ORIGIN = {"origin": "http://127.0.0.1:8000"}


pytestmark = pytest.mark.sqlite_only


async def call(client, method, path, body=None):
    headers = {"x-csrftoken": await csrf(client), "accept": "application/json"}
    return await client.request(method, path, json=body, headers=headers)


async def quiet_inbox(db) -> None:
    """Demo data already notified members of its published FAQ資料; start each test from none."""
    await db.execute(delete(Notification))
    await db.commit()


async def upcoming(db):
    start = utcnow() + dt.timedelta(hours=2)
    return await make_broadcast(
        db,
        title="お昼の庁内放送",
        host_email="host@example.jp",
        section="ワクチン接種情報交換課",
        start=start,
        state=BroadcastState.SCHEDULED,
    )


async def test_follow_api(client, demo, db):
    b = await upcoming(db)
    await login(client, "member@example.jp")
    r = await call(client, "POST", "/api/follows", {"target": "program", "id": b.program_id})
    assert r.status_code == 201, r.text
    follow = r.json()
    assert follow["target"] == "program" and follow["target_id"] == b.program_id and follow["name"] == "お昼の庁内放送"
    again = await call(client, "POST", "/api/follows", {"target": "program", "id": b.program_id})
    assert again.status_code == 200 and again.json()["id"] == follow["id"]
    listed = (await client.get("/api/follows")).json()
    assert [f["id"] for f in listed] == [follow["id"]]
    bad = await call(client, "POST", "/api/follows", {"target": "planet", "id": 1})
    assert (
        bad.status_code == 400
        and bad.json()["error"]["code"] == "invalid_input"
        and "target" in bad.json()["error"]["fields"]
    )
    missing = await call(client, "POST", "/api/follows", {"target": "series", "id": 99999})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    await login(client, "fukuoka@example.jp")
    assert (await call(client, "DELETE", f"/api/follows/{follow['id']}")).status_code == 404  # not theirs
    await login(client, "member@example.jp")
    assert (await call(client, "DELETE", f"/api/follows/{follow['id']}")).status_code == 204
    assert (await client.get("/api/follows")).json() == []


async def test_go_live_reaches_followers_and_mark_read(client, demo, db):
    await quiet_inbox(db)
    b = await upcoming(db)
    await login(client, "member@example.jp")
    await call(client, "POST", "/api/follows", {"target": "program", "id": b.program_id})
    await login(client, "kochi@example.jp")
    await call(client, "POST", "/api/follows", {"target": "personality", "id": await member_id(db, "host@example.jp")})
    await transition(db, InProcessBus(), b.id, BroadcastState.LIVE)
    await transition(db, InProcessBus(), b.id, BroadcastState.LIVE)  # idempotent: nothing twice
    for who in ("member@example.jp", "kochi@example.jp"):
        await login(client, who)
        items = (await client.get("/api/notifications")).json()
        assert [(n["kind"], n["title"], n["url"], n["read"]) for n in items] == [
            ("program_live", "放送が始まりました: お昼の庁内放送", f"/broadcasts/{b.id}", False)
        ]
        assert set(items[0]) >= {"id", "kind", "title", "url", "created_at", "read"}
    await login(client, "fukuoka@example.jp")  # follows nothing
    assert (await client.get("/api/notifications")).json() == []

    await login(client, "member@example.jp")
    first = (await client.get("/api/notifications")).json()[0]["id"]
    r = await call(client, "POST", "/api/notifications/read", {"ids": [first]})
    assert r.json() == {"updated": 1, "unread": 0}
    items = (await client.get("/api/notifications")).json()
    assert [(n["id"], n["read"]) for n in items] == [(first, True)]  # read ones stay listed
    assert (await call(client, "POST", "/api/notifications/read", {})).json() == {"updated": 0, "unread": 0}
    bad = await call(client, "POST", "/api/notifications/read", {"ids": "all"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_input"


async def test_settings_api(client, demo):
    await login(client, "member@example.jp")
    s = (await client.get("/api/notifications/settings")).json()
    assert s["lead_minutes"] == 10 and s["digest"] is False and s["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    assert s["program_live"] == {"app": True, "mail": False} and s["faq_published"] == {"app": True, "mail": True}
    assert set(s) >= {k.value for k in Kind}
    r = await call(
        client,
        "PUT",
        "/api/notifications/settings",
        {"program_live": {"mail": True}, "lead_minutes": 30, "digest": True, "quiet_hours": None},
    )
    assert r.status_code == 200, r.text
    s = (await client.get("/api/notifications/settings")).json()
    assert s["program_live"] == {"app": True, "mail": True} and s["lead_minutes"] == 30
    assert s["digest"] is True and s["quiet_hours"] is None
    for body, field in (
        ({"lead_minutes": -5}, "lead_minutes"),
        ({"lead_minutes": "ten"}, "lead_minutes"),
        ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "quiet_hours.start"),
        ({"quiet_hours": "night"}, "quiet_hours"),
        ({"program_live": {"app": "yes"}}, "program_live"),
        ({"volume": 11}, "volume"),
    ):
        r = await call(client, "PUT", "/api/notifications/settings", body)
        assert r.status_code == 400 and field in r.json()["error"]["fields"], (body, r.text)
    assert (await client.get("/api/notifications/settings")).json() == s  # refused changes changed nothing


async def test_settings_page_and_notifications_page(client, demo, db):
    await quiet_inbox(db)
    await login(client, "member@example.jp")
    page = await client.get("/settings/notifications")
    assert page.status_code == 200 and "番組開始前のリマインダー" in page.text
    form = {"lead_minutes": "15", "quiet": "on", "quiet_start": "23:00", "quiet_end": "06:30"}
    form |= {f"{k.value}.app": "on" for k in Kind} | {"faq_published.mail": "on"}
    r = await post_form(client, "/settings/notifications", form, follow_redirects=False)
    assert r.status_code == 303
    s = (await client.get("/api/notifications/settings")).json()
    assert s["lead_minutes"] == 15 and s["quiet_hours"] == {"start": "23:00", "end": "06:30"}
    assert s["faq_published"] == {"app": True, "mail": True} and s["question_answered"] == {"app": True, "mail": False}
    bad = await post_form(client, "/settings/notifications", {**form, "lead_minutes": "99999"})
    assert bad.status_code == 400 and "0〜1440" in bad.text
    late = await post_form(client, "/settings/notifications", {**form, "quiet_end": "24:00"})
    assert late.status_code == 400 and '<p class="error">HH:MM で入力してください。</p>' in late.text
    assert (await client.get("/api/notifications/settings")).json() == s  # refused forms changed nothing
    page = await client.get("/notifications")
    assert page.status_code == 200 and "通知はまだありません" in page.text


async def test_unsubscribe_link_works_without_login_and_refuses_bad_signatures(client, demo, db, settings):
    mid = await member_id(db, "member@example.jp")
    link = unsubscribe_url(settings, mid, "faq_published")
    path = urlsplit(link).path + "?" + urlsplit(link).query
    page = await client.get(path)
    assert page.status_code == 200 and "配信を停止する" in page.text
    assert (await prefs.load(db, mid)).mail(Kind.FAQ_PUBLISHED) is True  # GET changes nothing
    q = parse_qs(urlsplit(link).query)
    forged = f"/notifications/unsubscribe?m={mid}&k=faq_published&s={'0' * 32}"
    for bad in (
        forged,
        f"/notifications/unsubscribe?m={mid + 1}&k=faq_published&s={q['s'][0]}",
        "/notifications/unsubscribe",
    ):
        r = await client.post(
            bad, content=b"List-Unsubscribe=One-Click", headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert r.status_code == 400 and "配信停止リンクは正しくありません" in r.text, bad
    assert (await prefs.load(db, mid)).mail(Kind.FAQ_PUBLISHED) is True
    # RFC 8058 one-click: a POST from the mail client, no cookie, no CSRF token.
    r = await client.post(
        path, content=b"List-Unsubscribe=One-Click", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 200 and "停止しました" in r.text
    db.expire_all()
    after = await prefs.load(db, mid)
    assert after.mail(Kind.FAQ_PUBLISHED) is False and after.app(Kind.FAQ_PUBLISHED) is True
    assert after.mail(Kind.QUESTION_ANSWERED) is True


async def test_signup_notifies_operators_in_app(client, demo, db):
    await quiet_inbox(db)
    r = await signup(client)
    assert r.status_code == 303
    await login(client, "operator@example.jp")
    items = (await client.get("/api/notifications")).json()
    assert [(n["kind"], n["url"]) for n in items] == [("signup_pending", "/admin/members")]
    assert "新規 登録子" in items[0]["title"]
    await login(client, "member@example.jp")
    assert (await client.get("/api/notifications")).json() == []


async def test_bell_updates_live_when_a_question_is_answered(client, demo, db):
    await quiet_inbox(db)
    session = (await db.execute(select(StudySession).where(StudySession.number == 3))).scalar_one()
    await login(client, "member@example.jp")
    r = await call(
        client, "POST", f"/api/faq/sessions/{session.id}/questions", {"body": "会場の暖房はどうしていますか？"}
    )
    qid = r.json()["id"]
    with await client.websocket_connect("/ws/notifications", headers=ORIGIN) as ws:
        assert json.loads(ws.receive_text(timeout=5)) == {"type": "unread", "count": 0}
        await login(client, "naha@example.jp")  # an organiser answers (the socket stays the member's)
        r = await call(client, "POST", f"/api/faq/questions/{qid}/answer", {"answer": "ストーブを2台置いています。"})
        assert r.status_code == 201, r.text
        assert json.loads(ws.receive_text(timeout=5)) == {"type": "unread", "count": 1}
    await login(client, "member@example.jp")
    [n] = (await client.get("/api/notifications")).json()
    assert n["kind"] == "question_answered" and n["url"] == f"/faq/sessions/{session.id}#q{qid}"
    assert n["body"] == "回答: ストーブを2台置いています。"


async def test_follow_buttons_on_program_personality_and_series_pages(client, demo, db):
    b = await upcoming(db)
    series = (await db.execute(select(StudySeries))).scalars().first()
    host = (await db.execute(select(Member).where(Member.email == "host@example.jp"))).scalar_one()
    await login(client, "member@example.jp")
    for path, target, tid in (
        (f"/schedule/programs/{b.program_id}", "program", b.program_id),
        (f"/schedule/personalities/{host.id}", "personality", host.id),
        (f"/faq/series/{series.id}", "series", series.id),
    ):
        page = await client.get(path)
        assert f'data-follow-target="{target}" data-follow-id="{tid}"' in page.text, path
    # Without JavaScript the button is a form that follows and comes back.
    r = await post_form(
        client,
        "/follows",
        {"target": "series", "id": str(series.id), "next": f"/faq/series/{series.id}"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/faq/series/{series.id}"
    assert [(f["target"], f["target_id"]) for f in (await client.get("/api/follows")).json()] == [("series", series.id)]
