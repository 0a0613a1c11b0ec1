"""The FAQ資料 edit form: refusals re-show the form with Japanese field errors; drafts say they are drafts;
the board shows answers through the same sanitised renderer."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from faq.models import DraftEntry, FaqDocument, FaqEntry, StudySession
from tests.helpers import csrf, login, post_form

pytestmark = pytest.mark.sqlite_only


async def _demo_doc(db) -> FaqDocument:
    session = (await db.execute(select(StudySession).where(StudySession.number == 1))).scalar_one()
    return (await db.execute(select(FaqDocument).where(FaqDocument.session_id == session.id))).scalar_one()


def _form(**extra: str) -> dict[str, str]:
    return {
        "count": "1",
        "title": "改訂版の資料",
        "intro": "",
        "category-0": "予約・受付",
        "question-0": "予約の質問",
        "answer-0": "回答を**更新**しました。",
        "action": "publish",
        "note": "",
        **extra,
    }


async def test_publishing_without_a_note_reshows_the_form_and_keeps_the_draft(client, demo, db):
    doc = await _demo_doc(db)
    await login(client, "naha@example.jp")
    r = await post_form(client, f"/faq/documents/{doc.id}/edit", _form())
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "下書きとして保存されています" in page and 'id="e-note"' in page
    assert "変更内容のメモを入力してください。" in page and 'aria-invalid="true" aria-describedby="e-note"' in page
    assert 'value="改訂版の資料"' in page and "回答を**更新**しました。" in page  # what was typed is still there
    await db.refresh(doc)
    assert doc.current_version == 2 and doc.title == "改訂版の資料"  # kept as a draft, not published
    drafts = list((await db.execute(select(DraftEntry).where(DraftEntry.document_id == doc.id))).scalars())
    assert [d.question for d in drafts] == ["予約の質問"]
    # The edit page and the document page (for organisers) say a draft is waiting.
    assert "下書きとして保存されています" in (await client.get(f"/faq/documents/{doc.id}/edit")).text
    assert 'id="draft-notice"' in (await client.get(f"/faq/documents/{doc.id}")).text
    # With a note it publishes v3 and the draft is no longer pending.
    r = await post_form(client, f"/faq/documents/{doc.id}/edit", _form(note="Q1を整理"), follow_redirects=False)
    assert r.status_code == 303
    page = (await client.get(f"/faq/documents/{doc.id}")).text
    assert "v3" in page and 'id="draft-notice"' not in page and "<strong>更新</strong>" in page


async def test_a_refused_entry_is_shown_beside_its_field_and_nothing_is_saved(client, demo, db):
    doc_id = (await _demo_doc(db)).id
    before = [
        d.answer for d in (await db.execute(select(DraftEntry).where(DraftEntry.document_id == doc_id))).scalars()
    ]
    await login(client, "naha@example.jp")
    r = await post_form(client, f"/faq/documents/{doc_id}/edit", _form(**{"answer-0": "", "action": "save"}))
    assert r.status_code == 400
    assert 'id="e-answer-0"' in r.text and "回答を入力してください。" in r.text and "まだ保存されていません" in r.text
    db.expire_all()
    after = [d.answer for d in (await db.execute(select(DraftEntry).where(DraftEntry.document_id == doc_id))).scalars()]
    assert after == before
    api = await client.post(
        f"/faq/documents/{doc_id}/edit",
        data=_form(**{"title": ""}),
        headers={"x-csrftoken": await csrf(client), "accept": "application/json"},
    )
    assert api.status_code == 400
    assert api.json()["error"]["fields"] == {"title": "資料のタイトルを入力してください。"}


async def test_published_entries_keep_the_askers_municipalities(db, demo):
    rows = (await db.execute(select(FaqEntry).where(FaqEntry.current.is_(True)))).scalars().all()
    assert rows and all(e.asker for e in rows)  # the demo's questions were all asked by name
