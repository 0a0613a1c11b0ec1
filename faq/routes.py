# size: over 400 lines (the FAQ pages and API in one module); a pages/API split is listed in docs/architecture.md.
"""Route handlers of the faq domain; `web.app` mounts them (a domain never imports `web`).

Handlers are thin: parse, guard, call one service function. Pages answer errors as a
Japanese page, `/api/faq/...` as typed JSON `{"error": {"code", "message", "status"}}`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Template

from core.access import active_member, member_guard, role_guard
from core.bounds import EARLIEST, LATEST, MAX_ID, Id, PathId, Position, QueryPosition
from core.deps import AppSettings, Bus, DbSession
from core.forms import read_form
from core.members.models import Member, Role
from core.sections.service import check_owner, owner_choices
from core.timefmt import JST
from faq import attendance, attendance_routes, board, documents, events, exports, service
from faq.models import FaqDocument, Question, SessionState, StudySession
from faq.render import markdown_html
from faq.search import search
from faq.service import FaqError
from faq.ws import board_socket
from live.public import Broadcast


def _int(value: str | None, label: str) -> int:
    raw = (value or "").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10 or int(raw) > MAX_ID:
        raise FaqError("bad_number", f"{label}が正しくありません。")
    return int(raw)


def _parse_local(value: str) -> dt.datetime:
    try:
        local = dt.datetime.fromisoformat(value)
    except ValueError:
        raise FaqError("bad_datetime", "開始日時を正しく入力してください。") from None
    if not EARLIEST <= local.date() <= LATEST:
        raise FaqError("bad_datetime", "開始日時は2000年から2100年までの範囲で入力してください。")
    return (local if local.tzinfo else local.replace(tzinfo=JST)).astimezone(dt.UTC)


DRAFT_SAVED = "下書きとして保存されています"


def _asks_json(request: Request[Any, Any, Any]) -> bool:
    """A form post re-shows the form unless the client explicitly asked for JSON."""
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _entries_from(form: dict[str, str]) -> list[documents.EntryInput]:
    """The edit form's rows, in form order; deleted rows and the blank "add an entry" row are left out."""
    entries = []
    count = min(_int(form.get("count", "0"), "件数"), documents.MAX_ENTRIES + 1)
    for i in range(count + 1):  # the last row is the blank "add an entry" row
        q, a = form.get(f"question-{i}", "").strip(), form.get(f"answer-{i}", "").strip()
        if form.get(f"delete-{i}") == "on" or (i == count and not q and not a):
            continue
        entries.append(
            documents.EntryInput(
                category=form.get(f"category-{i}", ""),
                question=q,
                answer=a,
                votes=_int(form.get(f"votes-{i}") or "0", "票数"),
                question_id=_int(form[f"qid-{i}"], "質問") if form.get(f"qid-{i}") else None,
            )
        )
    return entries


async def _edit_page(
    db: DbSession,
    doc: FaqDocument,
    session: StudySession,
    entries: list[Any],
    *,
    form: dict[str, str] | None = None,
    error: FaqError | None = None,
    saved: bool = False,
) -> Template:
    """The edit form; after a refusal it shows the submitted values, the error beside its field, and
    whether the draft was kept (publishing refused) or not (the draft itself was refused)."""
    form = form or {}
    pending = saved or await documents.draft_pending(db, doc)
    if error is not None and not saved:
        notice = "入力内容を確認してください。この変更はまだ保存されていません。"
    elif error is not None:
        notice = f"公開できませんでした。編集内容は{DRAFT_SAVED}（まだ公開されていません）。"
    elif pending:
        notice = f"{DRAFT_SAVED}（まだ公開されていません）。"
    else:
        notice = None
    return Template(
        "faq/edit.html",
        context={
            "doc": doc,
            "session": session,
            "entries": entries,
            "categories": session.series.category_list,
            "md": markdown_html,
            "edit_notice": notice,
            "draft_pending": pending,
            "error": error,
            "errors": error.fields if error else {},
            "values": {
                "title": form.get("title", doc.title),
                "intro": form.get("intro", doc.intro),
                "note": form.get("note", ""),
            },
        },
        status_code=error.status if error else 200,
    )


