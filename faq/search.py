"""FAQ in the one search engine (core.search): what faq feeds it, and the FAQ search page's query.

Fed inside faq's own transactions: the entries of a document's current version when it is
published (the previous version's leave the index), answered questions of ended sessions with
a written answer (on answer, edit, merge, dismissal and when the session ends), and series.
Answers are Markdown; the index and snippets see them as plain text.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from core.search import index
from core.search import service as engine
from core.search.index import Doc
from core.search.query import Filters
from faq.models import (
    FaqDocument,
    FaqEntry,
    FaqVersion,
    Question,
    QuestionStatus,
    SessionState,
    StudySeries,
    StudySession,
)
from faq.normalize import normalize
from faq.render import markdown_text


def plain_text(markdown: str) -> str:
    """Markdown as the text a reader sees (faq.render's own text rendering)."""
    return markdown_text(markdown, urls=False).strip()


def search_text(question: str, answer: str) -> str:
    """The normalised text kept on each entry (the plain-substring reference of the benchmarks)."""
    return normalize(question) + "\n" + normalize(answer)


async def _series_of_documents(db: AsyncSession, document_ids: set[int]) -> dict[int, StudySeries]:
    rows = await db.execute(
        select(FaqDocument.id, StudySession.series_id)
        .join(StudySession, StudySession.id == FaqDocument.session_id)
        .where(FaqDocument.id.in_(document_ids))
    )
    pairs = list(rows)
    series = {
        s.id: s
        for s in (await db.execute(select(StudySeries).where(StudySeries.id.in_({p[1] for p in pairs}))))
        .unique()
        .scalars()
    }
    return {int(d): series[int(s)] for d, s in pairs}


def _doc(
    kind: str,
    ref_id: int,
    title: str,
    markdown: str,
    url: str,
    date: dt.datetime,
    series: StudySeries,
    group_id: int | None = None,
) -> Doc:
    """A FAQ search document: its text without markup, filed under its series and the series' 課."""
    return Doc(kind, ref_id, title, plain_text(markdown), url, date, series.section_id, series.id, group_id)


async def index_entries(db: AsyncSession, entries: Iterable[FaqEntry]) -> None:
    """A version was published: its entries (ids assigned) become searchable."""
    entries = list(entries)
    if not entries:
        return
    series = await _series_of_documents(db, {e.document_id for e in entries})
    versions = {
        v.id: v
        for v in (
            await db.execute(select(FaqVersion).where(FaqVersion.id.in_({e.version_id for e in entries})))
        ).scalars()
    }
    docs = []
    for e in entries:
        url, published = f"/faq/entries/{e.id}", versions[e.version_id].published_at
        docs.append(_doc("faq_entry", e.id, e.question, e.answer, url, published, series[e.document_id], e.document_id))
    await index.upsert(db, docs)


async def unindex_entries(db: AsyncSession, entries: Iterable[FaqEntry]) -> None:
    await index.remove(db, [("faq_entry", e.id) for e in entries])


def question_doc(q: Question, session: StudySession) -> Doc | None:
    """An answered question of an ended session with a written answer; None for anything else."""
    if session.state is not SessionState.ENDED or q.status is not QuestionStatus.ANSWERED or not q.answer.strip():
        return None
    url = f"/faq/sessions/{session.id}#q-{q.id}"
    return _doc("question", q.id, q.body, q.answer, url, q.answered_at or q.created_at, session.series, session.id)


async def sync_questions(db: AsyncSession, questions: Sequence[Question]) -> None:
    """Questions changed (answered, edited, merged, dismissed): the index follows."""
    sessions: dict[int, StudySession] = {}
    docs: list[Doc] = []
    gone: list[tuple[str, int]] = []
    for q in questions:
        if q.session_id not in sessions:
            sessions[q.session_id] = await db.get_one(StudySession, q.session_id)
        doc = question_doc(q, sessions[q.session_id])
        if doc is None:
            gone.append(("question", q.id))
        else:
            docs.append(doc)
    await index.remove(db, gone)
    await index.upsert(db, docs)


async def sync_session(db: AsyncSession, session: StudySession) -> None:
    """A session ended (or re-opened): index its answered questions."""
    questions = list((await db.execute(select(Question).where(Question.session_id == session.id))).scalars())
    await sync_questions(db, questions)


async def sync_series(db: AsyncSession, series: StudySeries) -> None:
    url = f"/faq/series/{series.id}"
    await index.upsert(
        db, [_doc("series", series.id, series.title, series.description, url, series.created_at, series)]
    )


# --- the FAQ search page (/faq/search, /api/faq/search) -----------------------------------


@dataclasses.dataclass
class Hit:
    entry: FaqEntry
    score: float
    question_html: Markup
    snippet_html: Markup


@dataclasses.dataclass
class SearchResult:
    query: str
    terms: list[str]
    total: int
    capped: bool
    hits: list[Hit]
    suggestion: str | None = None

    @property
    def total_label(self) -> str:
        return f"{self.total}件以上" if self.capped else f"{self.total}件"


async def search(
    db: AsyncSession, query: str, *, limit: int = 20, offset: int = 0, document_ids: Sequence[int] | None = None
) -> SearchResult:
    """Published FAQ entries only, through the same engine as /search."""
    page = offset // max(limit, 1) + 1
    result = await engine.search(
        db, query, Filters(kinds=("faq_entry",), group_ids=document_ids), page=page, per_page=limit
    )
    ids = [h.doc.ref_id for h in result.hits]
    entries = {
        e.id: e
        for e in (
            await db.execute(
                select(FaqEntry)
                .options(joinedload(FaqEntry.version).joinedload(FaqVersion.document).joinedload(FaqDocument.session))
                .where(FaqEntry.id.in_(ids))
            )
        )
        .unique()
        .scalars()
    }
    hits = [
        Hit(entries[h.doc.ref_id], h.score, h.title_html, h.snippet_html)
        for h in result.hits
        if h.doc.ref_id in entries
    ]
    terms = query.split()[:5]
    return SearchResult(query, terms, result.total, result.capped, hits, result.suggestion)
