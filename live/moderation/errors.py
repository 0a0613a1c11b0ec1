"""The moderation domain's refusal (every module of live.moderation raises it)."""

from __future__ import annotations

from core.errors import Refusal


class ModerationError(Refusal):
    """A refusal with a Japanese message and a stable code for the API and WebSocket protocol."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(code, message, status)