async def _session_ctx(db: DbSession, session: StudySession, member: Member) -> dict[str, Any]:
    organiser = await service.can_organise(db, member, session.series_id)
    return {
        "session": session,
        "series": session.series,
        "organiser": organiser,
        "registered": await service.is_registered(db, member, session),
        "registrations": await service.registration_count(db, session.id),
        "document": await documents.document_of(db, session.id),
        "broadcast": await db.get(Broadcast, session.broadcast_id) if session.broadcast_id else None,
        "roll": await attendance.roll(db, session) if organiser else [],
    }


# --- pages ---------------------------------------------------------------------------------


class FaqPages(Controller):
    path = "/faq"
    guards = [member_guard]
    include_in_schema = False

    @get("/")
    async def index(self, db: DbSession, category: FromQuery[str | None] = None) -> Template:
        docs = await documents.published_documents(db)
        return Template(
            "faq/index.html",
            context={
                "series_list": await service.list_series(db),
                "docs": docs[:20],
                "categories": await documents.categories(db),
                "can_create": True,
            },
        )

    @get("/search")
    async def search_page(
        self, db: DbSession, q: FromQuery[str] = "", series: FromQuery[int | None] = None, page: FromQuery[int] = 1
    ) -> Template:
        q = q[:200]
        page = max(1, min(page, 25))
        series_obj = await service.get_series(db, series) if series else None
        doc_ids = await documents.document_ids_of_series(db, series_obj) if series_obj else None
        result = await search(db, q, limit=20, offset=(page - 1) * 20, document_ids=doc_ids) if q.strip() else None
        return Template(
            "faq/search.html",
            context={
                "q": q,
                "result": result,
                "series": series_obj,
                "page": page,
                "series_list": await service.list_series(db),
            },
        )

    @get("/categories/{name:str}")
    async def category(self, db: DbSession, name: FromPath[str], series: FromQuery[int | None] = None) -> Template:
        return Template(
            "faq/category.html",
            context={"name": name, "entries": await documents.category_entries(db, name[:40], series)},
        )

    @get("/series/new", guards=[role_guard(Role.HOST)])  # the form only for those who may submit it
    async def new_series(self, request: Request[Any, Any, Any], db: DbSession) -> Template:
        sections = await owner_choices(db, active_member(request))
        return Template("faq/series_new.html", context={"sections": sections})

    @post("/series")
    async def create_series(self, request: Request[Any, Any, Any], db: DbSession) -> Redirect:
        form = await read_form(request)
        section_id = _int(form["section_id"], "課") if form.get("section_id") else None
        await check_owner(db, active_member(request), section_id)
        series = await service.create_series(
            db,
            active_member(request),
            title=form.get("title", ""),
            description=form.get("description", ""),
            section_id=section_id,
            categories=form.get("categories", ""),
        )
        return Redirect(f"/faq/series/{series.id}", status_code=303)

    @get("/series/{series_id:int}")
    async def series_page(
        self, request: Request[Any, Any, Any], db: DbSession, series_id: PathId, msg: FromQuery[str] = ""
    ) -> Template:
        member = active_member(request)
        series = await service.get_series(db, series_id)
        return Template(
            "faq/series.html",
            context={
                "series": series,
                "stats": await attendance.series_stats(db, series.id),
                "sessions": await service.sessions_of(db, series.id),
                "organisers": await service.organisers(db, series.id),
                "organiser": await service.can_organise(db, member, series.id),
                "topics": await service.topics_of(db, series.id),
                "my_topic_votes": await service.topic_votes_by(db, member, series.id),
                "docs": await documents.published_documents(db, series.id),
                "categories": await documents.categories(db, series.id),
                "notice": {"topic": "テーマをリクエストしました。", "voted": "投票しました。"}.get(msg),
            },
        )

    @post("/series/{series_id:int}/sessions")
    async def create_session(self, request: Request[Any, Any, Any], db: DbSession, series_id: PathId) -> Redirect:
        form = await read_form(request)
        series = await service.get_series(db, series_id)
        broadcast_id = _int(form["broadcast_id"], "放送") if form.get("broadcast_id") else None
        session = await service.create_session(
            db,
            active_member(request),
            series,
            title=form.get("title", ""),
            starts_at=_parse_local(form.get("starts_at", "")),
            meeting_url=form.get("meeting_url", ""),
            broadcast_id=broadcast_id,
            premoderation=form.get("premoderation") == "on",
        )
        return Redirect(f"/faq/sessions/{session.id}", status_code=303)

    @post("/series/{series_id:int}/topics")
    async def request_topic(self, request: Request[Any, Any, Any], db: DbSession, series_id: PathId) -> Redirect:
        form = await read_form(request)
        series = await service.get_series(db, series_id)
        await service.request_topic(db, active_member(request), series, form.get("title", ""), form.get("body", ""))
        return Redirect(f"/faq/series/{series_id}?msg=topic#topics", status_code=303)

    @post("/topics/{topic_id:int}/vote")
    async def vote_topic(self, request: Request[Any, Any, Any], db: DbSession, topic_id: PathId) -> Redirect:
        topic = await service.vote_topic(db, active_member(request), topic_id)
        return Redirect(f"/faq/series/{topic.series_id}?msg=voted#topics", status_code=303)

    @get("/sessions/{session_id:int}")
    async def session_page(
        self, request: Request[Any, Any, Any], db: DbSession, bus: Bus, session_id: PathId
    ) -> Template:
        member = active_member(request)
        session = await service.get_session(db, session_id)
        if await service.broadcast_ended(db, session):
            await documents.end_session(db, bus, None, session)
        await attendance.record(db, session, member.id, "board")
        return Template("faq/session.html", context=await _session_ctx(db, session, member))

    @post("/sessions/{session_id:int}/register")
    async def register(self, request: Request[Any, Any, Any], db: DbSession, session_id: PathId) -> Redirect:
        session = await service.get_session(db, session_id)
        await service.register(db, active_member(request), session)
        return Redirect(f"/faq/sessions/{session_id}", status_code=303)

    @post("/sessions/{session_id:int}/end")
    async def end(self, request: Request[Any, Any, Any], db: DbSession, bus: Bus, session_id: PathId) -> Redirect:
        session = await service.get_session(db, session_id)
        doc = await documents.end_session(db, bus, active_member(request), session)
        return Redirect(f"/faq/documents/{doc.id}/edit", status_code=303)

    @get("/documents/{document_id:int}")
    async def document(
        self, request: Request[Any, Any, Any], db: DbSession, settings: AppSettings, document_id: PathId
    ) -> Response[Any]:
        doc = await documents.get_document(db, document_id)
        if not doc.current_version:
            return Redirect(f"/faq/documents/{doc.id}/edit", status_code=303)
        return await self._version(request, db, settings, doc, None)

    @get("/documents/{document_id:int}/v/{number:int}")
    async def document_version(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        settings: AppSettings,
        document_id: PathId,
        number: PathId,
    ) -> Template:
        doc = await documents.get_document(db, document_id)
        return await self._version(request, db, settings, doc, number)

    async def _version(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        settings: AppSettings,
        doc: FaqDocument,
        number: int | None,
    ) -> Template:
        version = await documents.get_version(db, doc, number)
        entries = await documents.entries_of(db, version.id)
        session = await db.get_one(StudySession, doc.session_id)
        organiser = await service.can_organise(db, active_member(request), session.series_id)
        base = settings.base_url
        return Template(
            "faq/document.html",
            context={
                "doc": doc,
                "version": version,
                "session": session,
                "groups": documents.grouped(entries),
                "versions": await documents.versions_of(db, doc.id),
                "organiser": organiser,
                "draft_pending": organiser and await documents.draft_pending(db, doc),
                "draft_notice": DRAFT_SAVED,
                "base_url": base,
                "permalink": f"{base}/faq/documents/{doc.id}/v/{version.number}",
                "md": markdown_html,
                "notice": None,
            },
        )

    @get("/documents/{document_id:int}/edit")
    async def edit_document(self, request: Request[Any, Any, Any], db: DbSession, document_id: PathId) -> Template:
        doc = await documents.get_document(db, document_id)
        session = await db.get_one(StudySession, doc.session_id)
        await service.require_organiser(db, active_member(request), session.series_id)
        saved = bool(request.query_params.get("msg"))
        return await _edit_page(db, doc, session, await documents.draft_entries(db, doc.id), saved=saved)

    @post("/documents/{document_id:int}/edit")
    async def save_document(self, request: Request[Any, Any, Any], db: DbSession, document_id: PathId) -> Response[Any]:
        form = await read_form(request)
        doc = await documents.get_document(db, document_id)
        session = await db.get_one(StudySession, doc.session_id)
        member = active_member(request)
        entries = _entries_from(form)
        try:
            await documents.save_draft(db, member, doc, form.get("title", ""), form.get("intro", ""), entries)
        except FaqError as exc:
            if exc.status != 400 or _asks_json(request):
                raise
            # Refused before anything changed (the checks run before any write): nothing to roll back.
            return await _edit_page(db, doc, session, entries, form=form, error=exc)
        if form.get("action") == "publish":
            try:
                await documents.publish(db, member, doc, form.get("note", ""))
            except FaqError as exc:
                if exc.status not in (400, 409) or _asks_json(request):
                    raise
                drafts = await documents.draft_entries(db, doc.id)  # saved just above; publishing wrote nothing
                return await _edit_page(db, doc, session, drafts, form=form, error=exc, saved=True)
            return Redirect(f"/faq/documents/{doc.id}", status_code=303)
        return Redirect(f"/faq/documents/{doc.id}/edit?msg=saved", status_code=303)

    @get("/documents/{document_id:int}/v/{number:int}/download/{fmt:str}")
    async def download(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        settings: AppSettings,
        document_id: PathId,
        number: PathId,
        fmt: FromPath[str],
    ) -> Response[bytes]:
        if fmt not in exports.FORMATS:
            raise FaqError("bad_format", "形式は pdf / docx / md / csv / xlsx のいずれかです。", 404)
        doc = await documents.get_document(db, document_id)
        version = await documents.get_version(db, doc, number)
        entries = await documents.entries_of(db, version.id)
        session = await db.get_one(StudySession, doc.session_id)
        export = exports.Export(version, session, entries, settings.base_url)
        body = await asyncio.to_thread(exports.render_export, fmt, export)
        media = exports.MEDIA_TYPES[fmt]
        name = f"{version.title}_v{version.number}"
        disposition = f"attachment; filename=\"faq_v{version.number}.{fmt}\"; filename*=UTF-8''{quote(name)}.{fmt}"
        return Response(body, media_type=media, headers={"content-disposition": disposition})

    @get("/entries/{entry_id:int}")
    async def entry(self, db: DbSession, entry_id: PathId) -> Template:
        page = await documents.entry_page(db, entry_id)
        return Template("faq/entry.html", context={"p": page, "md": markdown_html})


