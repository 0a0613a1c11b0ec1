"""The live domain's contract: the one module `archive` and `faq` may import from live.

Read models (broadcasts, programs, the stored comments and viewer samples), the events live
publishes, the broadcast access policy and the search feed (live.search_feed). Everything else in live is private to it; the
import-linter contracts in pyproject.toml enforce that.
"""

from __future__ import annotations

from live import search_feed
from live.access import can_host, can_manage, can_moderate, require_host, require_manager, require_moderator
from live.events import SCHEDULE_CHANNEL, BroadcastStateChanged, broadcast_channel
from live.models import Broadcast, BroadcastState, Program, ProgramGuest
from live.moderation.models import ViewerSample
from live.rooms.models import CommentRoom, RoomComment, RoomVisit

__all__ = [
    "SCHEDULE_CHANNEL",
    "Broadcast",
    "BroadcastState",
    "BroadcastStateChanged",
    "CommentRoom",
    "Program",
    "ProgramGuest",
    "RoomComment",
    "RoomVisit",
    "ViewerSample",
    "broadcast_channel",
    "can_host",
    "can_manage",
    "can_moderate",
    "require_host",
    "require_manager",
    "require_moderator",
    "search_feed",
]
