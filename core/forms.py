"""The one HTML form reader every domain uses (plain strings, last value wins, overlong values cut) and its numbers."""

from __future__ import annotations

import unicodedata
from typing import Any

from litestar import Request

from core.errors import Invalid

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


def optional_number(raw: str, label: str, field: str) -> int | None:
    """A whole number typed in a form or query (全角 digits too); empty is None; else a Japanese field error."""
    value = unicodedata.normalize("NFKC", raw).strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 9:
        message = f"{label}の指定が正しくありません。"
        raise Invalid(message, fields={field: message})
    return int(value)
