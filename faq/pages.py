"""The FAQ pages (`/faq/…`): study series, sessions, topic requests, documents and their editor.

Handlers are thin: read the form into its input struct (faq/inputs.py), guard, call one action.
Errors answer as a Japanese page (web/errors.py); the editor re-shows a refused form with its field errors.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from core.access import MemberPages, role_guard
from core.bounds import PathId
from core.deps import AppSettings, Bus, DbSession, Me
from core.forms import read_form
from core.members.models import Member, Role
from core.sections.service import check_owner, owner_choices
from faq import attendance, documents, exports, service
from faq.inputs import DocumentEditInput, SeriesInput, SessionInput, TopicInput
from faq.models import FaqDocument, StudySession
from faq.render import markdown_html
from faq.search import search
from faq.service import FaqError
from live.public import Broadcast

DRAFT_SAVED = "下書きとして保存されています"


def _asks_json(request: Request[Any, Any, Any]) -> bool:
    """A form post re-shows the form unless the client explicitly asked for JSON."""
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


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


class FaqPages(MemberPages):
    path = "/faq"

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
    async def new_series(self, me: Me, db: DbSession) -> Template:
        sections = await owner_choices(db, me)
        return Template("faq/series_new.html", context={"sections": sections})

    @post("/series")
    async def create_series(self, request: Request[Any, Any, Any], me: Me, db: DbSession) -> Redirect:
        data = SeriesInput.from_form(await read_form(request))
        await check_owner(db, me, data.section_id)
        series = await service.create_series(
            db,
            me,
            title=data.title,
            description=data.description,
            section_id=data.section_id,
            categories=data.categories,
        )
        return Redirect(f"/faq/series/{series.id}", status_code=303)

    @get("/series/{series_id:int}")
    async def series_page(self, me: Me, db: DbSession, series_id: PathId, msg: FromQuery[str] = "") -> Template:
        series = await service.get_series(db, series_id)
        return Template(
            "faq/series.html",
            context={
                "series": series,
                "stats": await attendance.series_stats(db, series.id),
                "sessions": await service.sessions_of(db, series.id),
                "organisers": await service.organisers(db, series.id),
                "organiser": await service.can_organise(db, me, series.id),
                "topics": await service.topics_of(db, series.id),
                "my_topic_votes": await service.topic_votes_by(db, me, series.id),
                "docs": await documents.published_documents(db, series.id),
                "categories": await documents.categories(db, series.id),
                "notice": {"topic": "テーマをリクエストしました。", "voted": "投票しました。"}.get(msg),
            },
        )

    @post("/series/{series_id:int}/sessions")
    async def create_session(
        self, request: Request[Any, Any, Any], me: Me, db: DbSession, series_id: PathId
    ) -> Redirect:
        data = SessionInput.from_form(await read_form(request))
        series = await service.get_series(db, series_id)
        session = await service.create_session(
            db,
            me,
            series,
            title=data.title,
            starts_at=data.start(),
            meeting_url=data.meeting_url,
            broadcast_id=data.broadcast_id,
            premoderation=data.premoderation,
        )
        return Redirect(f"/faq/sessions/{session.id}", status_code=303)

    @post("/series/{series_id:int}/topics")
    async def request_topic(
        self, request: Request[Any, Any, Any], me: Me, db: DbSession, series_id: PathId
    ) -> Redirect:
        data = TopicInput.from_form(await read_form(request))
        series = await service.get_series(db, series_id)
        await service.request_topic(db, me, series, data.title, data.body)
        return Redirect(f"/faq/series/{series_id}?msg=topic#topics", status_code=303)

    @post("/topics/{topic_id:int}/vote")
    async def vote_topic(self, me: Me, db: DbSession, topic_id: PathId) -> Redirect:
        topic = await service.vote_topic(db, me, topic_id)
        return Redirect(f"/faq/series/{topic.series_id}?msg=voted#topics", status_code=303)

    @get("/sessions/{session_id:int}")
    async def session_page(self, me: Me, db: DbSession, bus: Bus, session_id: PathId) -> Template:
        session = await service.get_session(db, session_id)
        if await service.broadcast_ended(db, session):
            await documents.end_session(db, bus, None, session)
        await attendance.record(db, session, me.id, "board")
        return Template("faq/session.html", context=await _session_ctx(db, session, me))

    @post("/sessions/{session_id:int}/register")
    async def register(self, me: Me, db: DbSession, session_id: PathId) -> Redirect:
        session = await service.get_session(db, session_id)
        await service.register(db, me, session)
        return Redirect(f"/faq/sessions/{session_id}", status_code=303)

    @post("/sessions/{session_id:int}/end")
    async def end(self, me: Me, db: DbSession, bus: Bus, session_id: PathId) -> Redirect:
        session = await service.get_session(db, session_id)
        doc = await documents.end_session(db, bus, me, session)
        return Redirect(f"/faq/documents/{doc.id}/edit", status_code=303)

    @get("/documents/{document_id:int}")
    async def document(self, me: Me, db: DbSession, settings: AppSettings, document_id: PathId) -> Response[Any]:
        doc = await documents.get_document(db, document_id)
        if not doc.current_version:
            return Redirect(f"/faq/documents/{doc.id}/edit", status_code=303)
        return await self._version(me, db, settings, doc, None)

    @get("/documents/{document_id:int}/v/{number:int}")
    async def document_version(
        self, me: Me, db: DbSession, settings: AppSettings, document_id: PathId, number: PathId
    ) -> Template:
        doc = await documents.get_document(db, document_id)
        return await self._version(me, db, settings, doc, number)

    async def _version(
        self, me: Member, db: DbSession, settings: AppSettings, doc: FaqDocument, number: int | None
    ) -> Template:
        versions = await documents.versions_of(db, doc.id)
        version = documents.version_in(versions, doc, number)
        entries = await documents.entries_of(db, version.id)
        session = await db.get_one(StudySession, doc.session_id)
        organiser = await service.can_organise(db, me, session.series_id)
        base = settings.base_url
        return Template(
            "faq/document.html",
            context={
                "doc": doc,
                "version": version,
                "session": session,
                "groups": documents.grouped(entries),
                "versions": versions,
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
    async def edit_document(
        self, request: Request[Any, Any, Any], me: Me, db: DbSession, document_id: PathId
    ) -> Template:
        doc = await documents.get_document(db, document_id)
        session = await db.get_one(StudySession, doc.session_id)
        await service.require_organiser(db, me, session.series_id)
        saved = bool(request.query_params.get("msg"))
        return await _edit_page(db, doc, session, await documents.draft_entries(db, doc.id), saved=saved)

    @post("/documents/{document_id:int}/edit")
    async def save_document(
        self, request: Request[Any, Any, Any], me: Me, db: DbSession, document_id: PathId
    ) -> Response[Any]:
        form = await read_form(request)
        doc = await documents.get_document(db, document_id)
        session = await db.get_one(StudySession, doc.session_id)
        data = DocumentEditInput.from_form(form)
        entries = data.entry_inputs()
        try:
            await documents.save_draft(db, me, doc, data.title, data.intro, entries)
        except FaqError as exc:
            if exc.status != 400 or _asks_json(request):
                raise
            # Refused before anything changed (the checks run before any write): nothing to roll back.
            return await _edit_page(db, doc, session, entries, form=form, error=exc)
        if data.publish:
            try:
                await documents.publish(db, me, doc, data.note)
            except FaqError as exc:
                if exc.status not in (400, 409) or _asks_json(request):
                    raise
                drafts = await documents.draft_entries(db, doc.id)  # saved just above; publishing wrote nothing
                return await _edit_page(db, doc, session, drafts, form=form, error=exc, saved=True)
            return Redirect(f"/faq/documents/{doc.id}", status_code=303)
        return Redirect(f"/faq/documents/{doc.id}/edit?msg=saved", status_code=303)

    @get("/documents/{document_id:int}/v/{number:int}/download/{fmt:str}")
    async def download(
        self, db: DbSession, settings: AppSettings, document_id: PathId, number: PathId, fmt: FromPath[str]
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
