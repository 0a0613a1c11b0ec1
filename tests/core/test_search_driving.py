"""Which postings drive a query's scan: several driving keys, stale or missing counts, the cap (both databases)."""

from __future__ import annotations

import datetime as dt

import pytest

from core.search import index, query
from core.search.analyse import keys
from core.search.plan import Plan, Slot

BASE = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


async def _index(db, bodies: list[str]) -> None:
    docs = [
        index.Doc("faq_entry", i + 1, f"見出し{i + 1}", body, f"/faq/entries/{i + 1}", BASE + dt.timedelta(minutes=i))
        for i, body in enumerate(bodies)
    ]
    await index.upsert(db, docs)
    await db.commit()


def _key(word: str) -> str:
    (key,) = keys(word)
    return key


@pytest.fixture(autouse=True)
def _fresh_hints(monkeypatch):
    monkeypatch.setattr(query, "_df_hint", {})
    monkeypatch.setattr(query, "_stats", {})


async def test_two_driving_keys_find_each_document_once_newest_first(db):
    await _index(db, ["予約の方法", "受付の時間", "予約と受付", "会場の案内"])
    reserve, desk = _key("予約"), _key("受付")
    plan = Plan("予約", [Slot([(reserve,), (desk,)], "予約")])
    ranked, capped = await query.rank(db, plan, query.Filters())
    assert sorted(r.doc.ref_id for r in ranked) == [1, 2, 3]
    assert not capped
    # Counted before driving: both keys now have hints, and a second run gives the same.
    assert query._df_hint[reserve] == 2 and query._df_hint[desk] == 2
    again, _ = await query.rank(db, plan, query.Filters())
    assert sorted(r.doc.ref_id for r in again) == [1, 2, 3]


async def test_a_stale_zero_count_does_not_hide_documents(db):
    await _index(db, ["予約の方法"])
    reserve = _key("予約")
    query._df_hint[reserve] = 0  # counted when the index was empty
    ranked, _ = await query.rank(db, Plan("予約", [Slot([(reserve,)], "予約")]), query.Filters())
    assert [r.doc.ref_id for r in ranked] == [1]


async def test_a_key_no_document_holds_ends_the_query(db):
    await _index(db, ["予約の方法"])
    plan = Plan("予約 会場", [Slot([(_key("予約"),)], "予約"), Slot([(_key("会場"),)], "会場")])
    assert await query.rank(db, plan, query.Filters()) == ([], False)


async def test_the_cap_applies_across_driving_keys(db, monkeypatch):
    monkeypatch.setattr(query, "CANDIDATE_CAP", 3)
    await _index(db, ["予約", "受付", "予約", "受付", "予約", "受付"])
    plan = Plan("予約", [Slot([(_key("予約"),), (_key("受付"),)], "予約")])
    ranked, capped = await query.rank(db, plan, query.Filters())
    assert capped
    # The three newest of the six, whichever key each holds.
    assert sorted(r.doc.ref_id for r in ranked) == [4, 5, 6]


async def _postings(db) -> list[tuple[str, int]]:
    from sqlalchemy import text

    return [(t, int(d)) for t, d in (await db.execute(text("SELECT term, doc_id FROM search_postings"))).all()]


async def test_reindexing_and_removing_leave_exactly_the_live_postings(db):
    """Postings are deleted through the documents' key streams (no doc_id index): none is left behind."""
    await _index(db, ["予約の方法と受付", "会場の案内"])
    await _index(db, ["予約の変更", "会場の案内"])  # both re-indexed: new ids, first one with other words
    from sqlalchemy import select

    from core.search.models import SearchDocument

    docs = {
        int(ref): (int(i), f"{t} {b}".split())
        for i, ref, t, b in (
            await db.execute(
                select(SearchDocument.id, SearchDocument.ref_id, SearchDocument.title_keys, SearchDocument.body_keys)
            )
        ).all()
    }
    assert sorted(await _postings(db)) == sorted({(k, i) for i, ks in docs.values() for k in ks})
    assert _key("受付") not in {t for t, d in await _postings(db) if d == docs[1][0]}
    await index.remove(db, [("faq_entry", 1)])
    await db.commit()
    assert {d for _, d in await _postings(db)} == {docs[2][0]}
    await index.remove(db, [("faq_entry", 2), ("faq_entry", 99)])
    await db.commit()
    assert await _postings(db) == []
