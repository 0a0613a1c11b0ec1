"""Every failure becomes a Japanese page for browsers and a typed JSON error for the API."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE
from redis.exceptions import RedisError
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from core.access import AccountInactive, LoginRequired
from core.errors import Refusal

log = logging.getLogger("chonai.errors")

MESSAGES = {
    400: "リクエストの内容が正しくありません。",
    401: "ログインが必要です。",
    403: "このページを表示する権限がありません。",
    404: "お探しのページは見つかりませんでした。",
    405: "この操作はできません。",
    409: "現在の状態ではこの操作はできません。",
    413: "送信された内容が大きすぎます。",
    429: "操作が多すぎます。しばらく待ってから再度お試しください。",
    500: "サーバーで問題が発生しました。時間をおいて再度お試しください。",
    503: "一時的に利用できません。少し待ってから再度お試しください。",
}
CODES = {
    400: "bad_request",
    401: "login_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def wants_json(request: Request[Any, Any, Any]) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/schema")) or path.endswith(".ics"):
        return True
    return "text/html" not in request.headers.get("accept", "text/html")


def error_response(
    request: Request[Any, Any, Any], status: int, code: str, message: str, extra: dict[str, Any] | None = None
) -> Response[Any]:
    if wants_json(request):
        body: dict[str, Any] = {"error": {"code": code, "message": message, "status": status}}
        if extra:
            body["error"].update(extra)
        return Response(body, status_code=status, media_type=MediaType.JSON)
    return Template("error.html", context={"status": status, "message": message, "code": code}, status_code=status)


def _http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if isinstance(exc, LoginRequired) and not wants_json(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/login?next={quote(target)}", status_code=303)
    if isinstance(exc, AccountInactive) and not wants_json(request):
        return Redirect("/pending", status_code=303)
    detail = exc.detail if exc.detail and exc.detail != _default_phrase(status) else ""
    code = CODES.get(status, "error")
    if isinstance(exc, AccountInactive):
        code = "account_inactive"
    if isinstance(exc, PermissionDeniedException) and "CSRF" in (exc.detail or ""):
        code, detail = "csrf_failed", "フォームの有効期限が切れました。ページを再読み込みしてからやり直してください。"
    extra: dict[str, Any] = {}
    if isinstance(exc.extra, dict) and isinstance(exc.extra.get("code"), str):
        # Domains raise HTTPException(detail=<Japanese>, extra={"code": <stable code>, ...}).
        extra = {k: v for k, v in exc.extra.items() if k != "code"}
        code = exc.extra["code"]
    if isinstance(exc, ValidationException):
        # Litestar's own parsing errors are English; keep them as machine-readable details.
        detail = MESSAGES[400]
        extra["details"] = exc.extra if isinstance(exc.extra, list | dict) else []
    return error_response(
        request, status, code, _japanese(detail) or MESSAGES.get(status, "エラーが発生しました。"), extra
    )


def _default_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _japanese(text: str) -> str:
    # Litestar's built-in messages are English; only pass through our own (Japanese) ones.
    return text if any(ord(ch) > 0x3000 for ch in text) else ""


def _database_down(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if _bad_value(exc):  # a value the database cannot hold is the client's mistake, not an outage
        return _bad_input(request, exc)
    log.error("database unavailable: %s", exc.__class__.__name__)
    return error_response(request, HTTP_503_SERVICE_UNAVAILABLE, "unavailable", MESSAGES[503])


def _bad_value(exc: Exception) -> bool:
    """A DataError (SQLSTATE class 22, asyncpg's argument checks, SQLite's integer overflow)."""
    orig = getattr(exc, "orig", None)
    state = str(getattr(orig, "sqlstate", "") or getattr(orig, "pgcode", "") or "")
    return isinstance(exc, DataError) or state.startswith("22") or isinstance(orig, OverflowError | ValueError)


def _bad_input(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Input past every declared bound (nesting too deep, a number too large): 400, logged quietly."""
    log.info("refused bad input on %s %s: %s", request.method, request.url.path, exc.__class__.__name__)
    return error_response(request, 400, "invalid_input", MESSAGES[400])


def _refusal(request: Request[Any, Any, Any], exc: Refusal) -> Response[Any]:
    extra = {k: v for k, v in exc.body()["error"].items() if k not in ("code", "message", "status")}
    return error_response(request, exc.status, exc.code, exc.message, extra)


def _redis_down(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("redis unavailable: %s", exc.__class__.__name__)
    return error_response(request, HTTP_503_SERVICE_UNAVAILABLE, "unavailable", MESSAGES[503])


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(request, HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", MESSAGES[500])


def _not_found(request: Request[Any, Any, Any], exc: NotFoundException) -> Response[Any]:
    return error_response(request, 404, "not_found", _japanese(exc.detail or "") or MESSAGES[404])


EXCEPTION_HANDLERS: dict[Any, Any] = {
    HTTPException: _http_exception,
    Refusal: _refusal,
    RedisError: _redis_down,  # e.g. a publish after a committed change while Redis is down
    NotFoundException: _not_found,
    OperationalError: _database_down,
    DBAPIError: _database_down,
    PoolTimeout: _database_down,
    ConnectionError: _database_down,
    TimeoutError: _database_down,  # e.g. asyncpg's connect/command timeouts on a partitioned network
    RecursionError: _bad_input,  # JSON nested deeper than the decoder goes
    OverflowError: _bad_input,  # an integer too large for SQLite, a date past year 9999
    Exception: _unexpected,
}
