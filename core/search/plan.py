"""From a query to a plan: required slots (each with alternative key sequences) and the phrase.

Every content word of the query is one slot, all slots are required (no false hits from one
shared common word). A glossary word turns its span into one slot whose alternatives are the
group's members. An all-hiragana query is read against the vocabulary's readings instead
(せっしゅけん -> 接種・券), and then the slots must appear in order, side by side.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.search import glossary
from core.search.analyse import QUERY_STOPWORDS, Word, words
from core.search.models import SearchTerm
from core.search.text import fold_key, is_hiragana_text, normalize

MAX_QUERY = 200
MAX_SLOTS = 6
MAX_READING = 24
MAX_ALTERNATIVES = 8

Keys = tuple[str, ...]


@dataclasses.dataclass
class Slot:
    alternatives: list[Keys]
    label: str


@dataclasses.dataclass
class Plan:
    query: str
    slots: list[Slot]
    in_order: bool = False  # reading-based plans: slots must be adjacent, in order
    dropped: list[str] = dataclasses.field(default_factory=list)
    surfaces: dict[str, str] = dataclasses.field(default_factory=dict)  # key -> how the index writes it

    @property
    def keys(self) -> set[str]:
        return {k for s in self.slots for alt in s.alternatives for k in alt}


def content_words(query: str) -> list[Word]:
    found = words(query[:MAX_QUERY])
    kept = [w for w in found if w.key not in QUERY_STOPWORDS]
    return kept or found


def _glossary_slots(found: list[Word], groups: list[glossary.Group]) -> list[Slot]:
    seq = [w.key for w in found]
    slots: list[Slot] = []
    i = 0
    while i < len(seq):
        best: tuple[int, glossary.Group] | None = None
        for group in groups:
            for member in group:
                n = len(member)
                if tuple(seq[i : i + n]) == member and (best is None or n > best[0]):
                    best = (n, group)
        if best is not None:
            n, group = best
            slots.append(Slot(list(group), "".join(w.surface for w in found[i : i + n])))
            i += n
        else:
            slots.append(Slot([(seq[i],)], found[i].surface))
            i += 1
    return slots


async def readings(db: AsyncSession, reading: str) -> dict[str, list[tuple[str, str]]]:
    """Vocabulary entries whose reading is a substring of `reading`: reading -> [(key, surface)]."""
    subs = {reading[i:j] for i in range(len(reading)) for j in range(i + 1, min(len(reading), i + 16) + 1)}
    rows = await db.execute(
        select(SearchTerm.reading, SearchTerm.term, SearchTerm.surface).where(SearchTerm.reading.in_(subs))
    )
    out: dict[str, list[tuple[str, str]]] = {}
    for r, term, surface in rows:
        out.setdefault(str(r), []).append((str(term), str(surface)))
    return out


def segment(reading: str, vocab: dict[str, list[tuple[str, str]]]) -> list[str] | None:
    """Fewest vocabulary readings that spell `reading` exactly, or None."""
    best: list[list[str] | None] = [None] * (len(reading) + 1)
    best[0] = []
    for i in range(len(reading)):
        current = best[i]
        if current is None:
            continue
        for j in range(i + 1, min(len(reading), i + 16) + 1):
            piece = reading[i:j]
            if piece in vocab:
                candidate = [*current, piece]
                if best[j] is None or len(candidate) < len(best[j] or ()):
                    best[j] = candidate
    return best[len(reading)]


async def reading_plan(db: AsyncSession, query: str, reading: str) -> Plan | None:
    vocab = await readings(db, reading)
    pieces = segment(reading, vocab)
    if not pieces or len(pieces) > MAX_SLOTS:
        return None
    slots = [Slot([(key,) for key, _ in vocab[p][:MAX_ALTERNATIVES]], vocab[p][0][1]) for p in pieces]
    surfaces = {key: surface for p in pieces for key, surface in vocab[p]}
    return Plan(query, slots, in_order=True, surfaces=surfaces)


async def make_plan(db: AsyncSession, query: str) -> Plan:
    query = query[:MAX_QUERY]
    norm = normalize(query)
    if is_hiragana_text(norm):
        reading = fold_key("".join(norm.split()))[:MAX_READING]
        planned = await reading_plan(db, query, reading)
        if planned is not None:
            return planned
    found = content_words(query)
    dropped = [w.surface for w in words(query) if w not in found]
    slots = _glossary_slots(found, await glossary.groups(db))[:MAX_SLOTS]
    return Plan(query, slots, dropped=dropped)


async def suggestion(db: AsyncSession, plan: Plan) -> Plan | None:
    """「もしかして」: the same reading spelled with words the index knows, if that differs."""
    if plan.in_order or not plan.slots:
        return None
    found = content_words(plan.query)
    reading = "".join(w.reading for w in found)[:MAX_READING]
    if not reading:
        return None
    return await reading_plan(db, plan.query, reading)  # the caller keeps it only if other words match
