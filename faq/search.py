"""Japanese full-text search over published FAQ entries, the same SQL on SQLite and PostgreSQL.

The index (`faq_search_grams`) holds every distinct character and adjacent character
pair of each current entry's normalised text. A query term of one character looks up
its unigram, two characters their bigram (exact), longer terms intersect their rarest
bigrams and then confirm the substring with LIKE on the normalised text. Candidates
are read newest first and capped at `RANK_CAP`; those are ranked (question hits
before answer hits, more hits first, newer first) and highlighted in Python.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence

from markupsafe import Markup, escape
from sqlalchemy import delete, exists, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from faq.models import FaqDocument, FaqEntry, FaqVersion, SearchGram
from faq.normalize import grams, match_spans, normalize, query_terms, term_grams
from faq.render import markdown_text

RANK_CAP = 500  # candidates ranked per query; more matches are reported as "500件以上"
DF_CAP = 2000  # how far a gram's postings are counted when choosing the rarest
MAX_EXISTS_PER_TERM = 6  # index-only probes are far cheaper than the LIKE check on the row


def search_text(question: str, answer: str) -> str:
    """What the index and the substring check see: normalised question, newline, normalised answer."""
    return normalize(question) + "\n" + normalize(answer)


def entry_grams(text: str) -> set[int]:
    return grams(text.replace("\n", " "))


async def index_entries(db: AsyncSession, entries: Iterable[FaqEntry]) -> None:
    rows = [{"gram": g, "entry_id": e.id} for e in entries for g in entry_grams(e.search_text)]
    for start in range(0, len(rows), 5000):
        await db.execute(insert(SearchGram), rows[start : start + 5000])


async def unindex_entries(db: AsyncSession, entries: Iterable[FaqEntry]) -> None:
    for e in entries:
        codes = list(entry_grams(e.search_text))
        for start in range(0, len(codes), 500):
            await db.execute(
                delete(SearchGram).where(SearchGram.entry_id == e.id, SearchGram.gram.in_(codes[start : start + 500]))
            )


@dataclasses.dataclass
class Hit:
    entry: FaqEntry
    score: int
    question_html: Markup
    snippet_html: Markup


@dataclasses.dataclass
class SearchResult:
    query: str
    terms: list[str]
    total: int
    capped: bool
    hits: list[Hit]

    @property
    def total_label(self) -> str:
        return f"{self.total}件以上" if self.capped else f"{self.total}件"


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def _document_frequencies(db: AsyncSession, codes: Sequence[int]) -> dict[int, int]:
    """Postings per gram, counted up to DF_CAP, in one round trip."""
    g = SearchGram.__table__
    columns = []
    for i, code in enumerate(codes):
        capped = select(literal(1)).select_from(g).where(g.c.gram == code).limit(DF_CAP).subquery(f"d{i}")
        columns.append(select(func.count()).select_from(capped).scalar_subquery().label(f"c{i}"))
    row = (await db.execute(select(*columns))).one()
    return {code: int(row[i]) for i, code in enumerate(codes)}


async def candidates(
    db: AsyncSession, terms: list[str], document_ids: Sequence[int] | None = None, cap: int = RANK_CAP
) -> list[tuple[int, str]]:
    """(id, search_text) of current entries containing every term, newest first, at most cap + 1."""
    per_term = {t: term_grams(t) for t in terms}
    codes = list(dict.fromkeys(c for cs in per_term.values() for c in cs))
    df = await _document_frequencies(db, codes)
    if any(n == 0 for n in df.values()):
        return []
    required: list[int] = []
    verify: list[str] = []
    for term, cs in per_term.items():
        if len(term) <= 2:
            required.extend(cs)
        else:
            required.extend(sorted(cs, key=lambda c: df[c])[:MAX_EXISTS_PER_TERM])
            verify.append(term)
    required = sorted(set(required), key=lambda c: df[c])
    g = SearchGram.__table__.alias("g")
    e = FaqEntry.__table__.alias("e")
    stmt = select(e.c.id, e.c.search_text).select_from(g.join(e, e.c.id == g.c.entry_id)).where(g.c.gram == required[0])
    for i, code in enumerate(required[1:]):
        x = SearchGram.__table__.alias(f"x{i}")
        stmt = stmt.where(exists().where(x.c.gram == code, x.c.entry_id == g.c.entry_id))
    stmt = stmt.where(*[e.c.search_text.like(_like(t), escape="\\") for t in verify])
    if document_ids is not None:
        stmt = stmt.where(e.c.document_id.in_(list(document_ids)))
    stmt = stmt.order_by(g.c.entry_id.desc()).limit(cap + 1)
    return [(int(i), str(t)) for i, t in (await db.execute(stmt)).all()]


def score(text: str, terms: list[str], phrase: str) -> int:
    question, _, answer = text.partition("\n")
    points = sum(3 * question.count(t) + answer.count(t) for t in terms)
    if phrase and phrase in question:
        points += 10
    return points


def highlight(text: str, terms: list[str]) -> Markup:
    out: list[str] = []
    last = 0
    for start, end in match_spans(text, terms):
        out.append(str(escape(text[last:start])))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        last = end
    out.append(str(escape(text[last:])))
    return Markup("".join(out))  # noqa: S704 - every piece above is escaped


def snippet(markdown: str, terms: list[str], width: int = 90) -> Markup:
    """Plain text around the first match, with matches marked."""
    plain = re.sub(r"\s+", " ", markdown_text(markdown, urls=False)).strip()
    spans = match_spans(plain, terms)
    start = max(0, spans[0][0] - width // 3) if spans else 0
    piece = plain[start : start + width]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(plain) else ""
    return escape(prefix) + highlight(piece, terms) + escape(suffix)


async def search(
    db: AsyncSession, query: str, *, limit: int = 20, offset: int = 0, document_ids: Sequence[int] | None = None
) -> SearchResult:
    terms = query_terms(query)
    if not terms:
        return SearchResult(query, [], 0, False, [])
    texts = await candidates(db, terms, document_ids)
    capped = len(texts) > RANK_CAP
    texts = texts[:RANK_CAP]
    if not texts:
        return SearchResult(query, terms, 0, False, [])
    phrase = "".join(normalize(query).split())
    ranked = sorted(((score(t, terms, phrase), i) for i, t in texts), key=lambda p: (-p[0], -p[1]))
    page = ranked[offset : offset + limit]
    by_id = {
        e.id: e
        for e in (
            await db.execute(
                select(FaqEntry)
                .options(joinedload(FaqEntry.version).joinedload(FaqVersion.document).joinedload(FaqDocument.session))
                .where(FaqEntry.id.in_([i for _, i in page]))
            )
        )
        .unique()
        .scalars()
    }
    hits = [
        Hit(by_id[i], s, highlight(by_id[i].question, terms), snippet(by_id[i].answer, terms))
        for s, i in page
        if i in by_id
    ]
    return SearchResult(query, terms, len(texts), capped, hits)
