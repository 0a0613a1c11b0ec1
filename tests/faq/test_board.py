"""The live Q&A board through the JSON API and the WebSocket, as members and organisers use it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from faq.models import Question, QuestionStatus, StudySession
from tests.helpers import csrf, login

ORIGIN = {"origin": "http://127.0.0.1:8000"}


async def api(client, path, body=None):
    return await client.post(
        "/api/faq" + path, json=body or {}, headers={"x-csrftoken": await csrf(client), "accept": "application/json"}
    )


async def live_session(db) -> StudySession:
    return (await db.execute(select(StudySession).where(StudySession.number == 3))).scalar_one()


def error_code(response) -> str:
    return response.json()["error"]["code"]


async def test_questions_votes_merge_dismiss_answer_and_draft(client, demo, db):
    session = await live_session(db)
    sid = session.id
    await login(client, "member@example.jp")
    r = await api(
        client, f"/sessions/{sid}/questions", {"body": "接種会場の駐車場は足りていますか？", "category": "会場運営"}
    )
    assert r.status_code == 201, r.text
    q1 = r.json()["id"]
    assert error_code(await api(client, f"/questions/{q1}/vote")) == "own_question"

    await login(client, "fukuoka@example.jp")
    r = await api(client, f"/sessions/{sid}/questions", {"body": "会場の駐車場の台数の目安は？", "anonymous": True})
    q2 = r.json()["id"]
    assert (await api(client, f"/questions/{q1}/vote")).json()["votes"] == 1
    r = await api(client, f"/questions/{q1}/vote")
    assert r.status_code == 409 and error_code(r) == "already_voted"

    await login(client, "kochi@example.jp")
    await api(client, f"/questions/{q2}/vote")
    # Members cannot moderate.
    r = await api(client, f"/questions/{q2}/merge", {"into": q1})
    assert r.status_code == 403 and error_code(r) == "forbidden"
    # An anonymous question is anonymous to other participants...
    board = (await client.get(f"/api/faq/sessions/{sid}/board")).json()
    view = next(q for q in board["questions"] if q["id"] == q2)
    assert view["author"] == "匿名" and view["asker_names"] == []

    # ...but never to the organisers, who merge the duplicate: askers and votes combine.
    await login(client, "naha@example.jp")
    board = (await client.get(f"/api/faq/sessions/{sid}/board")).json()
    assert "博多 美咲" in next(q for q in board["questions"] if q["id"] == q2)["author"]
    other = (await db.execute(select(Question).where(Question.session_id != sid))).scalars().first()
    r = await api(client, f"/questions/{q2}/merge", {"into": other.id})
    assert r.status_code == 409 and error_code(r) == "other_session"
    r = await api(client, f"/questions/{q2}/merge", {"into": q1})
    assert r.status_code == 201 or r.status_code == 200, r.text
    merged = r.json()
    assert merged["id"] == q1 and merged["votes"] == 2  # fukuoka's vote stays, kochi's moves; fukuoka is now an asker
    board = (await client.get(f"/api/faq/sessions/{sid}/board")).json()
    target = next(q for q in board["questions"] if q["id"] == q1)
    assert target["askers"] == 2 and target["merged_bodies"] == ["会場の駐車場の台数の目安は？"]
    assert all(q["id"] != q2 for q in board["questions"])
    assert error_code(await api(client, f"/questions/{q2}/vote")) == "not_votable"
    db.expire_all()
    assert (await db.get(Question, q2)).status is QuestionStatus.MERGED  # still on record, not lost

    # Dismiss one with a reason the asker sees (and other members do not).
    await login(client, "member@example.jp")
    q3 = (await api(client, f"/sessions/{sid}/questions", {"body": "宣伝です<script>alert(1)</script>"})).json()["id"]
    await login(client, "naha@example.jp")
    assert error_code(await api(client, f"/questions/{q3}/dismiss", {"reason": ""})) == "empty"
    assert (await api(client, f"/questions/{q3}/dismiss", {"reason": "勉強会の趣旨と異なるため"})).status_code in (
        200,
        201,
    )
    assert error_code(await api(client, f"/questions/{q3}/vote")) == "not_votable"

    # Highlight, then answer in writing.
    assert (await api(client, f"/sessions/{sid}/answering", {"question_id": q1})).json()["answering_id"] == q1
    r = await api(client, f"/questions/{q1}/answer", {"answer": "1レーンあたり**20台**を目安にしています。"})
    assert r.json()["status"] == "answered"
    board = (await client.get(f"/api/faq/sessions/{sid}/board")).json()
    assert board["answering_id"] is None
    answered = next(q for q in board["questions"] if q["id"] == q1)
    assert answered["answer_html"] == "<p>1レーンあたり<strong>20台</strong>を目安にしています。</p>\n"
    await api(
        client, f"/questions/{q1}/answer", {"answer": "<script>alert(1)</script>\n\n![図](https://example.jp/a.png)"}
    )
    answered = next(
        q for q in (await client.get(f"/api/faq/sessions/{sid}/board")).json()["questions"] if q["id"] == q1
    )
    assert "<script" not in answered["answer_html"] and "alert" not in answered["answer_html"]
    assert 'class="image-link"' in answered["answer_html"] and "<img" not in answered["answer_html"]

    await login(client, "member@example.jp")
    board = (await client.get(f"/api/faq/sessions/{sid}/board")).json()
    mine = next(q for q in board["questions"] if q["id"] == q3)
    assert mine["status"] == "dismissed" and mine["dismiss_reason"] == "勉強会の趣旨と異なるため"
    await login(client, "kochi@example.jp")
    board = (await client.get(f"/api/faq/sessions/{sid}/board")).json()
    assert all(q["id"] != q3 for q in board["questions"])
    assert error_code(await api(client, f"/sessions/{sid}/end")) == "forbidden"

    # Ending the session compiles a draft from the answered questions; organisers publish it.
    await login(client, "naha@example.jp")
    r = await api(client, f"/sessions/{sid}/end")
    doc_id = r.json()["document_id"]
    page = await client.get(f"/faq/documents/{doc_id}/edit")
    assert "接種会場の駐車場は足りていますか？" in page.text and "宣伝です" not in page.text
    r = await api(client, f"/sessions/{sid}/questions", {"body": "終了後の質問"})
    assert r.status_code == 409 and error_code(r) == "ended"
    r = await api(client, f"/documents/{doc_id}/publish", {"reason": ""})
    assert r.json()["version"] == 1
    found = (await client.get("/api/faq/search", params={"q": "駐車"})).json()
    assert any("駐車場" in h["question"] for h in found["hits"])
    # v2 needs a change note.
    r = await api(client, f"/documents/{doc_id}/publish", {"reason": ""})
    assert r.status_code == 400 and error_code(r) == "empty"
    assert (await api(client, f"/documents/{doc_id}/publish", {"reason": "誤字を修正"})).json()["version"] == 2
    v1 = await client.get(f"/faq/documents/{doc_id}/v/1")
    assert v1.status_code == 200 and "旧版です" in v1.text


async def test_premoderation_queue(client, demo, db):
    sid = (await live_session(db)).id
    await login(client, "naha@example.jp")
    assert (await api(client, f"/sessions/{sid}/premoderation", {"on": True})).json()["premoderation"] is True
    await login(client, "member@example.jp")
    q = (await api(client, f"/sessions/{sid}/questions", {"body": "承認待ちの質問"})).json()
    assert q["status"] == "pending"
    await login(client, "kochi@example.jp")
    board = (await client.get(f"/api/faq/sessions/{sid}/board")).json()
    assert all(x["id"] != q["id"] for x in board["questions"])
    assert error_code(await api(client, f"/questions/{q['id']}/vote")) == "not_votable"
    await login(client, "mhlw@example.jp")  # the other organiser
    assert (await api(client, f"/questions/{q['id']}/approve")).json()["status"] == "open"
    await login(client, "kochi@example.jp")
    board = (await client.get(f"/api/faq/sessions/{sid}/board")).json()
    assert any(x["id"] == q["id"] for x in board["questions"])


# Refusals (validation, CSRF, origin, login, role) come before any SQL that differs by database; the
# board's queries run on both in the tests above.
@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"body": ""}, "empty"),
        ({"body": "　\n "}, "empty"),
        ({"body": "長" * 1001}, "too_long"),
        ({"body": "ok", "category": "存在しないカテゴリ"}, "bad_category"),
    ],
)
async def test_bad_questions_are_refused(client, demo, db, body, code):
    sid = (await live_session(db)).id
    await login(client, "member@example.jp")
    r = await api(client, f"/sessions/{sid}/questions", body)
    assert r.status_code == 400 and error_code(r) == code


@pytest.mark.sqlite_only
async def test_malformed_requests_and_access(client, demo, db):
    sid = (await live_session(db)).id
    r = await client.get(f"/api/faq/sessions/{sid}/board")
    assert r.status_code == 401
    await login(client, "member@example.jp")
    r = await client.post(
        f"/api/faq/sessions/{sid}/questions",
        content=b"{not json",
        headers={"x-csrftoken": await csrf(client), "content-type": "application/json"},
    )
    assert r.status_code == 400
    r = await client.post(f"/api/faq/sessions/{sid}/questions", json={"body": "csrf無し"})
    assert r.status_code == 403
    assert (await api(client, "/sessions/999999/questions", {"body": "x"})).status_code == 404
    assert (await api(client, "/questions/999999/vote")).status_code == 404
    assert (await client.get("/faq/sessions/999999")).status_code == 404
    r = await api(client, f"/questions/{0}/merge", {"into": "x"})
    assert r.status_code == 400
    # Pages render, escaping what members wrote.
    await api(client, f"/sessions/{sid}/questions", {"body": "<img src=x onerror=alert(1)>"})
    page = await client.get(f"/faq/sessions/{sid}")
    assert page.status_code == 200 and "<img src=x" not in page.text


async def test_websocket_delivers_live_and_resumes(client, demo, db):
    sid = (await live_session(db)).id
    await login(client, "kochi@example.jp")
    with await client.websocket_connect(f"/ws/faq/sessions/{sid}", headers=ORIGIN) as ws:
        await _live_part(client, ws, sid)

    # Resuming from an older position sends only what changed since.
    await login(client, "member@example.jp")
    with await client.websocket_connect(f"/ws/faq/sessions/{sid}?since={POS[0] + 1}", headers=ORIGIN) as ws:
        resumed = json.loads(ws.receive_bytes(timeout=10))
    assert resumed["type"] == "snapshot"
    assert [x["id"] for x in resumed["questions"]] == [POS[1]]  # the asker still sees the dismissed question
    assert resumed["questions"][0]["dismiss_reason"] == "重複のため"


POS: list[int] = []


async def _live_part(client, ws, sid):
    POS.clear()
    snap = json.loads(ws.receive_bytes(timeout=10))
    assert snap["type"] == "snapshot" and len(snap["questions"]) == 2
    assert (snap["state"], snap["state_label"]) == ("live", "開催中")  # the page shows the server's label
    position = snap["position"]
    await login(client, "member@example.jp")  # the socket keeps kochi's identity
    q = (await api(client, f"/sessions/{sid}/questions", {"body": "匿名の質問です", "anonymous": True})).json()
    update = json.loads(ws.receive_bytes(timeout=10))
    assert update["type"] == "question" and update["position"] == position + 1
    assert update["question"]["author"] == "匿名" and update["question"]["mine"] is False
    await login(client, "naha@example.jp")
    await api(client, f"/questions/{q['id']}/dismiss", {"reason": "重複のため"})
    removed = json.loads(ws.receive_bytes(timeout=10))
    assert removed == {"type": "removed", "position": position + 2, "id": q["id"]}
    await api(client, f"/sessions/{sid}/answering", {"question_id": snap["questions"][0]["id"]})
    board = json.loads(ws.receive_bytes(timeout=10))
    assert board["type"] == "board" and board["answering_id"] == snap["questions"][0]["id"]
    assert (board["state"], board["state_label"]) == ("live", "開催中")
    POS.extend([position, q["id"]])


@pytest.mark.sqlite_only
async def test_websocket_refuses_foreign_origin_and_strangers(client, demo, db):
    sid = (await live_session(db)).id
    await login(client, "member@example.jp")
    with await client.websocket_connect(f"/ws/faq/sessions/{sid}", headers={"origin": "https://evil.example"}) as ws:
        assert json.loads(ws.receive_bytes(timeout=10))["code"] == "origin_not_allowed"
    with await client.websocket_connect("/ws/faq/sessions/999999", headers=ORIGIN) as ws:
        assert json.loads(ws.receive_bytes(timeout=10))["code"] == "not_found"
    client.cookies.clear()
    with await client.websocket_connect(f"/ws/faq/sessions/{sid}", headers=ORIGIN) as ws:
        assert json.loads(ws.receive_bytes(timeout=10))["code"] == "login_required"


@pytest.mark.sqlite_only
async def test_the_new_series_form_is_only_for_those_who_may_submit_it(client, demo):
    await login(client, "member@example.jp")
    page = await client.get("/faq/series/new", headers={"accept": "text/html"})
    assert page.status_code == 403 and "ホスト" in page.text
    assert 'href="/faq/series/new"' not in (await client.get("/faq")).text
    await login(client, "host@example.jp")
    page = await client.get("/faq/series/new", headers={"accept": "text/html"})
    assert page.status_code == 200 and 'action="/faq/series"' in page.text
