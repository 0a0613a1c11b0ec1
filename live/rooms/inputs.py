"""Room inputs: hiding or restoring a comment (the control page and the archive's replay) and reporting one.

One msgspec struct per input, decoded by the JSON API (live/rooms/moderation_api.py); there is no HTML
form for these. Declared bounds are the hard caps of what any client may send; the reason is cleaned
and cut to what the audit log and the report keep by the actions that store it (live.moderation.audit, live.moderation.reports).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from core.bounds import Id
from live.moderation.reports import REPORT_REASON_MAX

#: What the audit log keeps of a moderator's reason (live.moderation.audit cuts to this too).
VISIBILITY_REASON_MAX = 500


class VisibilityInput(msgspec.Struct, forbid_unknown_fields=True):
    """POST …/moderation/comments/{position}/hide and …/restore: the position is in the path."""

    reason: Annotated[str, msgspec.Meta(max_length=VISIBILITY_REASON_MAX)] = ""


class ReportInput(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/broadcasts/{id}/reports: any member in the room reports one comment by its position."""

    position: Id
    reason: Annotated[str, msgspec.Meta(max_length=REPORT_REASON_MAX)] = ""
