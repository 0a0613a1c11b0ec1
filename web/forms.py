"""Small helpers for HTML forms: read them safely, keep values, send users back where they were."""

from __future__ import annotations

from typing import Any

from litestar import Request

from core.forms import MAX_FIELD as MAX_FIELD
from core.forms import read_form as read_form  # the one form reader (core/forms.py)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: never //evil.example or a scheme."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"
