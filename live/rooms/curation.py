"""Moderators' actions on the room's comments: held comments, hide/restore, reports.

Each action commits its change first and then publishes it (publish_* go through
core.events.publish_committed, so a bus outage never turns a committed action into an error).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.events import EventBus
from core.members.models import Member
from live.errors import RoomError
from live.models import Broadcast
from live.moderation import reports
from live.moderation.events import publish_notice, publish_visibility
from live.moderation.held import decide_held, set_held_position, undo_approval
from live.moderation.models import CommentReport
from live.rooms import posting, service
from live.rooms.writer import publish_comment


async def approve_held(db: AsyncSession, bus: EventBus, actor: Member, broadcast: Broadcast, held_id: int) -> int:
    """Approve exactly once, then post through the normal comment path; returns the comment's position."""
    held = await decide_held(db, actor, broadcast, held_id, approve=True)
    try:
        posted = await posting.post_comment(db, broadcast.id, held.member, held.text, f"held-{held_id}", moderator=True)
    except RoomError:
        await undo_approval(db, held_id)  # back in the queue, never lost
        raise
    await set_held_position(db, held_id, posted.position)
    if not posted.duplicate:
        await publish_comment(bus, broadcast.id, posted)
    await publish_notice(bus, broadcast.id, "held")
    return posted.position


async def reject_held(db: AsyncSession, bus: EventBus, actor: Member, broadcast: Broadcast, held_id: int) -> None:
    await decide_held(db, actor, broadcast, held_id, approve=False)
    await publish_notice(bus, broadcast.id, "held")


async def set_visibility(
    db: AsyncSession, bus: EventBus, actor: Member, broadcast: Broadcast, position: int, hidden: bool, reason: str
) -> int:
    """Hide or restore one comment for every viewer; returns its author."""
    author = await service.set_hidden(db, broadcast.id, position, actor, hidden, reason)
    await publish_visibility(bus, broadcast.id, position, hidden)
    return author


async def report(
    db: AsyncSession, bus: EventBus, reporter: Member, broadcast: Broadcast, position: int, reason: str
) -> CommentReport:
    """Any member in the room may report a comment of this broadcast (once)."""
    if await service.comment_at(db, broadcast.id, position) is None:
        raise RoomError("comment_not_found", "この放送にそのコメントはありません。")
    entry = await reports.report(db, reporter, broadcast, position, reason)
    await publish_notice(bus, broadcast.id, "report")
    return entry


async def open_reports(db: AsyncSession, broadcast_id: int) -> list[tuple[CommentReport, bytes | None]]:
    """Unhandled reports with the reported comment as viewers saw it (None if it is gone)."""
    return [
        (r, await service.comment_at(db, broadcast_id, r.position))
        for r in await reports.open_reports(db, broadcast_id)
    ]