# --- JSON API (the board's actions) --------------------------------------------------------


class QuestionIn(msgspec.Struct, forbid_unknown_fields=True):
    body: str = ""
    category: str = ""
    anonymous: bool = False


class AnswerIn(msgspec.Struct):
    answer: str = ""
    mark_answered: bool = True


class ReasonIn(msgspec.Struct):
    reason: str = ""


class EditIn(msgspec.Struct):
    body: str | None = None
    category: str | None = None


class MergeIn(msgspec.Struct):
    into: Position = 0


class AnsweringIn(msgspec.Struct):
    question_id: Id | None = None


class ToggleIn(msgspec.Struct):
    on: bool = False


class QuestionOut(msgspec.Struct):
    id: int
    status: str
    votes: int
    position: int

    @classmethod
    def of(cls, q: Question) -> QuestionOut:
        return cls(q.id, q.status.value, q.votes, q.position)


class Suggestion(msgspec.Struct):
    id: int
    question_html: str
    url: str
    document: str


class SearchHitOut(msgspec.Struct):
    id: int
    category: str
    question: str
    question_html: str
    snippet_html: str
    url: str
    document: str
    score: int


class SearchOut(msgspec.Struct):
    query: str
    terms: list[str]
    total: int
    capped: bool
    hits: list[SearchHitOut]


