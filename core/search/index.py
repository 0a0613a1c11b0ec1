"""Writing the index: domains call `upsert` / `remove` inside their own transaction (no commit here)."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from typing import Any

from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.search.analyse import MAX_KEY, words
from core.search.models import SearchDocument


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


@dataclasses.dataclass(frozen=True, slots=True)
class Analysed:
    """A document ready to write: computed once (in a worker process when reindexing), written as is."""

    doc: Doc
    row: dict[str, object]  # the search_documents row
    keys: list[str]  # each distinct key once: one posting per key (ranking counts the key streams)
    terms: dict[str, tuple[str, str]]  # key -> (reading, surface) for the vocabulary


def analyse(doc: Doc) -> Analysed:
    title = words(doc.title) if doc.title_indexed else []
    body = words(doc.body)
    row = {
        "kind": doc.kind,
        "ref_id": doc.ref_id,
        "title": doc.title,
        "body": doc.body,
        "url": doc.url,
        "date": doc.date,
        "section_id": doc.section_id,
        "series_id": doc.series_id,
        "group_id": doc.group_id,
        "title_keys": " ".join(w.key for w in title),
        "body_keys": " ".join(w.key for w in body),
        "title_spans": " ".join(f"{w.start}-{w.end}" for w in title),
        "body_spans": " ".join(f"{w.start}-{w.end}" for w in body),
        "length": len(title) + len(body),
    }
    every = (*title, *body)
    terms = {w.key: (w.reading[:MAX_KEY], w.surface[:MAX_KEY]) for w in every}
    return Analysed(doc, row, list(terms), terms)


def analyse_many(docs: Sequence[Doc]) -> list[Analysed]:
    return [analyse(d) for d in docs]


# Analyser processes for a bulk rebuild (`chonai search reindex --jobs N`): Sudachi is the limit
# of one process (about 2,000 entries per CPU-second), so a rebuild spreads each batch over them.
analysers: contextvars.ContextVar[tuple[Executor, int] | None] = contextvars.ContextVar("analysers", default=None)


async def analyse_all(docs: Sequence[Doc]) -> list[Analysed]:
    pool = analysers.get()
    if pool is None or len(docs) < 2 * pool[1]:
        return analyse_many(docs)
    executor, jobs = pool
    size = -(-len(docs) // jobs)
    loop = asyncio.get_running_loop()
    parts = await asyncio.gather(
        *(loop.run_in_executor(executor, analyse_many, list(docs[i : i + size])) for i in range(0, len(docs), size))
    )
    return [a for part in parts for a in part]


async def upsert(db: AsyncSession, docs: Sequence[Doc]) -> None:
    """Index (or re-index) these documents in the caller's transaction."""
    if docs:
        await store(db, await analyse_all(docs))


async def store(db: AsyncSession, analysed: Sequence[Analysed]) -> None:
    """Write analysed documents, replacing what was indexed for them, in the caller's transaction.

    A handful of statements per batch whatever its size: the documents in one executemany, their
    ids in one SELECT, then every posting and vocabulary key in one bulk call on the driver (COPY on PostgreSQL,
    executemany on SQLite), sorted so that B-tree pages are filled in order.
    """
    if not analysed:
        return
    await remove(db, [(a.doc.kind, a.doc.ref_id) for a in analysed])
    # A plain executemany (no RETURNING: on SQLite that would be one statement per row), then the
    # new ids in one SELECT per kind through the (kind, ref_id) key.
    await db.execute(insert(SearchDocument), [a.row for a in analysed])
    by_kind: dict[str, list[int]] = {}
    for a in analysed:
        by_kind.setdefault(a.doc.kind, []).append(a.doc.ref_id)
    new_ids: dict[tuple[str, int], int] = {}
    for kind, refs in by_kind.items():
        for start in range(0, len(refs), 500):
            rows = await db.execute(
                select(SearchDocument.id, SearchDocument.ref_id).where(
                    SearchDocument.kind == kind, SearchDocument.ref_id.in_(refs[start : start + 500])
                )
            )
            new_ids.update(((kind, int(ref)), int(i)) for i, ref in rows)
    ids = [new_ids[(a.doc.kind, a.doc.ref_id)] for a in analysed]
    if db.get_bind().dialect.name == "postgresql":
        await _keep_statistics(db, len(analysed))
    postings = sorted((key, int(doc_id)) for a, doc_id in zip(analysed, ids, strict=True) for key in a.keys)
    terms: dict[str, tuple[str, str]] = {}
    for a in analysed:
        terms.update(a.terms)
    vocabulary = sorted((key, reading, surface) for key, (reading, surface) in terms.items())
    conn = await db.connection()  # already in the transaction begun by the statements above
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if conn.dialect.name == "postgresql":
        await driver.copy_records_to_table("search_postings", records=postings, columns=["term", "doc_id"])
        # Existing keys keep their first reading; one statement for the whole vocabulary.
        await driver.execute(
            "INSERT INTO search_terms (term, reading, surface)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT (term) DO NOTHING",
            [v[0] for v in vocabulary],
            [v[1] for v in vocabulary],
            [v[2] for v in vocabulary],
        )
    else:
        await driver.executemany("INSERT INTO search_postings (term, doc_id) VALUES (?, ?)", postings)
        await driver.executemany(
            "INSERT INTO search_terms (term, reading, surface) VALUES (?, ?, ?) ON CONFLICT (term) DO NOTHING",
            vocabulary,
        )


