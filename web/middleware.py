"""ASGI middleware: request ids and access logs, security headers, authentication, CSRF."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from http.cookies import SimpleCookie
from secrets import compare_digest
from typing import Any

from litestar.config.csrf import CSRFConfig
from litestar.connection import Request
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.middleware._utils import should_bypass_middleware
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, CSRFMiddleware, generate_csrf_hash, generate_csrf_token
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.types.asgi_types import WebSocketResponseBodyEvent, WebSocketResponseStartEvent
from litestar.utils.scope.state import ScopeState
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from core.access import scope_header
from core.db import Database
from core.logs import request_id_var
from core.members import service
from core.sockets import registry_for, session_credential, token_credential

log = logging.getLogger("chonai.access")

SESSION_COOKIE = "chonai_session"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# No inline script anywhere: every page's JavaScript is a file under /static.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' https://www.youtube.com https://s.ytimg.com",
        "style-src 'self'",
        "img-src 'self' data: https:",
        "media-src 'self' https: blob:",
        "frame-src https://www.youtube.com https://www.youtube-nocookie.com https://player.vimeo.com "
        "https://www.facebook.com",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


def cookie_value(scope: Scope, name: str) -> str | None:
    raw = scope_header(scope, b"cookie")
    if not raw:
        return None
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(raw)
    except Exception:  # a malformed Cookie header means "no cookie", not a 500
        return None
    morsel = cookies.get(name)
    return morsel.value if morsel else None


def bearer_token(scope: Scope) -> str | None:
    raw = scope_header(scope, b"authorization")
    if raw and raw[:7].lower() == "bearer ":
        return raw[7:].strip()
    return None


class RequestContextMiddleware:
    """Give every request an id (X-Request-ID in and out), log it, add security headers."""

    def __init__(self, app: ASGIApp, secure: bool = False) -> None:
        self.app = app
        self.headers = list(SECURITY_HEADERS)
        if secure:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", ""):  # no file or route has a NUL in its name
            raise NotFoundException()
        incoming = scope_header(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableScopeHeaders.from_message(message)
                headers["x-request-id"] = request_id
                for key, value in self.headers:
                    if key.decode() not in headers:
                        headers[key.decode()] = value.decode()
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if scope["type"] == ScopeType.HTTP and not scope["path"].startswith("/static/"):
                method = scope.get("method", "")
                log.info(
                    "%s %s %s",
                    method,
                    scope["path"],
                    status,
                    extra={
                        "method": method,
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )
            request_id_var.reset(token)


class AuthMiddleware:
    """Resolve the session cookie or Bearer token to a Member in scope['user'] (None if nobody)."""

    def __init__(self, app: ASGIApp, db: Database) -> None:
        self.app = app
        self.db = db

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.WEBSOCKET:
            try:
                scope["user"], scope["auth"] = await self.identify(scope)
            except (DBAPIError, PoolTimeout, OSError, TimeoutError) as exc:
                # The database is unreachable: say "try again" (503), not "forbidden".
                log.error("database unavailable during a WebSocket handshake: %s", exc.__class__.__name__)
                await _deny_unavailable(scope, send)
                return
        elif scope["type"] == ScopeType.HTTP and not scope["path"].startswith("/static/"):
            # HTTP errors (database down included) become typed responses in web.errors.
            scope["user"], scope["auth"] = await self.identify(scope)
        await self.app(scope, receive, send)

    async def identify(self, scope: Scope) -> tuple[Any, str | None]:
        token = bearer_token(scope)
        session_raw = cookie_value(scope, SESSION_COOKIE)
        if not token and not session_raw:
            return None, None
        if token:
            scope["credential"] = token_credential(service.hash_token(token))  # type: ignore[typeddict-unknown-key]
            async with self.db.session() as db:
                return await service.member_for_api_token(db, token), "token"
        assert session_raw is not None
        credential = scope["credential"] = session_credential(service.hash_token(session_raw))  # type: ignore[typeddict-unknown-key]
        if scope["type"] != ScopeType.WEBSOCKET:  # pages and the API read the session as it is now
            async with self.db.session() as db:
                return await service.member_for_session(db, session_raw), "session"
        # Handshakes (a reconnect storm) use the per-process cache the bus keeps honest (core.credentials).
        cache = registry_for(scope["app"]).credentials
        member = cache.get(credential)
        if member is None:
            epoch = cache.epoch
            async with self.db.session() as db:
                member, expires = await service.session_member(db, session_raw)
            if member is not None and expires is not None:
                cache.put(credential, member, expires.timestamp(), epoch)
        return member, "session"


async def _deny_unavailable(scope: Scope, send: Send) -> None:
    """Refuse a WebSocket handshake with HTTP 503 and a typed JSON error (1013 where unsupported)."""
    if "websocket.http.response" in (scope.get("extensions") or {}):
        body = json.dumps(
            {
                "error": {
                    "code": "unavailable",
                    "message": "一時的に利用できません。少し待ってから再度お試しください。",
                    "status": 503,
                }
            },
            ensure_ascii=False,
        ).encode()
        start: WebSocketResponseStartEvent = {
            "type": "websocket.http.response.start",
            "status": 503,
            "headers": [(b"content-type", b"application/json"), (b"retry-after", b"2")],
        }
        await send(start)
        end: WebSocketResponseBodyEvent = {"type": "websocket.http.response.body", "body": body, "more_body": False}
        await send(end)
    else:
        await send({"type": "websocket.close", "code": 1013, "reason": "try again later"})


class ChonaiCSRFMiddleware(CSRFMiddleware):
    """Double-submit CSRF on every unsafe request that a browser's cookies could authenticate.

    The token is signed with a key bound to the session cookie, so a token minted before
    login (or for another session) is refused, and a new session gets a new token. A request
    carrying only a Bearer token (no session cookie) cannot be forged cross-site, so scripts
    and integrations need no CSRF token.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or (bearer_token(scope) and not cookie_value(scope, SESSION_COOKIE)):
            await self.app(scope, receive, send)
            return
        if should_bypass_middleware(
            scope=scope,
            scopes=self.scopes,
            exclude_opt_key=self.config.exclude_from_csrf_key,
            exclude_path_pattern=self.exclude,
        ):
            await self.app(scope, receive, send)
            return
        request: Request[Any, Any, Any] = scope["litestar_app"].request_class(scope=scope, receive=receive)
        secret = self._bound_secret(scope)
        cookie = request.cookies.get(self.config.cookie_name)
        if cookie is not None and self._decode(cookie, secret) is None:
            cookie = None  # minted for another session (or before login): a new one replaces it
        state = ScopeState.from_scope(scope)
        if request.method in self.config.safe_methods:
            token = state.csrf_token = cookie or generate_csrf_token(secret=secret)
            await self.app(scope, receive, self.create_send_wrapper(send=send, csrf_cookie=cookie, token=token))
            return
        submitted = request.headers.get(self.config.header_name)
        content_type, _ = request.content_type
        if not submitted and content_type in {RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART}:
            submitted = (await request.form()).get("_csrf_token", None)
        mine = self._decode(cookie, secret) if cookie else None
        theirs = self._decode(submitted, secret) if isinstance(submitted, str) else None
        if mine is None or theirs is None or not compare_digest(mine, theirs) or not isinstance(submitted, str):
            raise PermissionDeniedException("CSRF token verification failed")
        state.csrf_token = submitted
        await self.app(scope, receive, send)

    def _bound_secret(self, scope: Scope) -> str:
        session = cookie_value(scope, SESSION_COOKIE) or ""
        binding = hashlib.sha256(session.encode()).hexdigest() if session else "anonymous"
        return f"{self.config.secret}:{binding}"

    @staticmethod
    def _decode(token: str, secret: str) -> str | None:
        if len(token) < CSRF_SECRET_LENGTH + 1:
            return None
        value, signature = token[:CSRF_SECRET_LENGTH], token[CSRF_SECRET_LENGTH:]
        return value if compare_digest(signature, generate_csrf_hash(token=value, secret=secret)) else None


def csrf_cookie_name(secure: bool) -> str:
    """`__Host-` behind HTTPS: the browser then insists on Secure, Path=/ and no Domain."""
    return "__Host-chonai_csrf" if secure else "chonai_csrf"


def csrf_config(secret: str, secure: bool) -> CSRFConfig:
    # The mail's one-click unsubscribe (RFC 8058) is POSTed by mail clients: its signed link is the credential.
    return CSRFConfig(
        secret=secret,
        cookie_secure=secure,
        cookie_samesite="lax",
        cookie_name=csrf_cookie_name(secure),
        exclude=["/notifications/unsubscribe"],
    )


def csrf_reset(settings: Any) -> list[Cookie]:
    """Drop the CSRF cookie (login, logout): the next page mints one bound to the new session."""
    return [
        Cookie(
            key=csrf_cookie_name(settings.secure_cookies),
            value="",
            max_age=0,
            path="/",
            secure=settings.secure_cookies,
            samesite="lax",
        )
    ]
