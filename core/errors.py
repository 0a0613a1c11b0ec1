"""The one refusal type: domains raise `Refusal`; web/errors.py turns it into a Japanese page or typed JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")

# Default HTTP status per family of stable codes; a domain may pass `status` explicitly.
_DEFAULT_STATUS = 400


class Refusal(Exception):
    """A request the product refuses on purpose.

    `code` is stable for API clients, `message` is Japanese for people, `status` is the HTTP status,
    `fields` maps form field names to Japanese field errors, `extra` adds machine-readable details.
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: int = _DEFAULT_STATUS,
        *,
        fields: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.fields = dict(fields or {})
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        """The JSON error body every API answers with: {"error": {code, message, status, fields?, ...}}."""
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.fields:
            error["fields"] = self.fields
        error.update(self.extra)
        return {"error": error}


class NotFound(Refusal):
    def __init__(self, message: str = "お探しのものは見つかりませんでした。", code: str = "not_found") -> None:
        super().__init__(code, message, 404)


def found(value: T | None, refusal: str | Refusal) -> T:
    """`value` itself, or, when there is none, `refusal` (a message: a 404 `not_found`): the get-or-refuse of lookups."""
    if value is None:
        raise NotFound(refusal) if isinstance(refusal, str) else refusal
    return value


class Forbidden(Refusal):
    def __init__(self, message: str = "この操作を行う権限がありません。", code: str = "forbidden") -> None:
        super().__init__(code, message, 403)


class Conflict(Refusal):
    def __init__(self, message: str = "現在の状態ではこの操作はできません。", code: str = "conflict") -> None:
        super().__init__(code, message, 409)


class Invalid(Refusal):
    """Bad input: one message for the page, per-field messages for forms."""

    def __init__(self, message: str, *, fields: Mapping[str, str] | None = None, code: str = "invalid_input") -> None:
        super().__init__(code, message, 400, fields=fields)