# PostgreSQL plans the (kind, ref_id) lookups above from table statistics that autovacuum refreshes
# about once a minute. A bulk build outgrows them within seconds, and a planner that still
# believes the table tiny filters every row of the kind instead of probing the key: each batch
# then costs more than the last (at 30,000 entries, half the build). So the writer refreshes the
# statistics of the lookup columns itself whenever the table may have doubled since it last did.
_ANALYZE_AFTER = 2000  # documents written before the first refresh in a process
_written: dict[str, tuple[int, int]] = {}  # database URL -> (rows at the last refresh, written since)


async def _keep_statistics(db: AsyncSession, count: int) -> None:
    bind = db.get_bind()
    url = str(bind.engine.url)
    known, since = _written.get(url, (0, 0))
    since += count
    if since >= max(_ANALYZE_AFTER, known):
        await db.execute(text("ANALYZE search_documents (kind, ref_id)"))
        rows = (await db.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'search_documents'"))).scalar()
        known, since = max(0, int(rows or 0)), 0
    _written[url] = (known, since)


async def remove(db: AsyncSession, refs: Sequence[tuple[str, int]]) -> None:
    """Drop these (kind, ref_id) documents and their postings from the index."""
    # Per kind, `kind = k AND ref_id IN (...)`: one range of the (kind, ref_id) key per value.
    # A row-value IN over 500 pairs is planned on PostgreSQL as a scan checking every pair
    # (tens of milliseconds per batch, more than writing the batch's postings).
    by_kind: dict[str, list[int]] = {}
    for kind, ref in refs:
        by_kind.setdefault(kind, []).append(ref)
    for kind, kind_refs in by_kind.items():
        for start in range(0, len(kind_refs), 500):
            chunk = kind_refs[start : start + 500]
            found = (
                await db.execute(
                    select(SearchDocument.id, SearchDocument.title_keys, SearchDocument.body_keys).where(
                        SearchDocument.kind == kind, SearchDocument.ref_id.in_(chunk)
                    )
                )
            ).all()
            if found:
                await _delete_postings(db, found)
                await db.execute(delete(SearchDocument).where(SearchDocument.id.in_([int(f[0]) for f in found])))


async def _delete_postings(db: AsyncSession, found: Sequence[Any]) -> None:
    """A document's postings are exactly the distinct keys of its key streams (`analyse`), so they
    are deleted through the (term, doc_id) key: no second index on doc_id to maintain per posting."""
    pairs = sorted({(key, int(doc_id)) for doc_id, title, body in found for key in f"{title} {body}".split()})
    if not pairs:
        return
    conn = await db.connection()
    driver: Any = (await conn.get_raw_connection()).driver_connection
    if conn.dialect.name == "postgresql":
        await driver.execute(
            "DELETE FROM search_postings p USING unnest($1::text[], $2::int[]) AS d(term, doc_id)"
            " WHERE p.term = d.term AND p.doc_id = d.doc_id",
            [t for t, _ in pairs],
            [d for _, d in pairs],
        )
    else:
        await driver.executemany("DELETE FROM search_postings WHERE term = ? AND doc_id = ?", pairs)


async def remove_kind(db: AsyncSession, kind: str, keep: Iterable[int] = ()) -> None:
    """Drop every document of `kind` whose ref_id is not in `keep` (used by the full rebuild)."""
    keep_set = set(keep)
    stale = [
        (kind, int(r))
        for r in (await db.execute(select(SearchDocument.ref_id).where(SearchDocument.kind == kind))).scalars()
        if r not in keep_set
    ]
    await remove(db, stale)
