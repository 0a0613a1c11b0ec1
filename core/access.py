"""Guards shared by every domain: who may see members-only things and who may act."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Controller, Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from core.members.models import Member, Role, Status
from core.settings import Settings

log = logging.getLogger("chonai.access")

#: WebSocket close reason (and error code) of a refused Origin; every page script shows `origin_refusal()`.
ORIGIN_REFUSED = "origin_not_allowed"


class LoginRequired(NotAuthorizedException):
    """Nobody is logged in (pages redirect to the login form, the API answers 401)."""


class AccountInactive(PermissionDeniedException):
    """Logged in, but pending, rejected or suspended: nothing members-only is shown."""


class Forbidden(PermissionDeniedException):
    """Logged in and active, but without the role this needs."""


def current_member(connection: ASGIConnection[Any, Any, Any, Any]) -> Member | None:
    user = connection.scope.get("user")
    return user if isinstance(user, Member) else None


def active_member(connection: ASGIConnection[Any, Any, Any, Any]) -> Member:
    """The approved member behind this connection, or the right refusal."""
    member = current_member(connection)
    if member is None:
        raise LoginRequired(detail="ログインが必要です。")
    if member.status is not Status.APPROVED:
        raise AccountInactive(detail=f"アカウントが{member.status.label}のため利用できません。")
    return member


def provide_me(request: Request[Any, Any, Any]) -> Member:
    """The `me: Me` dependency (core.deps): the approved member making the request."""
    return active_member(request)


def member_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    active_member(connection)


def role_guard(role: Role) -> Guard:
    """Allow approved members whose site-wide role is at least `role`."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        member = active_member(connection)
        if not member.has_role(role):
            raise Forbidden(detail=f"この操作には「{role.label}」以上の権限が必要です。")

    guard.__name__ = f"requires_{role.value}"
    return guard


operator_guard = role_guard(Role.OPERATOR)
moderator_guard = role_guard(Role.MODERATOR)


# The audience of a controller, said once: its guard, and whether it is an API (in the OpenAPI
# document) or HTML pages (left out of it).


class MemberApi(Controller):
    guards = [member_guard]


class MemberPages(Controller):
    guards = [member_guard]
    include_in_schema = False


class OperatorApi(Controller):
    guards = [operator_guard]


class OperatorPages(Controller):
    guards = [operator_guard]
    include_in_schema = False


def scope_header(scope: Any, name: bytes) -> str | None:
    """One header of a raw ASGI scope (lower-case name), decoded as latin-1 like HTTP itself."""
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def origin_allowed(origin: str | None, allowed: tuple[str, ...]) -> bool:
    """Is this browser Origin one of ours (BASE_URL's or ALLOWED_ORIGINS)? A missing one is not.

    Each socket decides for itself whether clients without an Origin (scripts) may connect.
    """
    return origin is not None and origin.rstrip("/") in allowed


def origin_refusal(origin: str | None, settings: Settings) -> str:
    """Log one line naming the settings to change, and return the Japanese message for the page."""
    log.warning(
        "WebSocket refused: Origin %s is not allowed (BASE_URL=%s, ALLOWED_ORIGINS=%s); "
        "open the site at BASE_URL or add this origin to ALLOWED_ORIGINS",
        origin or "(none)",
        settings.base_url,
        ",".join(settings.allowed_origins),
    )
    return (
        f"このアドレス（{origin or '不明'}）からはリアルタイム接続が許可されていません。"
        f"{settings.base_url} で開き直すか、管理者に ALLOWED_ORIGINS への追加を依頼してください。"
    )
