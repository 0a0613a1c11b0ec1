"""Account pages: sign-up, login/logout, pending notice, password reset, profile and API tokens."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from core.access import active_member, current_member, member_guard
from core.deps import AppSettings, DbSession
from core.mail import send_mail
from core.members import service
from core.members.models import Member, OrgKind, Status
from core.members.service import MemberError
from core.members.validation import check_password, validate_signup
from live.schedule.calendars import feed_token
from web.forms import client_ip, read_form, safe_next
from web.middleware import SESSION_COOKIE, cookie_value

NOTICES = {
    "logged_out": "ログアウトしました。",
    "reset_sent": "登録があるメールアドレスであれば、パスワード再設定のご案内を送信しました。",
    "reset_done": "パスワードを変更しました。新しいパスワードでログインしてください。",
    "password_changed": "パスワードを変更しました。",
    "token_revoked": "トークンを無効にしました。",
}


def session_cookie(settings: AppSettings, raw: str | None) -> Cookie:
    """HttpOnly, SameSite=Lax, Secure behind HTTPS; an empty value with max_age 0 deletes it."""
    return Cookie(
        key=SESSION_COOKIE,
        value=raw or "",
        max_age=int(service.SESSION_LIFETIME.total_seconds()) if raw else 0,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


def login_response(settings: AppSettings, raw: str, member: Member, next_url: str | None) -> Response[Any]:
    target = safe_next(next_url) if member.is_active else "/pending"
    return Redirect(target, status_code=303, cookies=[session_cookie(settings, raw)])


class AccountController(Controller):
    tags = ["accounts"]
    include_in_schema = False

    @get("/signup")
    async def signup_form(self) -> Template:
        return Template("signup.html", context={"values": {"org_kind": "municipality"}, "errors": {}})

    @post("/signup")
    async def signup(self, request: Request[Any, Any, Any], db: DbSession, settings: AppSettings) -> Response[Any]:
        form = await read_form(request)
        data, errors = validate_signup(form)
        if data is not None:
            try:
                member = await service.register(db, data)
            except MemberError as exc:
                errors["email"] = exc.message
            else:
                raw = await service.start_session(db, member, request.headers.get("user-agent", ""))
                return login_response(settings, raw, member, None)
        form.pop("password", None)
        form.pop("password_confirm", None)
        return Template("signup.html", context={"values": form, "errors": errors}, status_code=400)

    @get("/login")
    async def login_form(
        self, next_url: Annotated[str | None, QueryParameter(name="next")] = None, msg: FromQuery[str | None] = None
    ) -> Template:
        return Template(
            "login.html", context={"next": safe_next(next_url, ""), "notice": NOTICES.get(msg or ""), "values": {}}
        )

    @post("/login")
    async def login(self, request: Request[Any, Any, Any], db: DbSession, settings: AppSettings) -> Response[Any]:
        form = await read_form(request)
        next_url = safe_next(form.get("next"), "")
        try:
            member = await service.authenticate(db, form.get("email", ""), form.get("password", ""), client_ip(request))
        except MemberError as exc:
            values = {"email": form.get("email", "")[:254]}
            context = {"error": exc.message, "values": values, "next": next_url}
            return Template("login.html", context=context, status_code=exc.status)
        raw = await service.start_session(db, member, request.headers.get("user-agent", ""))
        return login_response(settings, raw, member, next_url)

    @post("/logout")
    async def logout(self, request: Request[Any, Any, Any], db: DbSession, settings: AppSettings) -> Response[Any]:
        raw = cookie_value(request.scope, SESSION_COOKIE)
        if raw:
            await service.end_session(db, raw)
        return Redirect("/login?msg=logged_out", status_code=303, cookies=[session_cookie(settings, None)])

    @get("/pending")
    async def pending(self, request: Request[Any, Any, Any]) -> Response[Any]:
        member = current_member(request)
        if member is None:
            return Redirect("/login", status_code=303)
        if member.is_active:
            return Redirect("/", status_code=303)
        return Template("pending.html", context={"member": member, "Status": Status})

    @get("/password/forgot")
    async def forgot_form(self) -> Template:
        return Template("password_forgot.html", context={"values": {}, "errors": {}})

    @post("/password/forgot")
    async def forgot(self, request: Request[Any, Any, Any], db: DbSession, settings: AppSettings) -> Response[Any]:
        form = await read_form(request)
        email = form.get("email", "")
        raw = await service.request_password_reset(db, email)
        if raw:
            link = f"{settings.base_url}/password/reset?token={raw}"
            body = (
                "Chonai（庁内放送）のパスワード再設定のご依頼を受け付けました。\n\n"
                f"次のリンクから1時間以内に新しいパスワードを設定してください。\n{link}\n\n"
                "お心当たりがない場合は、このメールを破棄してください。\n"
            )
            await send_mail(settings, email.strip().lower(), "【Chonai】パスワード再設定のご案内", body)
        # The same answer whether or not the address exists, so addresses can't be probed.
        return Redirect("/login?msg=reset_sent", status_code=303)

    @get("/password/reset")
    async def reset_form(self, token: FromQuery[str] = "") -> Template:
        return Template("password_reset.html", context={"token": token[:200], "errors": {}})

    @post("/password/reset")
    async def reset(self, request: Request[Any, Any, Any], db: DbSession) -> Response[Any]:
        form = await read_form(request)
        token, password = form.get("token", "")[:200], form.get("password", "")
        errors: dict[str, str] = {}
        if problem := check_password(password):
            errors["password"] = problem
        elif form.get("password_confirm") != password:
            errors["password_confirm"] = "確認用パスワードが一致しません。"
        else:
            try:
                await service.reset_password(db, token, password)
            except MemberError as exc:
                errors["token"] = exc.message
            else:
                return Redirect("/login?msg=reset_done", status_code=303)
        return Template("password_reset.html", context={"token": token, "errors": errors}, status_code=400)


class ProfileController(Controller):
    path = "/profile"
    guards = [member_guard]
    include_in_schema = False

    @get("/")
    async def profile(
        self, request: Request[Any, Any, Any], db: DbSession, msg: FromQuery[str | None] = None
    ) -> Template:
        return await _profile_page(request, db, notice=NOTICES.get(msg or ""))

    @post("/tokens")
    async def create_token(self, request: Request[Any, Any, Any], db: DbSession) -> Template:
        form = await read_form(request)
        name = form.get("name", "").strip()[:100]
        if not name:
            return await _profile_page(
                request, db, errors={"token_name": "トークンの名前を入力してください。"}, status=400
            )
        _, raw = await service.create_api_token(db, active_member(request), name)
        return await _profile_page(request, db, new_token=raw)

    @post("/tokens/{token_id:int}/revoke")
    async def revoke_token(
        self, request: Request[Any, Any, Any], db: DbSession, token_id: FromPath[int]
    ) -> Response[Any]:
        try:
            await service.revoke_api_token(db, active_member(request), token_id)
        except MemberError as exc:
            return await _profile_page(request, db, errors={"tokens": exc.message}, status=404)
        return Redirect("/profile?msg=token_revoked", status_code=303)

    @post("/password")
    async def change_password(self, request: Request[Any, Any, Any], db: DbSession) -> Response[Any]:
        member = active_member(request)
        form = await read_form(request)
        errors: dict[str, str] = {}
        if not await service.verify_password(member.password_hash, form.get("current_password", "")):
            errors["current_password"] = "現在のパスワードが正しくありません。"
        elif problem := check_password(form.get("password", "")):
            errors["password"] = problem
        if errors:
            return await _profile_page(request, db, errors=errors, status=400)
        await service.change_password(db, member.id, form["password"])
        return Redirect("/profile?msg=password_changed", status_code=303)


async def _profile_page(
    request: Request[Any, Any, Any],
    db: DbSession,
    *,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    new_token: str | None = None,
    status: int = 200,
) -> Template:
    member = active_member(request)
    settings = request.app.state.settings
    context = {
        "calendar_feed": {
            "token": await feed_token(db, member, settings.secret_key),
            "base_url": settings.base_url,
        },
        "member": member,
        "tokens": await service.list_api_tokens(db, member),
        "notice": notice,
        "errors": errors or {},
        "new_token": new_token,
        "OrgKind": OrgKind,
    }
    return Template("profile.html", context=context, status_code=status)
