"""The one HTML form reader every domain uses: plain strings, last value wins, overlong values cut."""

from __future__ import annotations

from typing import Any

from litestar import Request

#: Characters kept per field; each input's own rules (e.g. a title's 100) are checked after this.
MAX_FIELD = 20_000
MAX_KEY = 100


async def read_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The form as plain strings so hostile input (files, huge values, repeated keys) can't 500."""
    form = await request.form()
    out: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            out[str(key)[:MAX_KEY]] = value[:MAX_FIELD]
    return out
