"""Writing the index: domains call `upsert` / `remove` inside their own transaction (no commit here)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.search.analyse import Word, words
from core.search.models import SearchDocument, SearchPosting, SearchTerm

MAX_KEY = 64


@dataclasses.dataclass(frozen=True, slots=True)
class Doc:
    """What a domain hands to the index for one searchable thing."""

    kind: str
    ref_id: int
    title: str
    body: str
    url: str
    date: dt.datetime
    section_id: int | None = None
    series_id: int | None = None
    group_id: int | None = None
    title_indexed: bool = True  # False: the title only labels the hit (a chat line's broadcast)


@dataclasses.dataclass(slots=True)
class Analysed:
    doc: Doc
    title_words: list[Word]
    body_words: list[Word]

    def row(self) -> dict[str, object]:
        d = self.doc
        return {
            "kind": d.kind,
            "ref_id": d.ref_id,
            "title": d.title,
            "body": d.body,
            "url": d.url,
            "date": d.date,
            "section_id": d.section_id,
            "series_id": d.series_id,
            "group_id": d.group_id,
            "title_keys": " ".join(w.key[:MAX_KEY] for w in self.title_words),
            "body_keys": " ".join(w.key[:MAX_KEY] for w in self.body_words),
            "title_spans": " ".join(f"{w.start}-{w.end}" for w in self.title_words),
            "body_spans": " ".join(f"{w.start}-{w.end}" for w in self.body_words),
            "length": len(self.title_words) + len(self.body_words),
        }

    def postings(self, doc_id: int) -> list[dict[str, object]]:
        title = Counter(w.key[:MAX_KEY] for w in self.title_words)
        body = Counter(w.key[:MAX_KEY] for w in self.body_words)
        return [
            {"term": t, "doc_id": doc_id, "title_tf": min(title[t], 30000), "body_tf": min(body[t], 30000)}
            for t in title.keys() | body.keys()
        ]

    def terms(self) -> dict[str, dict[str, str]]:
        return {
            w.key[:MAX_KEY]: {"term": w.key[:MAX_KEY], "reading": w.reading[:MAX_KEY], "surface": w.surface[:MAX_KEY]}
            for w in (*self.title_words, *self.body_words)
        }


def analyse(doc: Doc) -> Analysed:
    return Analysed(doc, words(doc.title) if doc.title_indexed else [], words(doc.body))


async def remember_terms(db: AsyncSession, rows: Iterable[dict[str, str]]) -> None:
    """Add new keys to the vocabulary; existing ones are left as they are (first reading wins)."""
    values = list(rows)
    dialect = db.get_bind().dialect.name
    for start in range(0, len(values), 2000):
        chunk = values[start : start + 2000]
        if dialect == "postgresql":
            await db.execute(pg_insert(SearchTerm).values(chunk).on_conflict_do_nothing(index_elements=["term"]))
        else:
            await db.execute(sqlite_insert(SearchTerm).values(chunk).on_conflict_do_nothing(index_elements=["term"]))


async def upsert(db: AsyncSession, docs: Sequence[Doc]) -> None:
    """Index (or re-index) these documents in the caller's transaction."""
    if not docs:
        return
    await remove(db, [(d.kind, d.ref_id) for d in docs])
    analysed = [analyse(d) for d in docs]
    rows = [a.row() for a in analysed]
    ids = (
        (await db.execute(insert(SearchDocument).returning(SearchDocument.id, sort_by_parameter_order=True), rows))
        .scalars()
        .all()
    )
    postings = [p for a, doc_id in zip(analysed, ids, strict=True) for p in a.postings(int(doc_id))]
    for start in range(0, len(postings), 5000):
        await db.execute(insert(SearchPosting), postings[start : start + 5000])
    terms: dict[str, dict[str, str]] = {}
    for a in analysed:
        terms.update(a.terms())
    await remember_terms(db, terms.values())


async def remove(db: AsyncSession, refs: Sequence[tuple[str, int]]) -> None:
    """Drop these (kind, ref_id) documents and their postings from the index."""
    for start in range(0, len(refs), 500):
        chunk = list(refs[start : start + 500])
        ids = list(
            (
                await db.execute(
                    select(SearchDocument.id).where(tuple_(SearchDocument.kind, SearchDocument.ref_id).in_(chunk))
                )
            ).scalars()
        )
        if ids:
            await db.execute(delete(SearchPosting).where(SearchPosting.doc_id.in_(ids)))
            await db.execute(delete(SearchDocument).where(SearchDocument.id.in_(ids)))


async def remove_kind(db: AsyncSession, kind: str, keep: Iterable[int] = ()) -> None:
    """Drop every document of `kind` whose ref_id is not in `keep` (used by the full rebuild)."""
    keep_set = set(keep)
    stale = [
        (kind, int(r))
        for r in (await db.execute(select(SearchDocument.ref_id).where(SearchDocument.kind == kind))).scalars()
        if r not in keep_set
    ]
    await remove(db, stale)
