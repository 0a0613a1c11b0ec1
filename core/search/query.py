"""Running a plan in one SQL statement (same SQL on SQLite and PostgreSQL), then ranking in Python.

The statement returns, on every row, each query key's posting count (capped at DF_CAP, for BM25)
and the candidates: documents holding every key of one alternative of every slot, read newest
first along the driving keys' postings (in the rarest slot, each alternative's rarest key by this
process's last counts; keys it has not counted yet are counted by one cheap statement first, since
a common driving key checks thousands of candidates), one branch per driving key stopped at
`CANDIDATE_CAP`, with every column the result page needs. Python then checks that each slot's
alternative really occurs as a run of keys, and ranks: the whole query as a phrase in the title,
then as a phrase in the body, then BM25 (title keys count 3x), then the newer date.

It runs on the driver connection under the session's transaction (one call, one thread hop on
aiosqlite): the SQL is built per query shape from integers only; every term is a bound value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.search.plan import Keys, Plan

CANDIDATE_CAP = 200
DF_CAP = 2000
TITLE_WEIGHT = 3
K1, B = 1.2, 0.75
STATS_TTL_S = 10.0  # corpus size and mean length are re-counted at most this often per process
MAX_COMBINATIONS = 64  # phrase check by string search up to this many alternative combinations

_stats: dict[str, tuple[float, int, float]] = {}
# Posting counts this process last saw per key: they only choose the driving key (the SQL is
# correct whichever key drives), so they may be stale; BM25 uses the counts of the same statement.
_df_hint: dict[str, int] = {}
DF_HINT_MAX = 50_000


@dataclasses.dataclass
class Filters:
    kinds: Sequence[str] = ()
    section_id: int | None = None
    series_id: int | None = None
    group_ids: Sequence[int] | None = None
    date_from: dt.datetime | None = None
    date_to: dt.datetime | None = None


@dataclasses.dataclass(slots=True)
class Found:
    """One indexed document as the search reads it (the columns of search_documents)."""

    id: int
    kind: str
    ref_id: int
    group_id: int | None
    date: dt.datetime
    length: int
    title_keys: str
    body_keys: str
    title: str = ""
    body: str = ""
    url: str = ""
    section_id: int | None = None
    series_id: int | None = None
    title_spans: str = ""
    body_spans: str = ""


_SLIM = ("id", "kind", "ref_id", "group_id", "date", "length", "title_keys", "body_keys")
_FULL = (*_SLIM, "title", "body", "url", "section_id", "series_id", "title_spans", "body_spans")


@dataclasses.dataclass
class Ranked:
    doc: Found
    tier: int  # 3: phrase in title, 2: phrase in body, 1: every word
    score: float
    matched: list[Keys]  # per slot, the alternative that occurred

    @property
    def doc_id(self) -> int:
        return self.doc.id

    @property
    def kind(self) -> str:
        return self.doc.kind

    @property
    def date(self) -> dt.datetime:
        return self.doc.date

    def sort_key(self) -> tuple[int, float, float]:
        return (-self.tier, -round(self.score, 6), -self.date.timestamp())


# --- matching on key streams ------------------------------------------------------------------
# A stream "a b c" is searched as " a  b  c ": every key wrapped in its own spaces, so a run of
# keys is one substring test and counting a key never shares a space between two occurrences.


def padded(keys_text: str) -> str:
    return " " + keys_text.replace(" ", "  ") + " " if keys_text else ""


def _needle(keys: Keys) -> str:
    return " " + "  ".join(keys) + " "


def find_sequence(stream: str, slots: Sequence[Sequence[Keys]]) -> bool:
    """Whether one alternative of each slot occurs back to back, in order (walking the keys: for
    plans with too many alternative combinations to try each as one substring)."""
    keys = stream.split()

    def at(pos: int, index: int) -> bool:
        if index == len(slots):
            return True
        return any(keys[pos : pos + len(alt)] == list(alt) and at(pos + len(alt), index + 1) for alt in slots[index])

    return any(at(i, 0) for i in range(len(keys)))


# --- the statement ----------------------------------------------------------------------------


class _Params:
    """Bound values in order, written as ? (SQLite) or $n (PostgreSQL)."""

    def __init__(self, dialect: str) -> None:
        self.values: list[Any] = []
        self.dialect = dialect
        self.pg = dialect == "postgresql"

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}" if self.pg else "?"


def _driving(plan: Plan) -> list[str]:
    """The keys whose postings drive the scan: in the rarest slot, per alternative its rarest key."""

    def df(key: str) -> int:
        return _df_hint.get(key, 0)  # unseen keys are taken as rare: they are counted by this query

    best: tuple[int, list[str]] | None = None
    for slot in plan.slots:
        probes = sorted({min(alt, key=df) for alt in slot.alternatives})
        cost = sum(df(k) for k in probes)
        if best is None or cost < best[0]:
            best = (cost, probes)
    assert best is not None
    return best[1]


# Fragments filled with placeholders and integers only (values are bound).
_COUNT = "(SELECT count(*) FROM (SELECT 1 FROM search_postings WHERE term = {term} LIMIT {cap}) AS q{i}) AS df{i}"
_HAS = "EXISTS (SELECT 1 FROM search_postings x WHERE x.term = {term} AND x.doc_id = p0.doc_id{fence})"
# PostgreSQL would pull every EXISTS up into one join problem and plan it anew for each shape of
# query (tens of milliseconds for five words); behind OFFSET 0 each stays a probe of the
# (term, doc_id) key per candidate, which is what the newest-first scan with a cap wants.
_FENCE = {"postgresql": " OFFSET 0"}


def _statement(
    plan: Plan, terms: list[str], filters: Filters, columns: Sequence[str], dialect: str, stats: bool
) -> tuple[str, list[Any]]:
    p = _Params(dialect)
    counts = [_COUNT.format(term=p(t), cap=DF_CAP, i=i) for i, t in enumerate(terms)]
    if stats:
        counts += [
            "(SELECT count(*) FROM search_documents) AS n_docs",
            "(SELECT avg(length) FROM search_documents) AS avg_length",
        ]
    fence = _FENCE.get(dialect, "")
    # One branch per driving key, each read newest first and stopped at the cap on its own: an
    # IN list over several keys cannot be read in doc_id order from the (term, doc_id) key, so
    # it would check every posting of every driving key before sorting.
    branches = [_branch(plan, probe, filters, fence, p) for probe in _driving(plan)]
    limit = f" ORDER BY doc_id DESC LIMIT {CANDIDATE_CAP + 1}"
    if len(branches) == 1:
        ids = branches[0] + limit
    else:
        parts = [f"SELECT doc_id FROM ({b}{limit}) AS b{i}" for i, b in enumerate(branches)]  # noqa: S608
        ids = " UNION ".join(parts) + limit
    cols = ", ".join(f"d.{c} AS c_{c}" for c in columns)
    candidates = f"SELECT {cols} FROM ({ids}) AS m JOIN search_documents d ON d.id = m.doc_id"  # noqa: S608
    sql = f"SELECT s.*, c.* FROM (SELECT {', '.join(counts)}) AS s LEFT JOIN ({candidates}) AS c ON 1 = 1"  # noqa: S608
    return sql, p.values


def _branch(plan: Plan, probe: str, filters: Filters, fence: str, p: _Params) -> str:
    """The documents holding every slot, read along one driving key's postings (values bound in text order)."""
    where: list[str] = [f"p0.term = {p(probe)}"]
    for slot in plan.slots:
        # The driving key itself needs no probe (p0 is its posting); an alternative left with
        # nothing to check always holds, and so does its slot.
        needed = [[k for k in dict.fromkeys(alt) if k != probe] for alt in slot.alternatives]
        if not all(needed):
            continue
        options = ["(" + " AND ".join(_HAS.format(term=p(k), fence=fence) for k in keys) + ")" for keys in needed]
        if options:
            where.append(options[0] if len(options) == 1 else "(" + " OR ".join(options) + ")")
    # Filters after the postings in the WHERE: values are bound in text order.
    documents: list[str] = []
    if filters.section_id is not None:
        documents.append(f"f.section_id = {p(filters.section_id)}")
    if filters.series_id is not None:
        documents.append(f"f.series_id = {p(filters.series_id)}")
    if filters.group_ids is not None:
        groups = list(filters.group_ids)
        documents.append(_in("f.group_id", groups, p) if groups else "1 = 0")
    if filters.date_from is not None:
        documents.append(f"f.date >= {p(_db_time(filters.date_from, p.dialect))}")
    if filters.date_to is not None:
        documents.append(f"f.date < {p(_db_time(filters.date_to, p.dialect))}")
    joined = " JOIN search_documents f ON f.id = p0.doc_id" if documents else ""
    return f"SELECT p0.doc_id AS doc_id FROM search_postings p0{joined} WHERE " + " AND ".join([*where, *documents])  # noqa: S608 - built from integers and fragments above; values are bound


