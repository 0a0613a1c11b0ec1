"""Search over published FAQ entries behaves the same on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from faq import documents, search
from faq.documents import EntryInput
from faq.models import FaqDocument, SessionState, StudySeries, StudySession


async def _document(db, entries, title="検索テスト"):
    from sqlalchemy import select

    from core.db import utcnow
    from core.members.models import Member

    series = StudySeries(title=title)
    db.add(series)
    await db.flush()
    session = StudySession(series_id=series.id, number=1, title="第1回", starts_at=utcnow(), state=SessionState.ENDED)
    db.add(session)
    await db.flush()
    doc = FaqDocument(session_id=session.id, title=f"{title} FAQ")
    db.add(doc)
    await db.commit()
    operator = (await db.execute(select(Member).where(Member.email == "operator@example.jp"))).scalar_one()
    await documents.save_draft(db, operator, doc, doc.title, "", [EntryInput(*e) for e in entries])
    await documents.publish(db, operator, doc, "")
    return doc, operator


ENTRIES = [
    ("予約", "予約の変更はどうすればよいですか？", "電話かウェブで受け付けます。"),
    ("接種券", "接種券を紛失しました。", "再発行は窓口で。ワクチン接種の予約にも必要です。"),
    ("会場", "ワクチン接種会場の駐車場はありますか？", "あります。"),
    ("その他", "保育所の入所申請について", "コールセンターにお問い合わせください。接種とは別の窓口です。"),
]


async def test_two_character_words_substrings_and_variants(db, demo):
    doc, _ = await _document(db, ENTRIES)

    class Only:  # search inside the test's own document (the demo documents mention these words too)
        @staticmethod
        async def search(db, q):
            return await search.search(db, q, document_ids=[doc.id])

    r = await Only.search(db, "接種")
    questions = [h.entry.question for h in r.hits]
    assert "接種券を紛失しました。" in questions and "ワクチン接種会場の駐車場はありますか？" in questions
    # The question hit ranks above an entry that only mentions it in the answer.
    assert questions.index("ワクチン接種会場の駐車場はありますか？") < questions.index("保育所の入所申請について")
    assert next(h.entry.question for h in (await Only.search(db, "予約")).hits) == "予約の変更はどうすればよいですか？"
    # 半角カナ and ひらがな find katakana; a word inside a compound is found.
    for query in ("ﾜｸﾁﾝ", "わくちん", "ワクチン", "センター", "ｺｰﾙｾﾝﾀｰ"):
        assert (await Only.search(db, query)).total >= 1, query
    # One character, and a full-width question mark in the query, are fine.
    assert (await Only.search(db, "券")).total == 1
    assert (await Only.search(db, "駐車場？")).total == 1
    # No false positives from non-adjacent characters.
    assert (await Only.search(db, "種接")).total == 0
    assert (await Only.search(db, "存在しない言葉")).total == 0


async def test_ranking_and_highlight(db, demo):
    doc, _ = await _document(db, ENTRIES)
    r = await search.search(db, "ワクチン 接種", document_ids=[doc.id])
    assert r.total == 2
    assert r.hits[0].entry.question == "ワクチン接種会場の駐車場はありますか？"
    assert "<mark>ワクチン接種</mark>" in str(r.hits[0].question_html)
    assert "<mark>" in str(r.hits[1].snippet_html)


async def test_hostile_entries_are_escaped_in_results(db, demo):
    await _document(db, [("x", "<script>alert('接種')</script>", "<img src=x onerror=alert(1)>予約")])
    r = await search.search(db, "接種")
    html = next(str(h.question_html) for h in r.hits if "script" in h.entry.question)
    assert "<script>" not in html and "&lt;script&gt;" in html


async def test_a_new_version_replaces_the_old_one_in_search(db, demo):
    doc, operator = await _document(db, [("x", "旧い質問の文言", "旧い回答")])
    await documents.save_draft(db, operator, doc, doc.title, "", [EntryInput("x", "新しい質問の文言", "新しい回答")])
    await documents.publish(db, operator, doc, "文言を更新")
    assert (await search.search(db, "旧い")).total == 0
    assert (await search.search(db, "新しい")).total == 1


@pytest.mark.parametrize("query", ["", "   ", "？？", "%", "_", "\\", "' OR 1=1 --", "a" * 5000, "接" * 300])
async def test_odd_queries_never_fail(db, demo, query):
    r = await search.search(db, query)
    assert (r.total, r.hits) == (0, [])  # no wildcard, no injection, nothing to match


async def test_demo_documents_are_searchable(db, demo):
    for word in ("接種", "予約"):
        r = await search.search(db, word)
        assert r.total >= 2, word
