"""Pages: `/notifications` (mark read / all read), `/settings/notifications`, and the mail's unsubscribe link.

The unsubscribe link is signed per member and kind (core.notify.mail) and works without logging in:
GET shows a confirmation (link scanners must not unsubscribe anyone), POST — from the page or from
a mail client's one-click `List-Unsubscribe-Post` (RFC 8058) — turns that mail off.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from core.access import MemberPages
from core.deps import AppSettings, DbSession, Me
from core.errors import Invalid, Refusal
from core.members.models import Member, Status
from core.notify import inbox, prefs
from core.notify.mail import ALL, check_unsubscribe
from core.notify.models import KIND_LABELS, Kind
from web.forms import read_form
from web.notify_settings import apply_settings, settings_from_form

NOTICES = {"saved": "通知の設定を保存しました。", "read": "既読にしました。"}


class NotificationPages(MemberPages):
    @get("/notifications")
    async def index(
        self, me: Me, db: DbSession, before: FromQuery[int | None] = None, msg: FromQuery[str] = ""
    ) -> Template:
        rows = await inbox.listing(db, me.id, before=None if before is None else max(0, min(before, 2**31 - 1)))
        context = {
            "items": rows,
            "labels": KIND_LABELS,
            "unread": await inbox.unread(db, me.id),
            "older": rows[-1].id if len(rows) == inbox.PAGE else None,
            "notice": NOTICES.get(msg),
        }
        return Template("notifications.html", context=context)

    @post("/notifications/read")
    async def read(self, request: Request[Any, Any, Any], me: Me, db: DbSession) -> Redirect:
        form = await read_form(request)
        raw = form.get("id", "")
        ids = [int(raw)] if raw.isdigit() and len(raw) <= 9 else None
        await inbox.mark_read(db, me.id, ids)
        return Redirect("/notifications?msg=read", status_code=303)

    @get("/settings/notifications")
    async def settings_page(self, me: Me, db: DbSession, msg: FromQuery[str] = "") -> Template:
        p = await prefs.load(db, me.id)
        return _settings_page(p, {}, NOTICES.get(msg))

    @post("/settings/notifications")
    async def save_settings(self, request: Request[Any, Any, Any], me: Me, db: DbSession) -> Response[Any]:
        form = await read_form(request)
        try:
            data = settings_from_form(form)
        except Invalid as exc:
            return _settings_page(_as_typed(form), exc.fields, None, status=400)
        await prefs.save(db, me.id, apply_settings(await prefs.load(db, me.id), data))
        return Redirect("/settings/notifications?msg=saved", status_code=303)


def _as_typed(form: dict[str, str]) -> prefs.Prefs:
    """A refused form shown again: its switches as typed, the refused values at their defaults."""
    kinds = {k: (form.get(f"{k.value}.app") == "on", form.get(f"{k.value}.mail") == "on") for k in Kind}
    lead = form.get("lead_minutes", "").strip()
    lead_minutes = int(lead) if lead.isdigit() and len(lead) <= 5 else 0
    return prefs.Prefs(kinds=kinds, lead_minutes=lead_minutes, digest=form.get("digest") == "on", quiet=None)


def _settings_page(p: prefs.Prefs, errors: dict[str, str], notice: str | None, status: int = 200) -> Template:
    context = {"p": p, "kinds": list(Kind), "labels": KIND_LABELS, "errors": errors, "notice": notice}
    return Template("notification_settings.html", context=context, status_code=status)


async def _unsubscribe_target(db: DbSession, settings: AppSettings, m: str, k: str, s: str) -> tuple[Member, str]:
    valid_kind = k == ALL or k in {x.value for x in Kind}
    if not (m.isdigit() and len(m) <= 9 and valid_kind and check_unsubscribe(settings.secret_key, int(m), k, s[:64])):
        raise Refusal(
            "bad_signature", "この配信停止リンクは正しくありません。メールのリンクをそのまま開いてください。", 400
        )
    member = await db.get(Member, int(m))
    if member is None or member.status is Status.REJECTED:
        raise Refusal(
            "bad_signature", "この配信停止リンクは正しくありません。メールのリンクをそのまま開いてください。", 400
        )
    return member, k


def _what(kind: str) -> str:
    return "すべての通知メール" if kind == ALL else f"「{KIND_LABELS[Kind(kind)]}」の通知メール"


@get("/notifications/unsubscribe", include_in_schema=False)
async def unsubscribe_form(
    db: DbSession, settings: AppSettings, m: FromQuery[str] = "", k: FromQuery[str] = "", s: FromQuery[str] = ""
) -> Template:
    member, kind = await _unsubscribe_target(db, settings, m[:12], k[:40], s)
    context = {"what": _what(kind), "m": m, "k": kind, "s": s, "done": False, "name": member.name}
    return Template("unsubscribe.html", context=context)


@post("/notifications/unsubscribe", include_in_schema=False, status_code=200)
async def unsubscribe(request: Request[Any, Any, Any], db: DbSession, settings: AppSettings) -> Template:
    """One-click (RFC 8058): the signature in the query string is the only credential; no CSRF token or login."""
    form = await read_form(request)
    q = request.query_params
    m, k, s = (str(q.get(x) or form.get(x, "")) for x in ("m", "k", "s"))
    member, kind = await _unsubscribe_target(db, settings, m[:12], k[:40], s)
    p = await prefs.load(db, member.id)
    if kind == ALL:
        p.kinds = {key: (app, False) for key, (app, _mail) in p.kinds.items()}
    else:
        app, _mail = p.kinds[Kind(kind)]
        p.kinds[Kind(kind)] = (app, False)
    await prefs.save(db, member.id, p)
    return Template("unsubscribe.html", context={"what": _what(kind), "done": True, "name": member.name})


route_handlers: list[Any] = [NotificationPages, unsubscribe_form, unsubscribe]
