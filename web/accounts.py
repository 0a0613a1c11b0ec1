"""Account pages: sign-up, login/logout, pending notice, password reset, profile and API tokens."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import CacheControlHeader, Cookie
from litestar.params import FromQuery, QueryParameter
from litestar.response import Redirect, Template

from core.access import MemberPages, current_member
from core.bounds import PathId
from core.db import Database
from core.deps import AppSettings, Bus, DbSession, Me
from core.mail import send_mail
from core.members import passwords, service, throttle
from core.members.inputs import SignupInput
from core.members.models import Member, OrgKind, Status
from core.members.service import MemberError
from core.members.validation import check_password, normalise_email, validate_signup
from core.settings import Settings
from live.schedule.calendars import feed_token
from web.forms import client_ip, read_form, safe_next
from web.middleware import SESSION_COOKIE, cookie_value, csrf_reset

log = logging.getLogger("chonai.accounts")

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


def device_cookie(settings: AppSettings, email: str) -> Cookie:
    """Remembers that this browser logged in to `email`: its own failures only count for itself."""
    return Cookie(
        key=throttle.DEVICE_COOKIE,
        value=throttle.device_cookie(settings.secret_key, email),
        max_age=int(throttle.DEVICE_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/login",
    )


def login_response(settings: AppSettings, raw: str, member: Member, next_url: str | None) -> Response[Any]:
    """Start the session; a new session gets a new CSRF token (the old cookie is dropped)."""
    target = safe_next(next_url) if member.is_active else "/pending"
    return Redirect(target, status_code=303, cookies=[session_cookie(settings, raw), *csrf_reset(settings)])


class AccountController(Controller):
    tags = ["accounts"]
    include_in_schema = False

    @get("/signup")
    async def signup_form(self) -> Template:
        return Template("signup.html", context={"values": {"org_kind": "municipality"}, "errors": {}})

    @post("/signup")
    async def signup(self, request: Request[Any, Any, Any], db: DbSession, settings: AppSettings) -> Response[Any]:
        """The same answer for every address: a new one becomes a pending member, a taken one gets a mail."""
        form = await read_form(request)
        data, errors = validate_signup(SignupInput.from_form(form))
        if data is not None:
            try:
                member_id: int | None = (await service.register(db, data)).id
            except MemberError:  # already registered: its owner is told by mail, nobody else learns it
                member_id = None
            task = BackgroundTask(_after_signup, request.app.state.db, settings, member_id, data.email)
            return Redirect("/signup/sent", status_code=303, background=task)
        form.pop("password", None)
        form.pop("password_confirm", None)
        return Template("signup.html", context={"values": form, "errors": errors}, status_code=400)

    @get("/signup/sent")
    async def signup_sent(self) -> Template:
        return Template("signup_sent.html")

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
        email = normalise_email(form.get("email", ""))
        device = throttle.trusted_device(settings.secret_key, email, request.cookies.get(throttle.DEVICE_COOKIE))
        try:
            member = await service.authenticate(db, email, form.get("password", ""), client_ip(request), device)
        except MemberError as exc:
            values = {"email": form.get("email", "")[:254]}
            context = {"error": exc.message, "values": values, "next": next_url}
            if exc.retry_after is None:
                return Template("login.html", context=context, status_code=exc.status)
            headers = {"retry-after": str(int(exc.retry_after))}
            return Template("login.html", context=context, status_code=429, headers=headers)
        raw = await service.start_session(db, member, request.headers.get("user-agent", ""))
        response = login_response(settings, raw, member, next_url)
        response.set_cookie(device_cookie(settings, email))
        return response

    @post("/logout")
    async def logout(
        self, request: Request[Any, Any, Any], db: DbSession, settings: AppSettings, bus: Bus
    ) -> Response[Any]:
        raw = cookie_value(request.scope, SESSION_COOKIE)
        if raw:
            await service.end_session(db, raw, bus=bus)
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
    async def forgot(self, request: Request[Any, Any, Any], settings: AppSettings) -> Response[Any]:
        """The same answer, at once, for every input; the lookup and the mail run after the response."""
        form = await read_form(request)
        task = BackgroundTask(_send_reset, request.app.state.db, settings, form.get("email", "")[:254])
        return Redirect("/login?msg=reset_sent", status_code=303, background=task)

    @get("/password/reset")
    async def reset_form(self, token: FromQuery[str] = "") -> Template:
        return Template("password_reset.html", context={"token": token[:200], "errors": {}})

    @post("/password/reset")
    async def reset(self, request: Request[Any, Any, Any], db: DbSession, bus: Bus) -> Response[Any]:
        form = await read_form(request)
        token, password = form.get("token", "")[:200], form.get("password", "")
        errors: dict[str, str] = {}
        if problem := check_password(password):
            errors["password"] = problem
        elif form.get("password_confirm") != password:
            errors["password_confirm"] = "確認用パスワードが一致しません。"
        else:
            try:
                await passwords.reset_password(db, token, password, bus=bus)
            except MemberError as exc:
                errors["token"] = exc.message
            else:
                return Redirect("/login?msg=reset_done", status_code=303)
        return Template("password_reset.html", context={"token": token, "errors": errors}, status_code=400)


class ProfileController(MemberPages):
    path = "/profile"
    # The profile shows the private calendar link and, once, a new API token: never cached.
    cache_control = CacheControlHeader(no_store=True, private=True)

    @get("/")
    async def profile(
        self, me: Me, db: DbSession, settings: AppSettings, msg: FromQuery[str | None] = None
    ) -> Template:
        return await _profile_page(me, db, settings, notice=NOTICES.get(msg or ""))

    @post("/tokens")
    async def create_token(
        self, request: Request[Any, Any, Any], me: Me, db: DbSession, settings: AppSettings
    ) -> Template:
        form = await read_form(request)
        name = form.get("name", "").strip()[:100]
        if not name:
            return await _profile_page(
                me, db, settings, errors={"token_name": "トークンの名前を入力してください。"}, status=400
            )
        _, raw = await service.create_api_token(db, me, name)
        return await _profile_page(me, db, settings, new_token=raw)

    @post("/tokens/{token_id:int}/revoke")
    async def revoke_token(
        self, me: Me, db: DbSession, settings: AppSettings, bus: Bus, token_id: PathId
    ) -> Response[Any]:
        try:
            await service.revoke_api_token(db, me, token_id, bus=bus)
        except MemberError as exc:
            return await _profile_page(me, db, settings, errors={"tokens": exc.message}, status=404)
        return Redirect("/profile?msg=token_revoked", status_code=303)

    @post("/password")
    async def change_password(
        self, request: Request[Any, Any, Any], me: Me, db: DbSession, settings: AppSettings, bus: Bus
    ) -> Response[Any]:
        form = await read_form(request)
        errors: dict[str, str] = {}
        if not await service.verify_password(me.password_hash, form.get("current_password", "")):
            errors["current_password"] = "現在のパスワードが正しくありません。"
        elif problem := check_password(form.get("password", "")):
            errors["password"] = problem
        if errors:
            return await _profile_page(me, db, settings, errors=errors, status=400)
        keep = cookie_value(request.scope, SESSION_COOKIE) if request.scope.get("auth") == "session" else None
        await passwords.change_password(db, me.id, form["password"], keep_session=keep, bus=bus)
        return Redirect("/profile?msg=password_changed", status_code=303)


async def _profile_page(
    me: Member,
    db: DbSession,
    settings: Settings,
    *,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    new_token: str | None = None,
    status: int = 200,
) -> Template:
    context = {
        "calendar_feed": {
            "token": await feed_token(db, me, settings.secret_key),
            "base_url": settings.base_url,
        },
        "member": me,
        "tokens": await service.list_api_tokens(db, me),
        "notice": notice,
        "errors": errors or {},
        "new_token": new_token,
        "OrgKind": OrgKind,
    }
    return Template("profile.html", context=context, status_code=status)


async def _send_reset(database: Database, settings: Settings, email: str) -> None:
    """After the response: a reset link, to the address as stored (never the raw input)."""
    try:
        async with database.session() as db:
            found = await passwords.request_password_reset(db, email)
        if found is None:
            return
        raw, stored = found
        link = f"{settings.base_url}/password/reset?token={raw}"
        body = (
            "Chonai（庁内放送）のパスワード再設定のご依頼を受け付けました。\n\n"
            f"次のリンクから1時間以内に新しいパスワードを設定してください。\n{link}\n\n"
            "お心当たりがない場合は、このメールを破棄してください。\n"
        )
        await send_mail(settings, stored, "【Chonai】パスワード再設定のご案内", body)
    except Exception:  # the answer is already sent; a mail failure must not differ per address
        log.warning("sending a password reset mail failed", exc_info=True)


async def _after_signup(database: Database, settings: Settings, member_id: int | None, email: str) -> None:
    """After the response: notify operators of a new applicant, or tell an address's owner it is taken."""
    try:
        async with database.session() as db:
            if member_id is not None:
                member = await db.get(Member, member_id)
                if member is not None:  # operators were notified by service.register
                    await send_mail(settings, member.email, "【Chonai】登録申請を受け付けました", SIGNUP_RECEIVED)
                return
            owner = await service.get_by_email(db, email)
        if owner is not None:
            body = SIGNUP_TAKEN.format(link=f"{settings.base_url}/password/forgot")
            await send_mail(settings, owner.email, "【Chonai】登録済みのメールアドレスです", body)
    except Exception:  # the answer is already sent and must not depend on the address
        log.warning("sign-up follow-up mail failed", exc_info=True)


SIGNUP_RECEIVED = (
    "Chonai（庁内放送）への登録申請を受け付けました。\n\n"
    "運営が所属を確認して承認すると、メールでお知らせします。\n"
    "お心当たりがない場合は、このメールを破棄してください。\n"
)
SIGNUP_TAKEN = (
    "このメールアドレスで Chonai（庁内放送）への登録申請がありましたが、このアドレスは既に登録されています。\n\n"
    "パスワードをお忘れの場合は、次のページから再設定できます。\n{link}\n\n"
    "お心当たりがない場合は、このメールを破棄してください（アカウントに変更はありません）。\n"
)