class AnsweringOut(msgspec.Struct):
    answering_id: int | None


class PremoderationOut(msgspec.Struct):
    premoderation: bool


class SessionStateOut(msgspec.Struct):
    state: str


class SessionEndedOut(msgspec.Struct):
    state: str
    document_id: int
    edit_url: str


class PublishedOut(msgspec.Struct):
    document_id: int
    version: int
    url: str


class FaqApi(Controller):
    path = "/api/faq"
    guards = [member_guard]
    tags = ["faq"]

    @post("/sessions/{session_id:int}/questions", status_code=201)
    async def ask(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        session_id: PathId,
        data: JSONBody[QuestionIn],
    ) -> QuestionOut:
        session = await service.get_session(db, session_id)
        q = await board.ask(db, bus, active_member(request), session, data.body, data.category, data.anonymous)
        return QuestionOut.of(q)

    @get("/sessions/{session_id:int}/board")
    async def board_state(
        self, request: Request[Any, Any, Any], db: DbSession, session_id: PathId, since: QueryPosition = 0
    ) -> Response[bytes]:
        member = active_member(request)
        session = await service.get_session(db, session_id)
        moderator = await service.can_organise(db, member, session.series_id)
        snap = await board.snapshot(db, session, member.id, moderator, max(0, since))
        return Response(events.encoder.encode(snap), media_type=MediaType.JSON)

    @post("/questions/{question_id:int}/vote")
    async def vote(self, request: Request[Any, Any, Any], db: DbSession, bus: Bus, question_id: PathId) -> QuestionOut:
        return QuestionOut.of(await board.vote(db, bus, active_member(request), question_id))

    @post("/questions/{question_id:int}/approve")
    async def approve(
        self, request: Request[Any, Any, Any], db: DbSession, bus: Bus, question_id: PathId
    ) -> QuestionOut:
        return QuestionOut.of(await board.approve(db, bus, active_member(request), question_id))

    @post("/questions/{question_id:int}/edit")
    async def edit(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        question_id: PathId,
        data: JSONBody[EditIn],
    ) -> QuestionOut:
        return QuestionOut.of(await board.edit(db, bus, active_member(request), question_id, data.body, data.category))

    @post("/questions/{question_id:int}/answer")
    async def answer(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        question_id: PathId,
        data: JSONBody[AnswerIn],
    ) -> QuestionOut:
        q = await board.answer(db, bus, active_member(request), question_id, data.answer, data.mark_answered)
        return QuestionOut.of(q)

    @post("/questions/{question_id:int}/answered")
    async def answered(
        self, request: Request[Any, Any, Any], db: DbSession, bus: Bus, question_id: PathId
    ) -> QuestionOut:
        return QuestionOut.of(await board.mark_answered(db, bus, active_member(request), question_id))

    @post("/questions/{question_id:int}/dismiss")
    async def dismiss(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        question_id: PathId,
        data: JSONBody[ReasonIn],
    ) -> QuestionOut:
        return QuestionOut.of(await board.dismiss(db, bus, active_member(request), question_id, data.reason))

    @post("/questions/{question_id:int}/merge")
    async def merge(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        question_id: PathId,
        data: JSONBody[MergeIn],
    ) -> QuestionOut:
        return QuestionOut.of(await board.merge(db, bus, active_member(request), question_id, data.into))

    @post("/sessions/{session_id:int}/answering")
    async def answering(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        session_id: PathId,
        data: JSONBody[AnsweringIn],
    ) -> AnsweringOut:
        session = await service.get_session(db, session_id)
        await board.set_answering(db, bus, active_member(request), session, data.question_id)
        return AnsweringOut(answering_id=session.answering_id)

    @post("/sessions/{session_id:int}/premoderation")
    async def premoderation(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        session_id: PathId,
        data: JSONBody[ToggleIn],
    ) -> PremoderationOut:
        session = await service.get_session(db, session_id)
        await board.set_premoderation(db, bus, active_member(request), session, data.on)
        return PremoderationOut(premoderation=session.premoderation)

    @post("/sessions/{session_id:int}/start")
    async def start(
        self, request: Request[Any, Any, Any], db: DbSession, bus: Bus, session_id: PathId
    ) -> SessionStateOut:
        session = await service.get_session(db, session_id)
        await board.start(db, bus, active_member(request), session)
        return SessionStateOut(state=session.state.value)

    @post("/sessions/{session_id:int}/end")
    async def end(
        self, request: Request[Any, Any, Any], db: DbSession, bus: Bus, session_id: PathId
    ) -> SessionEndedOut:
        session = await service.get_session(db, session_id)
        doc = await documents.end_session(db, bus, active_member(request), session)
        return SessionEndedOut(SessionState.ENDED.value, doc.id, f"/faq/documents/{doc.id}/edit")

    @post("/documents/{document_id:int}/publish")
    async def publish(
        self, request: Request[Any, Any, Any], db: DbSession, document_id: PathId, data: JSONBody[ReasonIn]
    ) -> PublishedOut:
        doc = await documents.get_document(db, document_id)
        version = await documents.publish(db, active_member(request), doc, data.reason)
        return PublishedOut(doc.id, version.number, f"/faq/documents/{doc.id}/v/{version.number}")

    @get("/suggest")
    async def suggest(self, db: DbSession, q: FromQuery[str] = "") -> list[Suggestion]:
        """Answered questions from published FAQ documents similar to what is being typed."""
        query = _suggest_query(q)
        result = await search(db, query, limit=5)
        if not result.hits and " " in query:  # both topic words together found nothing: try the longer one
            result = await search(db, query.split()[0], limit=5)
        return [
            Suggestion(h.entry.id, str(h.question_html), f"/faq/entries/{h.entry.id}", h.entry.version.title)
            for h in result.hits
        ]

    @get("/search")
    async def search_api(self, db: DbSession, q: FromQuery[str] = "", page: FromQuery[int] = 1) -> SearchOut:
        page = max(1, min(page, 25))
        result = await search(db, q[:200], limit=20, offset=(page - 1) * 20)
        return SearchOut(
            result.query,
            result.terms,
            result.total,
            result.capped,
            [
                SearchHitOut(
                    h.entry.id,
                    h.entry.category,
                    h.entry.question,
                    str(h.question_html),
                    str(h.snippet_html),
                    f"/faq/entries/{h.entry.id}",
                    h.entry.version.title,
                    round(h.score),
                )
                for h in result.hits
            ],
        )


def _suggest_query(text: str) -> str:
    """The longest few kanji/katakana runs of a half-typed question: its topic words."""
    import re

    from faq.normalize import normalize

    runs = re.findall(r"[\u4e00-\u9fff\u3005]{2,}|[\u30a0-\u30ffー]{2,}|[a-zA-Z0-9]{3,}", text[:300])
    runs = sorted(dict.fromkeys(runs), key=len, reverse=True)[:2]
    return " ".join(runs) if runs else normalize(text[:20])


route_handlers: list[Any] = [FaqPages, FaqApi, board_socket, *attendance_routes.route_handlers]
