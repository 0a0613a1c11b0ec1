"""Running a plan: candidates from the postings (same SQL on SQLite and PostgreSQL), then ranking.

Candidates: documents holding, for every slot, the rarest key of one of its alternatives (one
EXISTS per slot), newest first, at most `CANDIDATE_CAP`. Python then checks that each slot's
alternative really occurs as a run of keys, and ranks: the whole query as a phrase in the title,
then as a phrase in the body, then BM25 (title keys count 3x), then the newer date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Select, and_, exists, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.search.models import SearchDocument, SearchPosting
from core.search.plan import Keys, Plan, Slot

CANDIDATE_CAP = 200
DF_CAP = 2000
TITLE_WEIGHT = 3
K1, B = 1.2, 0.75
_stats: dict[str, tuple[float, int, float]] = {}


@dataclasses.dataclass
class Filters:
    kinds: Sequence[str] = ()
    section_id: int | None = None
    series_id: int | None = None
    group_ids: Sequence[int] | None = None
    date_from: dt.datetime | None = None
    date_to: dt.datetime | None = None


@dataclasses.dataclass
class Ranked:
    doc_id: int
    kind: str
    tier: int  # 3: phrase in title, 2: phrase in body, 1: every word
    score: float
    date: dt.datetime
    matched: list[Keys]  # per slot, the alternative that occurred

    def sort_key(self) -> tuple[int, float, float]:
        return (-self.tier, -round(self.score, 6), -self.date.timestamp())


def _positions(stream: list[str], key: str) -> Iterator[int]:
    i = -1
    while True:
        try:
            i = stream.index(key, i + 1)
        except ValueError:
            return
        yield i


def find_run(stream: list[str], keys: Keys) -> bool:
    if len(keys) == 1:
        return keys[0] in stream
    want = list(keys)
    return any(stream[i : i + len(want)] == want for i in _positions(stream, keys[0]))


def find_sequence(stream: list[str], slots: Sequence[Sequence[Keys]]) -> bool:
    """Whether one alternative of each slot occurs back to back, in order."""

    def at(pos: int, index: int) -> bool:
        if index == len(slots):
            return True
        return any(stream[pos : pos + len(alt)] == list(alt) and at(pos + len(alt), index + 1) for alt in slots[index])

    if len(slots) == 1:
        return any(find_run(stream, alt) for alt in slots[0])
    firsts = {alt[0] for alt in slots[0]}
    return any(at(i, 0) for first in firsts for i in _positions(stream, first))


async def _document_frequencies(db: AsyncSession, terms: Sequence[str]) -> dict[str, int]:
    """Postings per key, counted up to DF_CAP, in one round trip (plain SQL: built per query, cheaply)."""
    if not terms:
        return {}
    parts = [
        f"SELECT {i} AS n, (SELECT count(*) FROM (SELECT 1 FROM search_postings WHERE term = :t{i} LIMIT {DF_CAP}) AS d{i}) AS c"  # noqa: S608 - only integers are interpolated; terms are bound
        for i in range(len(terms))
    ]
    rows = await db.execute(text(" UNION ALL ".join(parts)), {f"t{i}": t for i, t in enumerate(terms)})
    counts = {int(n): int(c) for n, c in rows}
    return {term: counts.get(i, 0) for i, term in enumerate(terms)}


async def corpus_stats(db: AsyncSession) -> tuple[int, float]:
    """(documents, mean length), cached for a few seconds per process."""
    key = str(db.get_bind().engine.url)
    cached = _stats.get(key)
    if cached and time.monotonic() - cached[0] < 10:
        return cached[1], cached[2]
    n, avg = (await db.execute(select(func.count(), func.avg(SearchDocument.length)))).one()
    _stats[key] = (time.monotonic(), int(n or 0), float(avg or 1.0))
    return int(n or 0), float(avg or 1.0)


def _probes(slot: Slot, df: dict[str, int]) -> list[str]:
    return sorted({min(alt, key=lambda k: df.get(k, 0)) for alt in slot.alternatives if all(df.get(k, 0) for k in alt)})


def _candidate_query(probes: list[list[str]], filters: Filters) -> Select[tuple[int, str, str, str, dt.datetime, int]]:
    d = SearchDocument.__table__  # no aliases of the wide table: building column proxies costs per query
    p0 = SearchPosting.__table__
    stmt = (
        select(d.c.id, d.c.kind, d.c.title_keys, d.c.body_keys, d.c.date, d.c.length)
        .select_from(p0.join(d, d.c.id == p0.c.doc_id))
        .where(p0.c.term.in_(probes[0]) if len(probes[0]) > 1 else p0.c.term == probes[0][0])
    )
    if len(probes[0]) > 1:
        stmt = stmt.distinct()
    for i, terms in enumerate(probes[1:]):
        x = SearchPosting.__table__.alias(f"x{i}")
        stmt = stmt.where(exists().where(and_(x.c.doc_id == p0.c.doc_id, x.c.term.in_(terms))))
    if filters.section_id is not None:
        stmt = stmt.where(d.c.section_id == filters.section_id)
    if filters.series_id is not None:
        stmt = stmt.where(d.c.series_id == filters.series_id)
    if filters.group_ids is not None:
        stmt = stmt.where(d.c.group_id.in_(list(filters.group_ids)))
    if filters.date_from is not None:
        stmt = stmt.where(d.c.date >= filters.date_from)
    if filters.date_to is not None:
        stmt = stmt.where(d.c.date < filters.date_to)
    # One driving key: its postings are read newest first straight from the (term, doc_id) key and
    # the scan stops at the cap; several keys (glossary, readings) need DISTINCT.
    order = p0.c.doc_id.desc() if len(probes[0]) == 1 else d.c.id.desc()
    return stmt.order_by(order).limit(CANDIDATE_CAP + 1)


async def rank(db: AsyncSession, plan: Plan, filters: Filters) -> tuple[list[Ranked], bool]:
    """Every matching document of any kind (up to the cap) ranked, and whether the cap was reached."""
    if not plan.slots:
        return [], False
    terms = sorted(plan.keys)
    df = await _document_frequencies(db, terms)
    probes = [_probes(s, df) for s in plan.slots]
    if any(not p for p in probes):
        return [], False
    order = sorted(range(len(probes)), key=lambda i: sum(df[t] for t in probes[i]))
    rows = (await db.execute(_candidate_query([probes[i] for i in order], filters))).all()
    capped = len(rows) > CANDIDATE_CAP
    n, avg = await corpus_stats(db)
    idf = {t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in terms if t in df}
    out: list[Ranked] = []
    for row in rows[:CANDIDATE_CAP]:
        values: Any = row
        doc_id, kind, title_keys, body_keys, date, length = values
        title, body = title_keys.split(), body_keys.split()
        ranked = _score(plan, title, body, idf, int(length), avg)
        if ranked is None:
            continue
        tier, score, matched = ranked
        out.append(Ranked(int(doc_id), str(kind), tier, score, date, matched))
    out.sort(key=Ranked.sort_key)
    return out, capped


def _score(
    plan: Plan, title: list[str], body: list[str], idf: dict[str, float], length: int, avg: float
) -> tuple[int, float, list[Keys]] | None:
    matched: list[Keys] = []
    for slot in plan.slots:
        alt = next((a for a in slot.alternatives if find_run(title, a) or find_run(body, a)), None)
        if alt is None:
            return None
        matched.append(alt)
    groups = [s.alternatives for s in plan.slots]
    in_title = find_sequence(title, groups)
    in_body = not in_title and find_sequence(body, groups)
    if plan.in_order and not (in_title or in_body):
        return None
    tier = 3 if in_title else 2 if in_body else 1
    score = 0.0
    norm = K1 * (1 - B + B * length / max(avg, 1.0))
    for alt in matched:
        for key in alt:
            tf = TITLE_WEIGHT * title.count(key) + body.count(key)
            score += idf.get(key, 0.0) * tf * (K1 + 1) / (tf + norm)
    return tier, score, matched
