"""The moderation names live.rooms imports as `live.moderation.service` (kept while that package is rewritten).

New code imports the module of each concern: `sanctions`, `words`, `held`, `reports`, `controls`,
`audit`, `errors`. This module only re-exports, so each name has one definition.
"""

from __future__ import annotations

from live.moderation.audit import log_comment_visibility
from live.moderation.held import decide_held, held_comments, set_held_position, undo_approval
from live.moderation.reports import open_reports, report
from live.moderation.sanctions import Restriction, restriction_of

__all__ = [
    "Restriction",
    "decide_held",
    "held_comments",
    "log_comment_visibility",
    "open_reports",
    "report",
    "restriction_of",
    "set_held_position",
    "undo_approval",
]