def _in(column: str, values: Sequence[Any], p: _Params) -> str:
    return f"{column} IN (" + ", ".join(p(v) for v in values) + ")"


def _db_time(value: dt.datetime, dialect: str) -> Any:
    """A UTC datetime as core.db stores it: naive text-comparable on SQLite, aware on PostgreSQL."""
    value = value.astimezone(dt.UTC)
    if dialect == "postgresql":
        return value
    return value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _utc(value: Any) -> dt.datetime:
    """A date as the driver returns it (text on SQLite), aware UTC like core.db.UTCDateTime."""
    when: dt.datetime = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


async def _fetch(db: AsyncSession, sql: str, values: list[Any]) -> list[Sequence[Any]]:
    """One call on the session's own connection (and transaction), bypassing per-row ORM work."""
    conn = await db.connection()
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if conn.dialect.name == "postgresql":
        return list(await driver.fetch(sql, *values))
    return list(await driver.execute_fetchall(sql, values))


async def rank(db: AsyncSession, plan: Plan, filters: Filters, *, full: bool = True) -> tuple[list[Ranked], bool]:
    """Every matching document of any kind (up to the cap) ranked, and whether the cap was reached.

    `full` also reads the columns a result page shows (title, body, url, spans) in the same statement.
    """
    if not plan.slots:
        return [], False
    terms = sorted(plan.keys)
    dialect = db.get_bind().dialect.name
    stats_key = str(db.get_bind().engine.url)
    cached = _stats.get(stats_key)
    fresh = cached is not None and time.monotonic() - cached[0] < STATS_TTL_S
    columns = _FULL if full else _SLIM
    unseen = [t for t in terms if t not in _df_hint]
    if unseen:
        # The driving key decides the cost (a common key checks thousands of candidates, a rare one
        # a handful): count keys this process has not seen first, one cheap round trip.
        # Only these fresh counts may rule a slot out (other hints can be stale).
        absent = {k for k, c in (await _count(db, unseen, dialect)).items() if c == 0}
        if any(all(absent.intersection(alt) for alt in slot.alternatives) for slot in plan.slots):
            return [], False  # a slot no document holds: nothing can match
    sql, values = _statement(plan, terms, filters, columns, dialect, stats=not fresh)
    rows = await _fetch(db, sql, values)
    head = rows[0]
    df = {t: int(head[i]) for i, t in enumerate(terms)}
    _remember(df)
    offset = len(terms)
    if fresh:
        assert cached is not None
        n, avg = cached[1], cached[2]
    else:
        n, avg = int(head[offset] or 0), float(head[offset + 1] or 1.0)
        _stats[stats_key] = (time.monotonic(), n, avg)
        offset += 2
    found = [_found(r, offset, columns) for r in rows if r[offset] is not None]
    found.sort(key=lambda f: f.id, reverse=True)
    capped = len(found) > CANDIDATE_CAP
    idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
    out: list[Ranked] = []
    matcher = _Matcher(plan)
    for doc in found[:CANDIDATE_CAP]:
        ranked = matcher.score(padded(doc.title_keys), padded(doc.body_keys), idf, doc.length, avg)
        if ranked is None:
            continue
        tier, score, matched = ranked
        out.append(Ranked(doc, tier, score, matched))
    out.sort(key=Ranked.sort_key)
    return out, capped


