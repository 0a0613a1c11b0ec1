"""The archive's refusal: a Japanese message and the form field it is about."""

from __future__ import annotations

from core.errors import Refusal

_ARCHIVE_CODES = {403: "forbidden", 404: "not_found", 409: "conflict"}


class ArchiveError(Refusal):
    """A refusal with a Japanese message; `field` names the form field it is about (400s only)."""

    def __init__(self, message: str, status: int = 400, field: str = "") -> None:
        code = _ARCHIVE_CODES.get(status, "invalid_input")
        super().__init__(code, message, status, fields={field: message} if field else None)
        self.field = field
