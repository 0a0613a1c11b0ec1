"""Profile self-service: the edit page, e-mail change by confirmation link, GET/PATCH /api/me, the change log."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar import Request, Response, get, patch, post
from litestar.params import FromQuery, JSONBody
from litestar.response import Redirect, Template

from core import site_settings
from core.access import MemberApi, MemberPages, operator_guard
from core.bounds import PathId
from core.deps import AppSettings, Bus, DbSession, Me
from core.errors import Forbidden, Invalid, NotFound
from core.events import EventBus
from core.mail import send_mail
from core.members import profile
from core.members.inputs import ProfileInput, ProfilePatch
from core.members.models import Member, MemberChange, OrgKind, Role, Status
from core.settings import Settings
from web.cards import MemberCard, SectionRef, section_refs
from web.forms import read_form

NOTICES = {
    "saved": "プロフィールを更新しました。",
    "email_sent": "新しいメールアドレスに確認のメールを送りました。メール内のリンクを開くと変更が完了します。",
    "email_changed": "メールアドレスを変更しました。",
}


class ProfileOut(MemberCard):
    """The member's own profile (the only place their e-mail is shown)."""

    interests: str
    email: str
    role: Role
    status: Status
    sections: list[SectionRef]
    email_pending: str | None = None


class ChangeOut(msgspec.Struct):
    id: int
    field: str
    field_label: str
    old: str
    new: str
    changed_at: dt.datetime
    changed_by_id: int | None


async def _own_row(me: Member, db: DbSession) -> Member:
    """The logged-in member as a row of this request's session (the middleware's copy is not written)."""
    return await db.get_one(Member, me.id, populate_existing=True)


async def _profile_out(db: DbSession, member: Member, email_pending: str | None = None) -> ProfileOut:
    refs = await section_refs(db, member.id)
    return ProfileOut(
        member.id,
        member.name,
        member.reading,
        member.org_kind.value,
        member.organisation,
        member.department,
        member.prefecture,
        member.interests,
        member.email,
        member.role,
        member.status,
        refs,
        email_pending,
    )


async def _save(db: DbSession, member: Member, values: ProfileInput, bus: EventBus) -> list[MemberChange]:
    """Validate everything first, then write: nothing is half-written."""
    data = profile.validate_profile(values)
    reapproval = (await site_settings.load(db)).reapproval_on_change
    return await profile.update_profile(db, member, data, reapproval=reapproval, bus=bus)


async def _start_email_change(db: DbSession, settings: Settings, member: Member, new_email: str) -> str:
    email, raw = await profile.request_email_change(db, member, new_email)
    link = f"{settings.base_url}/profile/email/confirm?token={raw}"
    await send_mail(
        settings,
        email,
        "【Chonai】メールアドレス変更の確認",
        f"{member.name} 様\n\nChonai のメールアドレスをこのアドレスに変更する手続きを受け付けました。\n"
        f"24時間以内に次のリンクを開いて変更を完了してください。\n{link}\n\nお心当たりがない場合は破棄してください。\n",
    )
    await send_mail(
        settings,
        member.email,
        "【Chonai】メールアドレス変更のお知らせ",
        f"{member.name} 様\n\nChonai のメールアドレスを別のアドレスに変更する手続きが行われました。\n"
        "新しいアドレスで確認が済むと、このアドレスには届かなくなります。\n"
        f"お心当たりがない場合は、パスワードを変更し運営にご連絡ください: {settings.base_url}/profile\n",
    )
    return email


def _form_page(
    member: Member, values: dict[str, str], errors: dict[str, str], status: int = 200, notice: str | None = None
) -> Template:
    context = {"member": member, "values": values, "errors": errors, "OrgKind": OrgKind, "notice": notice}
    return Template("profile_edit.html", context=context, status_code=status)


