"""Small helpers for HTML forms: read them safely, keep values, send users back where they were."""

from __future__ import annotations

from typing import Any

from litestar import Request

MAX_FIELD = 10_000


async def read_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The form as plain strings (last value wins, overlong values cut) so hostile input can't 500."""
    form = await request.form()
    out: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            out[str(key)[:100]] = value[:MAX_FIELD]
    return out


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: never //evil.example or a scheme."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"
