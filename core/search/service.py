"""One search over every kind: plan, rank, page, load, highlight; plus 「もしかして」."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from core.search import snippets
from core.search.plan import Plan, make_plan, suggestion
from core.search.query import Filters, Found, Ranked, rank

KIND_LABELS = {
    "faq_entry": "FAQ",
    "question": "回答済みの質問",
    "broadcast": "アーカイブ放送",
    "comment": "アーカイブのチャット",
    "program": "番組",
    "series": "勉強会シリーズ",
}
PER_PAGE = 20
MAX_PAGE = 50


@dataclasses.dataclass
class Hit:
    doc: Found
    tier: int
    score: float
    title_html: Markup
    snippet_html: Markup

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.doc.kind, self.doc.kind)


@dataclasses.dataclass
class Result:
    query: str
    hits: list[Hit]
    total: int
    capped: bool
    counts: dict[str, int]
    page: int
    per_page: int
    suggestion: str | None = None
    message: str | None = None

    @property
    def pages(self) -> int:
        return max(1, min(MAX_PAGE, -(-self.total // self.per_page)))

    @property
    def total_label(self) -> str:
        return f"{self.total}件以上" if self.capped else f"{self.total}件"


async def _suggest(db: AsyncSession, plan: Plan, filters: Filters) -> str | None:
    alternative = await suggestion(db, plan)
    if alternative is None:
        return None
    ranked, _ = await rank(db, alternative, filters, full=False)
    if not ranked:
        return None
    best = [k for alt in ranked[0].matched for k in alt]
    if best == [k for s in plan.slots for k in s.alternatives[0]]:
        return None
    return "".join(alternative.surfaces.get(k, k) for k in best)


async def search(
    db: AsyncSession, query: str, filters: Filters | None = None, *, page: int = 1, per_page: int = PER_PAGE
) -> Result:
    filters = filters or Filters()
    page = max(1, min(page, MAX_PAGE))
    plan = await make_plan(db, query)
    if not plan.slots:
        message = "検索できる語が含まれていません。言葉を入れて検索してください。" if query.strip() else None
        return Result(query, [], 0, False, {}, page, per_page, message=message)
    ranked, capped = await rank(db, plan, filters)
    counts = dict(Counter(r.kind for r in ranked))
    chosen = [r for r in ranked if not filters.kinds or r.kind in filters.kinds]
    hint = None
    if len(chosen) < 5:
        hint = await _suggest(db, plan, filters)
    window = chosen[(page - 1) * per_page : page * per_page]
    return Result(query, load_hits(window), len(chosen), capped, counts, page, per_page, suggestion=hint)


def load_hits(window: list[Ranked]) -> list[Hit]:
    """Titles and snippets with the matched words marked (the rows already carry every column)."""
    hits: list[Hit] = []
    for r in window:
        doc = r.doc
        keys = {k for alt in r.matched for k in alt}
        title = snippets.mark(doc.title, snippets.spans(doc.title_keys, doc.title_spans, keys))
        body = snippets.snippet(doc.body, snippets.spans(doc.body_keys, doc.body_spans, keys))
        hits.append(Hit(doc, r.tier, r.score, title, body))
    return hits


async def matching_refs(
    db: AsyncSession, query: str, kinds: Sequence[str], filters: Filters | None = None
) -> list[tuple[str, int, int | None]]:
    """(kind, ref_id, group_id) of every match of these kinds, best first (for domain pages)."""
    plan = await make_plan(db, query)
    ranked, _ = await rank(db, plan, filters or Filters(), full=False)
    return [(r.doc.kind, r.doc.ref_id, r.doc.group_id) for r in ranked if r.kind in kinds]
