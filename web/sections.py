"""課 pages: the list by type with search, a 課's page, founding proposals, and what 課長 and operators do."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from core import site_settings
from core.access import MemberPages
from core.bounds import PathId
from core.deps import AppSettings, DbSession, Me
from core.errors import Invalid, Refusal
from core.members.models import Member
from core.sections import founding, notices
from core.sections import service as sections
from core.sections.inputs import DeputyInput, MergeInput, ProposalInput, RenameInput, SectionPageInput
from core.sections.models import SectionKind
from web.forms import read_form
from web.section_content import section_content

NOTICES = {
    "joined": "課に参加しました。",
    "left": "課から抜けました。",
    "saved": "課のページを更新しました。",
    "deputy": "副課長を更新しました。",
    "renamed": "課の名前を変更しました。",
    "archived": "課をアーカイブしました。",
    "merged": "課を統合しました。",
    "proposed": "設立提案を投稿しました。賛同を集めましょう。",
    "supported": "賛同しました。",
    "founded": "必要な賛同が集まり、課が設立されました。",
    "withdrawn": "設立提案を取り下げました。",
}


def _kind(raw: str) -> SectionKind | None:
    return SectionKind(raw) if raw in {k.value for k in SectionKind} else None


class SectionPagesController(MemberPages):
    path = "/sections"

    @get("/")
    async def index(self, db: DbSession, q: FromQuery[str] = "", type: FromQuery[str] = "") -> Template:
        found = await sections.list_sections(db, q[:60], _kind(type))
        groups = [(k, [s for s in found if s.section.kind is k]) for k in SectionKind]
        threshold = (await site_settings.load(db)).founding_supporters
        context = {
            "groups": groups,
            "values": {"q": q[:60], "type": type},
            "kinds": list(SectionKind),
            "proposals": await founding.open_proposals(db),
            "threshold": threshold,
            "total": len(found),
        }
        return Template("sections/index.html", context=context)

    @get("/proposals/new")
    async def new_proposal(self) -> Template:
        return _proposal_form({}, {})

    @post("/proposals")
    async def propose(self, request: Request[Any, Any, Any], me: Me, db: DbSession) -> Response[Any]:
        form = await read_form(request)
        data = ProposalInput.from_form(form)
        try:
            proposal = await founding.propose(db, me, name=data.name, kind=data.type, purpose=data.purpose)
        except Invalid as exc:
            return _proposal_form(form, exc.fields, status=400)
        return Redirect(f"/sections/proposals/{proposal.id}?msg=proposed", status_code=303)

    @get("/proposals/{proposal_id:int}")
    async def proposal(self, me: Me, db: DbSession, proposal_id: PathId, msg: FromQuery[str] = "") -> Template:
        return await _proposal_page(me, db, proposal_id, notice=NOTICES.get(msg))

    @post("/proposals/{proposal_id:int}/support")
    async def support(self, me: Me, db: DbSession, settings: AppSettings, proposal_id: PathId) -> Response[Any]:
        threshold = (await site_settings.load(db)).founding_supporters
        try:
            result = await founding.support(db, me, proposal_id, threshold)
        except Refusal as exc:
            if exc.status == 404:
                raise
            return await _proposal_page(me, db, proposal_id, error=exc.message, status=exc.status)
        if result.section is not None:
            await notices.section_founded(settings, result.section, result.involved)
            return Redirect(f"/sections/{result.section.id}?msg=founded", status_code=303)
        return Redirect(f"/sections/proposals/{proposal_id}?msg=supported", status_code=303)

    @post("/proposals/{proposal_id:int}/withdraw")
    async def withdraw(self, me: Me, db: DbSession, proposal_id: PathId) -> Response[Any]:
        try:
            await founding.withdraw(db, me, proposal_id)
        except Refusal as exc:
            if exc.status == 404:
                raise
            return await _proposal_page(me, db, proposal_id, error=exc.message, status=exc.status)
        return Redirect(f"/sections/proposals/{proposal_id}?msg=withdrawn", status_code=303)

    @get("/{section_id:int}")
    async def section(self, me: Me, db: DbSession, section_id: PathId, msg: FromQuery[str] = "") -> Template:
        return await _section_page(me, db, section_id, notice=NOTICES.get(msg))

    @post("/{section_id:int}/join")
    async def join(self, me: Me, db: DbSession, section_id: PathId) -> Response[Any]:
        return await _act(me, db, section_id, "joined", sections.join(db, me, section_id))

    @post("/{section_id:int}/leave")
    async def leave(self, me: Me, db: DbSession, section_id: PathId) -> Response[Any]:
        return await _act(me, db, section_id, "left", sections.leave(db, me, section_id))

    @get("/{section_id:int}/edit")
    async def edit_form(self, me: Me, db: DbSession, section_id: PathId) -> Template:
        section = await sections.get_section(db, section_id)
        if not sections.can_manage(me, section):
            raise Refusal("forbidden", "課のページを編集できるのは課長と運営です。", 403)
        values = {"description": section.description, "type": section.kind.value}
        return await _edit_page(db, section_id, values, {})

    @post("/{section_id:int}/edit")
    async def edit(self, request: Request[Any, Any, Any], me: Me, db: DbSession, section_id: PathId) -> Response[Any]:
        form = await read_form(request)
        data = SectionPageInput.from_form(form)
        try:
            await sections.update_page(db, me, section_id, description=data.purpose, kind=data.type)
        except Invalid as exc:
            return await _edit_page(db, section_id, form, exc.fields, status=400)
        return Redirect(f"/sections/{section_id}?msg=saved", status_code=303)

    @post("/{section_id:int}/deputies")
    async def deputies(
        self, request: Request[Any, Any, Any], me: Me, db: DbSession, section_id: PathId
    ) -> Response[Any]:
        data = DeputyInput.from_form(await read_form(request))
        change = sections.set_deputy(db, me, section_id, data.member_id, data.deputy)
        return await _act(me, db, section_id, "deputy", change)

    @post("/{section_id:int}/rename")
    async def rename(self, request: Request[Any, Any, Any], me: Me, db: DbSession, section_id: PathId) -> Response[Any]:
        data = RenameInput.from_form(await read_form(request))
        change = sections.rename(db, me, section_id, data.name)
        return await _act(me, db, section_id, "renamed", change)

    @post("/{section_id:int}/archive")
    async def archive(self, me: Me, db: DbSession, section_id: PathId) -> Response[Any]:
        return await _act(me, db, section_id, "archived", sections.archive(db, me, section_id))

    @post("/{section_id:int}/merge")
    async def merge(self, request: Request[Any, Any, Any], me: Me, db: DbSession, section_id: PathId) -> Response[Any]:
        form = await read_form(request)
        target = MergeInput.from_form(form).into
        try:
            merged = await sections.merge(db, me, section_id, target)
        except Refusal as exc:
            if exc.status == 404 and target == 0:
                exc = Invalid("統合先の課を選んでください。", fields={"target_id": "統合先の課を選んでください。"})
            elif exc.status in (403, 404):
                raise
            return await _section_page(me, db, section_id, error=exc.message, status=exc.status)
        return Redirect(f"/sections/{merged.id}?msg=merged", status_code=303)


async def _act(me: Member, db: DbSession, section_id: int, msg: str, change: Any) -> Response[Any]:
    """Run one membership or management change; a refusal comes back on the 課 page in Japanese."""
    try:
        await change
    except Refusal as exc:
        if exc.status in (403, 404):
            raise
        return await _section_page(me, db, section_id, error=exc.message, status=exc.status)
    return Redirect(f"/sections/{section_id}?msg={msg}", status_code=303)


def _proposal_form(values: dict[str, str], errors: dict[str, str], status: int = 200) -> Template:
    context = {"values": values, "errors": errors, "kinds": list(SectionKind)}
    return Template("sections/proposal_new.html", context=context, status_code=status)


async def _proposal_page(
    me: Member,
    db: DbSession,
    proposal_id: int,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Template:
    proposal = await founding.get_proposal(db, proposal_id)
    supporters = await founding.supporters(db, proposal_id)
    threshold = (await site_settings.load(db)).founding_supporters
    context = {
        "proposal": proposal,
        "supporters": supporters,
        "threshold": threshold,
        "remaining": max(0, threshold - len(supporters)),
        "supported": any(s.id == me.id for s in supporters),
        "mine": proposal.founder_id == me.id,
        "notice": notice,
        "error": error,
    }
    return Template("sections/proposal.html", context=context, status_code=status)


async def _section_page(
    me: Member,
    db: DbSession,
    section_id: int,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Template:
    section = await sections.get_section(db, section_id)
    rows = await sections.memberships(db, section_id)
    context = {
        "section": section,
        "memberships": rows,
        "deputies": [r.member for r in rows if r.deputy],
        "is_member": any(r.member_id == me.id for r in rows),
        "can_manage": sections.can_manage(me, section),
        "content": await section_content(db, section),
        "merge_targets": [s for s in await sections.section_choices(db) if s.id != section.id],
        "merged_into": await db.get(type(section), section.merged_into_id) if section.merged_into_id else None,
        "notice": notice,
        "error": error,
    }
    return Template("sections/section.html", context=context, status_code=status)


async def _edit_page(
    db: DbSession, section_id: int, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Template:
    section = await sections.get_section(db, section_id)
    context = {"section": section, "values": values, "errors": errors, "kinds": list(SectionKind)}
    return Template("sections/edit.html", context=context, status_code=status)