class ProfileEditController(MemberPages):
    path = "/profile"

    @get("/edit")
    async def edit_form(self, me: Me, msg: FromQuery[str] = "") -> Template:
        return _form_page(me, ProfileInput.of(me).values(), {}, notice=NOTICES.get(msg))

    @post("/edit")
    async def edit(self, request: Request[Any, Any, Any], me: Me, db: DbSession, bus: Bus) -> Response[Any]:
        member, data = await _own_row(me, db), ProfileInput.from_form(await read_form(request))
        try:
            await _save(db, member, data, bus)
        except Invalid as exc:
            return _form_page(member, data.values(), exc.fields, status=400)
        if member.status is Status.PENDING:
            return Redirect("/pending", status_code=303)
        return Redirect("/profile/edit?msg=saved", status_code=303)

    @post("/email")
    async def change_email(
        self, request: Request[Any, Any, Any], me: Me, db: DbSession, settings: AppSettings
    ) -> Response[Any]:
        member, form = await _own_row(me, db), await read_form(request)
        try:
            await _start_email_change(db, settings, member, form.get("email", ""))
        except Invalid as exc:
            values = {**ProfileInput.of(member).values(), "email": form.get("email", "")[:254]}
            return _form_page(member, values, exc.fields, status=400)
        return Redirect("/profile/edit?msg=email_sent", status_code=303)


class EmailConfirmController(MemberPages):
    """The link in the mail: a page with a button (mail scanners that prefetch links change nothing).

    It needs the member's own session too, so a leaked link alone cannot move an account.
    """

    path = "/profile/email/confirm"

    @get("/")
    async def confirm_form(self, token: FromQuery[str] = "") -> Template:
        return Template("email_confirm.html", context={"token": token[:200], "error": None})

    @post("/")
    async def confirm(
        self, request: Request[Any, Any, Any], me: Me, db: DbSession, settings: AppSettings
    ) -> Response[Any]:
        form = await read_form(request)
        try:
            member, old = await profile.confirm_email_change(db, form.get("token", ""), me.id)
        except Invalid as exc:
            context = {"token": form.get("token", "")[:200], "error": exc.fields.get("email") or exc.message}
            return Template("email_confirm.html", context=context, status_code=400)
        await send_mail(
            settings,
            old,
            "【Chonai】メールアドレスを変更しました",
            f"{member.name} 様\n\nChonai のメールアドレスの変更が完了しました。今後のお知らせは新しいアドレスに届きます。\n",
        )
        return Template("email_confirm.html", context={"done": True, "token": "", "error": None})


class ProfileApiController(MemberApi):
    path = "/api"
    tags = ["members"]

    @get("/me")
    async def me(self, me: Me, db: DbSession) -> ProfileOut:
        return await _profile_out(db, await _own_row(me, db))

    @patch("/me")
    async def update_me(
        self, me: Me, db: DbSession, settings: AppSettings, bus: Bus, data: JSONBody[ProfilePatch]
    ) -> ProfileOut:
        return await _patch(db, settings, await _own_row(me, db), data, bus)

    @patch("/members/{member_id:int}")
    async def update_member(
        self, me: Me, db: DbSession, settings: AppSettings, bus: Bus, member_id: PathId, data: JSONBody[ProfilePatch]
    ) -> ProfileOut:
        """Only one's own profile: anyone else's is refused with 403."""
        if member_id != me.id:
            raise Forbidden("他のメンバーのプロフィールは編集できません。")
        return await _patch(db, settings, await _own_row(me, db), data, bus)

    @get("/members/{member_id:int}/changes", guards=[operator_guard])
    async def changes(self, db: DbSession, member_id: PathId) -> list[ChangeOut]:
        if await db.get(Member, member_id) is None:
            raise NotFound("該当するメンバーが見つかりません。")
        return [
            ChangeOut(
                c.id,
                c.field,
                profile.LOGGED.get(c.field, "メールアドレス"),
                c.old_value,
                c.new_value,
                c.changed_at,
                c.changed_by_id,
            )
            for c in await profile.changes_of(db, member_id)
        ]


async def _patch(db: DbSession, settings: Settings, member: Member, data: ProfilePatch, bus: EventBus) -> ProfileOut:
    new_email = data.email
    values = data.applied_to(ProfileInput.of(member))
    # Every field, the e-mail included, is checked before anything is written.
    profile.validate_profile(values)
    changing_email = new_email is not None and new_email.strip().lower() != member.email
    if changing_email:
        await profile.check_new_email(db, member, new_email or "")
    if data.profile_changes():
        await _save(db, member, values, bus)
    pending = await _start_email_change(db, settings, member, new_email or "") if changing_email else None
    return await _profile_out(db, member, pending)
