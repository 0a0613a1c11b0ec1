"""Operator pages: review sign-ups (approve / reject with a reason), manage roles, community settings."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from core import site_settings
from core.access import OperatorPages
from core.bounds import PathId
from core.deps import AppSettings, Bus, DbSession, Me
from core.errors import Invalid, Refusal
from core.members import service
from core.members.inputs import ReviewInput, RoleInput, StatusInput
from core.members.models import Role, Status
from web.forms import read_form
from web.notifications import notify_review

NOTICES = {
    "approved": "承認しました。",
    "rejected": "却下しました。",
    "role": "権限を変更しました。",
    "status": "利用状態を変更しました。",
}


class AdminMembersController(OperatorPages):
    path = "/admin/members"

    @get("/")
    async def index(self, db: DbSession, msg: FromQuery[str | None] = None) -> Template:
        return await _page(db, notice=NOTICES.get(msg or ""))

    @post("/{member_id:int}/review")
    async def review(
        self, request: Request[Any, Any, Any], me: Me, db: DbSession, settings: AppSettings, member_id: PathId
    ) -> Response[Any]:
        form = await read_form(request)
        data = ReviewInput.from_form(form)
        try:
            member = await service.review(db, member_id, me, approve=data.approve, reason=data.reason)
        except Refusal as exc:  # the page answers 400 for every refusal here, already-reviewed too
            return await _page(db, errors={member_id: exc.message}, values={member_id: form}, status=400)
        await notify_review(settings, member)
        return Redirect(f"/admin/members?msg={'approved' if data.approve else 'rejected'}", status_code=303)

    @post("/{member_id:int}/role")
    async def role(
        self, request: Request[Any, Any, Any], me: Me, db: DbSession, bus: Bus, member_id: PathId
    ) -> Response[Any]:
        try:
            role = RoleInput.from_form(await read_form(request)).validate(me.id, member_id)
            await service.set_role(db, member_id, role, bus=bus)
        except Refusal as exc:
            return await _page(db, errors={member_id: exc.message}, status=exc.status)
        return Redirect("/admin/members?msg=role", status_code=303)

    @post("/{member_id:int}/status")
    async def status(
        self, request: Request[Any, Any, Any], me: Me, db: DbSession, bus: Bus, member_id: PathId
    ) -> Response[Any]:
        try:
            data = StatusInput.from_form(await read_form(request))
            status = data.validate(me.id, member_id)
            await service.set_status(db, member_id, status, data.reason, bus=bus)
        except Refusal as exc:
            return await _page(db, errors={member_id: exc.message}, status=exc.status)
        return Redirect("/admin/members?msg=status", status_code=303)


async def _page(
    db: DbSession,
    *,
    notice: str | None = None,
    errors: dict[int, str] | None = None,
    values: dict[int, dict[str, str]] | None = None,
    status: int = 200,
) -> Template:
    members = await service.members_by_status(db)
    context = {
        "pending": [m for m in members if m.status is Status.PENDING],
        "others": [m for m in members if m.status is not Status.PENDING],
        "notice": notice,
        "errors": errors or {},
        "values": values or {},
        "roles": list(Role),
        "Status": Status,
    }
    return Template("admin_members.html", context=context, status_code=status)


class AdminSettingsController(OperatorPages):
    """Community settings: supporters needed to found a 課, re-approval after a name/organisation change."""

    path = "/admin/settings"

    @get("/")
    async def form(self, db: DbSession, msg: FromQuery[str | None] = None) -> Template:
        current = await site_settings.load(db)
        values = {
            site_settings.FOUNDING_SUPPORTERS: str(current.founding_supporters),
            site_settings.REAPPROVAL_ON_CHANGE: "on" if current.reapproval_on_change else "",
        }
        notice = "設定を保存しました。" if msg == "saved" else None
        return Template("admin_settings.html", context={"values": values, "errors": {}, "notice": notice})

    @post("/")
    async def save(self, request: Request[Any, Any, Any], db: DbSession) -> Response[Any]:
        form = await read_form(request)
        try:
            value = site_settings.SettingsInput.from_form(form).validate()
        except Invalid as exc:
            return Template("admin_settings.html", context={"values": form, "errors": exc.fields}, status_code=400)
        await site_settings.save(db, value)
        return Redirect("/admin/settings?msg=saved", status_code=303)
