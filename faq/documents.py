"""FAQ documents: the draft compiled when a session ends, edits, publishing versions, and reading them."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer, joinedload

from core.db import utcnow
from core.errors import found
from core.events import EventBus
from core.members.models import Member
from faq import board, notices
from faq.models import (
    DraftEntry,
    FaqDocument,
    FaqEntry,
    FaqVersion,
    Question,
    QuestionAsker,
    SessionState,
    StudySeries,
    StudySession,
)
from faq.search import index_entries, search_text, unindex_entries
from faq.service import FaqError, not_found, require_organiser, require_text

MAX_ENTRIES = 500
UNCATEGORISED = "その他"


def document_title(session: StudySession) -> str:
    return f"{session.series.title} 第{session.number}回 FAQ資料"[:150]


async def document_of(db: AsyncSession, session_id: int) -> FaqDocument | None:
    return (await db.execute(select(FaqDocument).where(FaqDocument.session_id == session_id))).scalar_one_or_none()


async def get_document(db: AsyncSession, document_id: int) -> FaqDocument:
    return found(
        await db.get(FaqDocument, document_id, options=[joinedload(FaqDocument.session)]), not_found("FAQ資料")
    )


async def askers_of(db: AsyncSession, session_id: int, question_ids: list[int]) -> dict[int, str]:
    """The organisations that asked each question by name (author and merged duplicates), e.g. 横浜市、札幌市."""
    if not question_ids:
        return {}
    rows = await db.execute(
        select(QuestionAsker)
        .join(Question, Question.id == QuestionAsker.question_id)
        .where(Question.session_id == session_id, QuestionAsker.question_id.in_(question_ids))
        .order_by(QuestionAsker.question_id, QuestionAsker.member_id)
    )
    out: dict[int, list[str]] = {}
    for a in rows.scalars():
        names = out.setdefault(a.question_id, [])
        if not a.anonymous and a.member.organisation and a.member.organisation not in names:
            names.append(a.member.organisation)
    return {qid: "、".join(names)[:200] for qid, names in out.items()}


async def compile_draft(db: AsyncSession, session: StudySession) -> FaqDocument:
    """Answered questions, grouped by category (in the series' order), most votes first."""
    doc = await document_of(db, session.id)
    if doc is None:
        doc = FaqDocument(session_id=session.id, title=document_title(session))
        db.add(doc)
        await db.flush()
    elif doc.current_version:
        return doc  # published documents are edited, not recompiled over
    await db.execute(delete(DraftEntry).where(DraftEntry.document_id == doc.id))
    order = {c: i for i, c in enumerate(session.series.category_list)}
    questions = await board.answered_questions(db, session.id)
    questions.sort(key=lambda q: (order.get(q.category or UNCATEGORISED, len(order)), -q.votes, q.id))
    askers = await askers_of(db, session.id, [q.id for q in questions])
    for i, q in enumerate(questions):
        db.add(
            DraftEntry(
                document_id=doc.id,
                ord=i,
                category=q.category or UNCATEGORISED,
                question=q.body,
                answer=q.answer,
                votes=q.votes,
                question_id=q.id,
                asker=askers.get(q.id, ""),
            )
        )
    doc.updated_at = utcnow()
    await db.commit()
    return doc


async def end_session(db: AsyncSession, bus: EventBus, member: Member | None, session: StudySession) -> FaqDocument:
    """End a session (organiser action, or its broadcast ended) and compile its draft."""
    if member is not None:
        await require_organiser(db, member, session.series_id)
    if session.state is not SessionState.ENDED:
        await board.end(db, bus, session)
    return await compile_draft(db, session)


async def draft_entries(db: AsyncSession, document_id: int) -> list[DraftEntry]:
    rows = await db.execute(select(DraftEntry).where(DraftEntry.document_id == document_id).order_by(DraftEntry.ord))
    return list(rows.scalars())


@dataclasses.dataclass
class EntryInput:
    category: str
    question: str
    answer: str
    votes: int = 0
    question_id: int | None = None


def _field(name: str, check: Callable[[], str], prefix: str = "") -> str:
    """Run one field's check; its refusal names the form field so the form can show it in place."""
    try:
        return check()
    except FaqError as exc:
        raise FaqError(exc.code, prefix + exc.message, exc.status, fields={name: exc.message}) from None


def _clean_entry(i: int, e: EntryInput) -> EntryInput:
    """Entry `i` (0-based, as the edit form numbers its fields) checked and trimmed."""
    prefix = f"Q{i + 1}: "
    return EntryInput(
        category=_field(f"category-{i}", lambda: require_text(e.category, "カテゴリ", 40, required=False), prefix)
        or UNCATEGORISED,
        question=_field(f"question-{i}", lambda: require_text(e.question, "質問", 1000, block=True), prefix),
        answer=_field(f"answer-{i}", lambda: require_text(e.answer, "回答", 10_000, block=True), prefix),
        votes=e.votes,
        question_id=e.question_id,
    )


async def save_draft(
    db: AsyncSession, member: Member, doc: FaqDocument, title: str, intro: str, entries: list[EntryInput]
) -> None:
    session = await db.get_one(StudySession, doc.session_id)
    await require_organiser(db, member, session.series_id)
    if len(entries) > MAX_ENTRIES:
        raise FaqError("too_many", f"項目は{MAX_ENTRIES}件までです。")
    title = _field("title", lambda: require_text(title, "資料のタイトル", 150))
    intro = _field("intro", lambda: require_text(intro, "はじめに", 10_000, block=True, required=False))
    cleaned = [_clean_entry(i, e) for i, e in enumerate(entries)]
    doc.title, doc.intro = title, intro
    askers = await askers_of(db, session.id, [e.question_id for e in cleaned if e.question_id])
    await db.execute(delete(DraftEntry).where(DraftEntry.document_id == doc.id))
    for i, e in enumerate(cleaned):
        db.add(
            DraftEntry(
                document_id=doc.id,
                ord=i,
                category=e.category,
                question=e.question,
                answer=e.answer,
                votes=e.votes,
                question_id=e.question_id,
                asker=askers.get(e.question_id, "") if e.question_id else "",
            )
        )
    doc.updated_at = utcnow()
    await db.commit()


async def publish(
    db: AsyncSession, member: Member | None, doc: FaqDocument, note: str, *, check: bool = True, commit: bool = True
) -> FaqVersion:
    """Publish the draft as the next version; its entries replace the previous version's in search."""
    session = await db.get_one(StudySession, doc.session_id)
    if member is not None and check:
        await require_organiser(db, member, session.series_id)
    drafts = await draft_entries(db, doc.id)
    if not drafts:
        raise FaqError("empty_document", "項目が1件もない資料は公開できません。回答済みの質問を追加してください。", 409)
    note = _field(
        "note", lambda: require_text(note, "変更内容のメモ", 1000, block=True, required=doc.current_version > 0)
    )
    number = doc.current_version + 1
    version = FaqVersion(
        document_id=doc.id,
        number=number,
        note=note or "初版",
        title=doc.title,
        intro=doc.intro,
        published_by_id=member.id if member else None,
    )
    db.add(version)
    await db.flush()
    previous = list(
        (await db.execute(select(FaqEntry).where(FaqEntry.document_id == doc.id, FaqEntry.current.is_(True)))).scalars()
    )
    await unindex_entries(db, previous)
    await db.execute(update(FaqEntry).where(FaqEntry.document_id == doc.id).values(current=False))
    entries = [
        FaqEntry(
            version_id=version.id,
            document_id=doc.id,
            ord=d.ord,
            category=d.category,
            question=d.question,
            answer=d.answer,
            votes=d.votes,
            search_text=search_text(d.question, d.answer),
            current=True,
            asker=d.asker,
        )
        for d in drafts
    ]
    db.add_all(entries)
    await db.flush()
    await index_entries(db, entries)
    doc.current_version = number
    doc.updated_at = utcnow()
    await notices.document_published(db, doc, session, version, member.id if member else None)
    if commit:
        await db.commit()
    else:
        await db.flush()
    return version


async def draft_pending(db: AsyncSession, doc: FaqDocument) -> bool:
    """True when the saved draft differs from the published current version (or nothing is published)."""
    drafts = await draft_entries(db, doc.id)
    if not doc.current_version:
        return bool(drafts) or bool(doc.intro)
    version = await get_version(db, doc, None)
    published = await entries_of(db, version.id)

    def shape(items: list[DraftEntry] | list[FaqEntry]) -> list[tuple[str, str, str]]:
        return [(e.category, e.question, e.answer) for e in items]

    return (doc.title, doc.intro) != (version.title, version.intro) or shape(drafts) != shape(published)


async def versions_of(db: AsyncSession, document_id: int) -> list[FaqVersion]:
    rows = await db.execute(
        select(FaqVersion).where(FaqVersion.document_id == document_id).order_by(FaqVersion.number.desc())
    )
    return list(rows.scalars())


async def get_version(db: AsyncSession, doc: FaqDocument, number: int | None) -> FaqVersion:
    """Version `number` (None: the current one); a document has a handful of versions."""
    return version_in(await versions_of(db, doc.id), doc, number)


def version_in(versions: list[FaqVersion], doc: FaqDocument, number: int | None) -> FaqVersion:
    """`get_version` from the list `versions_of` already read (the document page shows both)."""
    number = number or doc.current_version
    return found(next((v for v in versions if v.number == number), None), not_found("この版のFAQ資料"))


async def entries_of(db: AsyncSession, version_id: int) -> list[FaqEntry]:
    # search_text (the analysed copy the index is built from) is as long as the entry and never shown.
    rows = await db.execute(
        select(FaqEntry)
        .where(FaqEntry.version_id == version_id)
        .order_by(FaqEntry.ord)
        .options(defer(FaqEntry.search_text, raiseload=True))
    )
    return list(rows.scalars())


def grouped(entries: list[FaqEntry]) -> list[tuple[str, list[FaqEntry]]]:
    """Entries by category, keeping the document's order."""
    out: list[tuple[str, list[FaqEntry]]] = []
    for category, items in itertools.groupby(entries, key=lambda e: e.category or UNCATEGORISED):
        if out and out[-1][0] == category:
            out[-1][1].extend(items)
        else:
            out.append((category, list(items)))
    return out


@dataclasses.dataclass
class EntryPage:
    entry: FaqEntry
    version: FaqVersion
    document: FaqDocument
    session: StudySession
    latest_entry_id: int | None  # the same question in the current version, if this one is older


async def entry_page(db: AsyncSession, entry_id: int) -> EntryPage:
    entry = found(await db.get(FaqEntry, entry_id), not_found("FAQ項目"))
    version = await db.get_one(FaqVersion, entry.version_id)
    doc = await db.get_one(FaqDocument, entry.document_id)
    session = await db.get_one(StudySession, doc.session_id)
    latest = None
    if not entry.current:
        latest = (
            await db.execute(
                select(FaqEntry.id).where(
                    FaqEntry.document_id == doc.id, FaqEntry.current.is_(True), FaqEntry.question == entry.question
                )
            )
        ).scalar_one_or_none()
    return EntryPage(entry, version, doc, session, latest)


@dataclasses.dataclass
class PublishedDoc:
    document: FaqDocument
    session: StudySession
    entries: int


async def published_documents(
    db: AsyncSession, series_id: int | None = None, category: str | None = None
) -> list[PublishedDoc]:
    stmt = (
        select(FaqDocument, StudySession, func.count(FaqEntry.id))
        .join(StudySession, StudySession.id == FaqDocument.session_id)
        .join(FaqEntry, (FaqEntry.document_id == FaqDocument.id) & FaqEntry.current.is_(True))
        .where(FaqDocument.current_version > 0)
        .group_by(FaqDocument.id, StudySession.id)
        .order_by(StudySession.starts_at.desc())
    )
    if series_id is not None:
        stmt = stmt.where(StudySession.series_id == series_id)
    if category:
        stmt = stmt.where(FaqEntry.category == category)
    return [PublishedDoc(d, s, int(n)) for d, s, n in (await db.execute(stmt)).all()]


async def categories(db: AsyncSession, series_id: int | None = None) -> list[tuple[str, int]]:
    stmt = (
        select(FaqEntry.category, func.count())
        .where(FaqEntry.current.is_(True))
        .group_by(FaqEntry.category)
        .order_by(func.count().desc())
    )
    if series_id is not None:
        docs = select(FaqDocument.id).join(StudySession).where(StudySession.series_id == series_id)
        stmt = stmt.where(FaqEntry.document_id.in_(docs))
    return [(c, int(n)) for c, n in (await db.execute(stmt)).all()]


async def category_entries(db: AsyncSession, category: str, series_id: int | None = None) -> list[FaqEntry]:
    stmt = (
        select(FaqEntry)
        .options(joinedload(FaqEntry.version).joinedload(FaqVersion.document).joinedload(FaqDocument.session))
        .where(FaqEntry.current.is_(True), FaqEntry.category == category)
        .order_by(FaqEntry.id.desc())
        .limit(200)
    )
    if series_id is not None:
        docs = select(FaqDocument.id).join(StudySession).where(StudySession.series_id == series_id)
        stmt = stmt.where(FaqEntry.document_id.in_(docs))
    return list((await db.execute(stmt)).unique().scalars())


async def document_ids_of_series(db: AsyncSession, series: StudySeries) -> list[int]:
    rows = await db.execute(select(FaqDocument.id).join(StudySession).where(StudySession.series_id == series.id))
    return list(rows.scalars())
