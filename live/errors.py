"""Refusals of the live domain shared by its packages (the comment path and the moderation gate in front of it)."""

from __future__ import annotations

import datetime as dt

from core.errors import Refusal

_ROOM_STATUS = {
    "comment_not_found": 404,
    "room_not_found": 404,
    "already_hidden": 409,
    "not_hidden": 409,
    "room_closed": 409,
    "rate_limited": 429,
}


class RoomError(Refusal):
    """A refusal with a stable code and a Japanese message the page shows as is; the status follows from the code."""

    def __init__(
        self, code: str, message: str, retry_after: float | None = None, until: dt.datetime | None = None
    ) -> None:
        super().__init__(code, message, _ROOM_STATUS.get(code, 400))
        self.retry_after = retry_after
        self.until = until  # end of a timeout/ban, shown as remaining time
