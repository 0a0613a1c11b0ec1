"""The one search: /search, GET /api/search, the glossary editor and the index lifecycle."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.events import InProcessBus
from core.members.models import Member
from core.search.models import SearchDocument
from faq.models import StudySession
from live import search_feed
from live.models import BroadcastState
from live.rooms.models import RoomComment
from live.rooms.service import set_hidden
from live.schedule.transitions import transition
from tests.factories import live_show
from tests.helpers import csrf, login, post_form
from web.search_index import rebuild

pytestmark = pytest.mark.sqlite_only


async def api(client, path, body=None):
    return await client.post(
        "/api/faq" + path, json=body or {}, headers={"x-csrftoken": await csrf(client), "accept": "application/json"}
    )


async def find(client, q, **params):
    r = await client.get("/api/search", params={"q": q, **params})
    assert r.status_code == 200, r.text
    return r.json()


async def test_members_only(client, demo):
    r = await client.get("/api/search", params={"q": "接種券"}, headers={"accept": "application/json"})
    assert r.status_code == 401
    r = await client.get("/search", params={"q": "接種券"}, follow_redirects=False)
    assert r.status_code == 401 and "接種券を紛失" not in r.text


@pytest.mark.both_databases
async def test_one_search_over_faq_with_hits_counts_and_filters(client, demo):
    await login(client, "member@example.jp")
    out = await find(client, "せっしゅけん")  # a reading finds 接種券
    entries = [h for h in out["hits"] if h["kind"] == "faq_entry"]
    assert entries and entries[0]["title"] == "接種券を紛失した方の再発行はどの窓口で受け付けていますか？"
    assert "<mark>接種券</mark>" in entries[0]["title_html"]
    assert out["counts"]["faq_entry"] == len(entries)
    assert entries[0]["url"].startswith("/faq/entries/")
    only = await find(client, "せっしゅけん", kind="broadcast")
    assert all(h["kind"] == "broadcast" for h in only["hits"]) and only["counts"] == out["counts"]
    assert (await find(client, "接種券", to="2000-01-01"))["total"] == 0
    page = await client.get("/search", params={"q": "せっしゅけん"})
    assert page.status_code == 200 and "<mark>接種券</mark>" in page.text


async def test_search_page_offers_section_and_series_dropdowns(client, demo, db):
    from core.sections.models import Section
    from faq.models import StudySeries

    await login(client, "member@example.jp")
    entry = next(h for h in (await find(client, "せっしゅけん"))["hits"] if h["kind"] == "faq_entry")
    series = await db.get(StudySeries, entry["series_id"])
    section = await db.get(Section, entry["section_id"])
    page = await client.get("/search", params={"q": "せっしゅけん", "series": str(series.id)})
    assert page.status_code == 200
    assert f'<option value="{series.id}" selected>{series.title}</option>' in page.text
    assert f'<option value="{section.id}">{section.name}</option>' in page.text  # offered, not chosen
    # The kind links keep the chosen series.
    assert f"kind=faq_entry&series={series.id}" in page.text
    by_series = await find(client, "せっしゅけん", series=str(series.id))
    assert by_series["hits"] and {h["series_id"] for h in by_series["hits"]} == {series.id}
    other = (await db.execute(select(Section.id).where(Section.id != section.id))).scalars().first()
    assert all(h["section_id"] == other for h in (await find(client, "せっしゅけん", section=str(other)))["hits"])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "nope"}, "kind"),
        ({"section": "x"}, "section"),
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "from"),
        ({"page": "0"}, "page"),
        ({"page": "999"}, "page"),
    ],
)
async def test_bad_filters_are_a_typed_400(client, demo, params, field):
    await login(client, "member@example.jp")
    r = await client.get("/api/search", params={"q": "接種券", **params})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_input" and field in r.json()["error"]["fields"]
    page = await client.get("/search", params={"q": "接種券", **params})
    assert page.status_code == 200 and 'id="search-error"' in page.text


@pytest.mark.parametrize(
    "q",
    [
        "接",
        "あ" * 500,
        "！？＃＄",
        "%_\\",
        "\x00\x07接種\x1b",
        '"接種券',
        "接種券'",
        "😀🙏",
        "<script>alert(1)</script>",
    ],
)
async def test_bad_input_is_a_normal_page(client, demo, q):
    await login(client, "member@example.jp")
    page = await client.get("/search", params={"q": q})
    assert page.status_code == 200 and "<script>alert(1)" not in page.text
    assert (await client.get("/api/search", params={"q": q})).status_code == 200


async def test_symbols_only_says_so(client, demo):
    await login(client, "member@example.jp")
    out = await find(client, "！？＃＄")
    assert out["total"] == 0 and out["message"] == "検索できる語が含まれていません。言葉を入れて検索してください。"


async def test_ime_slip_is_suggested_not_swapped(client, demo):
    await login(client, "member@example.jp")
    out = await find(client, "摂取券")
    assert out["total"] == 0 and out["suggestion"] == "接種券"
    assert "もしかして" in (await client.get("/search", params={"q": "摂取券"})).text


@pytest.mark.both_databases
async def test_glossary_change_applies_without_reindex(client, demo, db):
    await login(client, "member@example.jp")
    assert (await find(client, "空き待ち"))["total"] == 0
    r = await post_form(client, "/search/glossary", {"words": "キャンセル待ち、空き待ち", "note": "テスト"})
    assert r.status_code == 403
    await login(client, "operator@example.jp")
    r = await post_form(client, "/search/glossary", {"words": "空き待ち"}, follow_redirects=False)
    assert r.status_code == 400
    r = await post_form(client, "/search/glossary", {"words": "キャンセル待ち、空き待ち"}, follow_redirects=False)
    assert r.status_code == 303
    hits = (await find(client, "空き待ち"))["hits"]
    assert [h["title"] for h in hits if h["kind"] == "faq_entry"] == ["予約のキャンセル待ちはどう管理していますか？"]
    assert "空き待ち" in (await client.get("/search/glossary")).text


@pytest.mark.both_databases
async def test_lifecycle_questions_broadcasts_and_hidden_chat(client, demo, db):
    session = (await db.execute(select(StudySession).where(StudySession.number == 3))).scalar_one()
    await login(client, "member@example.jp")
    r = await api(client, f"/sessions/{session.id}/questions", {"body": "備蓄品の入れ替え周期はどう決めていますか？"})
    qid = r.json()["id"]
    await login(client, "naha@example.jp")
    assert (
        await api(client, f"/questions/{qid}/answer", {"answer": "賞味期限の一年前に入れ替えています。"})
    ).status_code == 201
    assert (await find(client, "備蓄品 入れ替え"))["total"] == 0  # the session has not ended yet
    await api(client, f"/sessions/{session.id}/end")
    hits = (await find(client, "備蓄品 入れ替え"))["hits"]
    assert [(h["kind"], h["id"]) for h in hits] == [("question", qid)]

    start = dt.datetime(2026, 11, 2, 3, 0, tzinfo=dt.UTC)
    b = await live_show(db, title="備蓄倉庫の点検 特集", section="動画課", start=start)
    host = b.personality_id
    db.add(RoomComment(broadcast_id=b.id, position=1, member_id=host, text="うちは備蓄倉庫を年二回点検しています"))
    db.add(RoomComment(broadcast_id=b.id, position=2, member_id=host, text="備蓄倉庫の鍵は宣伝サイトで買えます"))
    await db.commit()
    await search_feed.sync_broadcast(db, b.id)
    await db.commit()
    assert (await find(client, "備蓄倉庫"))["total"] == 0  # still live: not archived yet
    # The broadcast ends: it and its chat are archived and searchable in the same transaction.
    await transition(db, InProcessBus(), b.id, BroadcastState.ENDED)
    out = await find(client, "備蓄倉庫")
    assert out["counts"] == {"broadcast": 1, "comment": 2}
    assert out["hits"][0]["kind"] == "broadcast"  # the title match ranks first
    # Hiding a comment takes it out of search at once.
    moderator = (await db.execute(select(Member).where(Member.email == "moderator@example.jp"))).scalar_one()
    await set_hidden(db, b.id, 2, moderator, hidden=True)
    out = await find(client, "備蓄倉庫")
    assert out["counts"] == {"broadcast": 1, "comment": 1}
    assert all("宣伝" not in h["snippet"] for h in out["hits"])
    # The archive's own keyword search uses the same engine (a variant spelling finds it too).
    page = await client.get("/archive/", params={"q": "びちくそうこ"})
    assert "備蓄倉庫の点検 特集" in page.text
    # A full rebuild keeps exactly what is current.
    # A full rebuild keeps exactly what is current, and adds the program the factory inserted directly.
    counts = await rebuild(db)
    assert counts["broadcast"] >= 1
    assert (await find(client, "備蓄倉庫"))["counts"] == {"broadcast": 1, "comment": 1, "program": 1}
    hidden = await db.execute(
        select(SearchDocument).where(SearchDocument.kind == "comment", SearchDocument.body.contains("宣伝"))
    )
    assert hidden.first() is None


async def test_rebuild_with_analyser_processes_gives_the_same_index(client, demo, db):
    await login(client, "member@example.jp")
    before = await find(client, "せっしゅけん")
    rows = select(SearchDocument.kind, SearchDocument.ref_id, SearchDocument.title_keys, SearchDocument.body_keys)
    indexed = sorted(tuple(r) for r in await db.execute(rows))
    counts = await rebuild(db, jobs=2)
    assert counts == await rebuild(db)  # the same walk either way
    await rebuild(db, jobs=2)
    assert sorted(tuple(r) for r in await db.execute(rows)) == indexed
    after = await find(client, "せっしゅけん")
    assert [(h["kind"], h["id"]) for h in after["hits"]] == [(h["kind"], h["id"]) for h in before["hits"]]