async def _count(db: AsyncSession, keys: list[str], dialect: str) -> dict[str, int]:
    """The capped posting counts of these keys, also recorded as driving hints."""
    p = _Params(dialect)
    sql = "SELECT " + ", ".join(_COUNT.format(term=p(t), cap=DF_CAP, i=i) for i, t in enumerate(keys))
    head = (await _fetch(db, sql, p.values))[0]
    counts = {k: int(head[i]) for i, k in enumerate(keys)}
    _remember(counts)
    return counts


def forget() -> None:
    """Drop this process's corpus statistics and posting-count hints (a database was replaced)."""
    _stats.clear()
    _df_hint.clear()


def _remember(df: dict[str, int]) -> None:
    if len(_df_hint) > DF_HINT_MAX:
        _df_hint.clear()
    _df_hint.update(df)


def _found(row: Sequence[Any], offset: int, columns: Sequence[str]) -> Found:
    values = dict(zip(columns, row[offset : offset + len(columns)], strict=True))
    values["date"] = _utc(values["date"])
    return Found(**values)


class _Matcher:
    """A plan's needles, built once per query and tried on every candidate's padded streams."""

    def __init__(self, plan: Plan) -> None:
        self.slots = [[(alt, _needle(alt)) for alt in slot.alternatives] for slot in plan.slots]
        self.in_order = plan.in_order
        groups = [s.alternatives for s in plan.slots]
        self.groups = groups
        self.sequences: list[str] | None = None
        if math.prod(len(g) for g in groups) <= MAX_COMBINATIONS:
            self.sequences = [_needle(tuple(k for alt in combo for k in alt)) for combo in itertools.product(*groups)]
        self.key_needles = {k: f" {k} " for slot in plan.slots for alt in slot.alternatives for k in alt}

    def sequence(self, stream: str) -> bool:
        if not stream:
            return False
        if self.sequences is not None:
            return any(n in stream for n in self.sequences)
        return find_sequence(stream, self.groups)

    def score(
        self, title: str, body: str, idf: dict[str, float], length: int, avg: float
    ) -> tuple[int, float, list[Keys]] | None:
        matched: list[Keys] = []
        for slot in self.slots:
            alt = next((a for a, needle in slot if needle in title or needle in body), None)
            if alt is None:
                return None
            matched.append(alt)
        in_title = self.sequence(title)
        in_body = not in_title and self.sequence(body)
        if self.in_order and not (in_title or in_body):
            return None
        tier = 3 if in_title else 2 if in_body else 1
        score = 0.0
        norm = K1 * (1 - B + B * length / max(avg, 1.0))
        for alt in matched:
            for key in alt:
                needle = self.key_needles[key]
                tf = TITLE_WEIGHT * title.count(needle) + body.count(needle)
                score += idf.get(key, 0.0) * tf * (K1 + 1) / (tf + norm)
        return tier, score, matched
