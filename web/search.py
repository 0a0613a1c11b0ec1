"""The one search, in the shell: the /search page, GET /api/search and the glossary editor.

Members only. Filters are parsed once (`parse_filters`); a bad one is a typed 400 on the API
and a Japanese message on the page.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromQuery, QueryParameter
from litestar.response import Redirect, Template

from core.access import MemberApi, MemberPages, operator_guard
from core.bounds import PathId
from core.deps import DbSession, Me
from core.errors import Invalid
from core.search import glossary
from core.search.query import Filters
from core.search.service import KIND_LABELS, MAX_PAGE, Result, search
from core.sections.service import section_choices
from core.timefmt import JST
from faq.service import list_series
from web.forms import read_form

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def _int(raw: str | None, label: str, field: str) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise Invalid(f"{label}は番号で指定してください。", fields={field: "番号で指定してください。"})
    return int(raw)


def _date(raw: str | None, label: str, field: str, *, end: bool = False) -> dt.datetime | None:
    if raw is None or raw == "":
        return None
    match = _DATE.match(raw)
    try:
        day = dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else None
    except ValueError:
        day = None
    if day is None:
        raise Invalid(
            f"{label}は YYYY-MM-DD の形式で指定してください。", fields={field: "日付の形式が正しくありません。"}
        )
    start = dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time(), JST)
    return start.astimezone(dt.UTC)


def parse_filters(
    kind: str | None, section: str | None, series: str | None, date_from: str | None, date_to: str | None
) -> Filters:
    kinds = tuple(k for k in (kind or "").split(",") if k)
    unknown = [k for k in kinds if k not in KIND_LABELS]
    if unknown:
        raise Invalid(
            "種類は " + "、".join(KIND_LABELS) + " から選んでください。",
            fields={"kind": f"知らない種類です: {unknown[0][:30]}"},
        )
    filters = Filters(
        kinds=kinds,
        section_id=_int(section, "課", "section"),
        series_id=_int(series, "シリーズ", "series"),
        date_from=_date(date_from, "期間の開始日", "from"),
        date_to=_date(date_to, "期間の終了日", "to", end=True),
    )
    if filters.date_from and filters.date_to and filters.date_from >= filters.date_to:
        raise Invalid("期間の開始日は終了日より前にしてください。", fields={"from": "終了日より後になっています。"})
    return filters


def _page(raw: str | None) -> int:
    if raw is None or raw == "":
        return 1
    if not raw.isdigit() or not 1 <= int(raw[:4]) <= MAX_PAGE:
        raise Invalid(f"ページは1から{MAX_PAGE}までの番号で指定してください。", fields={"page": "範囲外です。"})
    return int(raw)


class HitOut(msgspec.Struct):
    kind: str
    id: int
    title: str
    title_html: str
    url: str
    snippet: str  # HTML: text escaped, matches in <mark>
    date: dt.datetime
    section_id: int | None
    series_id: int | None
    tier: int  # 3: the query as a phrase in the title, 2: in the body, 1: every word


class SearchOut(msgspec.Struct):
    query: str
    total: int
    capped: bool
    counts: dict[str, int]
    page: int
    pages: int
    hits: list[HitOut]
    suggestion: str | None = None
    message: str | None = None

    @classmethod
    def of(cls, r: Result) -> SearchOut:
        hits = [
            HitOut(
                h.doc.kind,
                h.doc.ref_id,
                h.doc.title,
                str(h.title_html),
                h.doc.url,
                str(h.snippet_html),
                h.doc.date,
                h.doc.section_id,
                h.doc.series_id,
                h.tier,
            )
            for h in r.hits
        ]
        return cls(r.query, r.total, r.capped, r.counts, r.page, r.pages, hits, r.suggestion, r.message)


class SearchApi(MemberApi):
    path = "/api/search"
    tags = ["search"]

    @get("/")
    async def search(
        self,
        db: DbSession,
        q: FromQuery[str] = "",
        kind: FromQuery[str | None] = None,
        section: FromQuery[str | None] = None,
        series: FromQuery[str | None] = None,
        date_from: Annotated[str | None, QueryParameter(name="from")] = None,
        date_to: Annotated[str | None, QueryParameter(name="to")] = None,
        page: FromQuery[str | None] = None,
    ) -> SearchOut:
        """Everything Chonai knows, ranked together: FAQ entries, answered questions, archive, programs."""
        filters = parse_filters(kind, section, series, date_from, date_to)
        return SearchOut.of(await search(db, q[:500], filters, page=_page(page)))


class SearchPages(MemberPages):
    path = "/search"

    @get("/")
    async def page(self, request: Request[Any, Any, Any], db: DbSession, q: FromQuery[str] = "") -> Template:
        params = request.query_params
        error = None
        result = None
        try:
            filters = parse_filters(
                params.get("kind"), params.get("section"), params.get("series"), params.get("from"), params.get("to")
            )
            page = _page(params.get("page"))
            if q.strip():
                result = await search(db, q[:500], filters, page=page)
        except Invalid as exc:
            error, filters = exc.message, Filters()
        # Links to other kinds and pages keep the other filters (課, series, period).
        kept = {k: params[k] for k in ("section", "series", "from", "to") if params.get(k)}
        return Template(
            "search.html",
            context={
                "q": q[:500],
                "result": result,
                "error": error,
                "filters": filters,
                "labels": KIND_LABELS,
                "params": dict(params),
                "kept": urlencode(kept),
                "sections": await section_choices(db),
                "series_list": await list_series(db),
            },
        )

    @get("/glossary")
    async def glossary_page(self, db: DbSession, msg: FromQuery[str | None] = None) -> Template:
        return await _glossary_page(db, notice={"saved": "保存しました。", "deleted": "削除しました。"}.get(msg or ""))

    @post("/glossary", guards=[operator_guard])
    async def glossary_save(self, request: Request[Any, Any, Any], me: Me, db: DbSession) -> Response[Any]:
        form = await read_form(request)
        entry_id = _int(form.get("id"), "項目", "id")
        try:
            await glossary.save(db, me.id, form.get("words", ""), form.get("note", ""), entry_id)
        except Invalid as exc:
            return await _glossary_page(db, error=exc.message, values=form, status=400)
        return Redirect("/search/glossary?msg=saved", status_code=303)

    @post("/glossary/{entry_id:int}/delete", guards=[operator_guard])
    async def glossary_delete(self, db: DbSession, entry_id: PathId) -> Redirect:
        await glossary.delete(db, entry_id)
        return Redirect("/search/glossary?msg=deleted", status_code=303)


async def _glossary_page(
    db: DbSession,
    *,
    notice: str | None = None,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    return Template(
        "search_glossary.html",
        context={"entries": await glossary.entries(db), "notice": notice, "error": error, "values": values or {}},
        status_code=status,
    )


route_handlers: list[Any] = [SearchApi, SearchPages]
