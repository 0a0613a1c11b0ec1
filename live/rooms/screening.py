"""What stands between a viewer's comment and the room: switches, restrictions, blocked words.

A comment is refused (RoomError), held for review (True: the sender is told, moderators are
notified), or let through to the writer (False). Moderators skip this (live.rooms.socket).
"""

from __future__ import annotations

import logging
import time

from live.moderation import gate
from live.moderation.events import publish_notice
from live.rooms import metrics, service
from live.rooms.hub import Hub
from live.rooms.protocol import Held, PostComment, encode
from live.rooms.room import Room
from live.rooms.transport import OutFrame
from live.rooms.viewers import Viewer

log = logging.getLogger("chonai.rooms")


async def _read_words(hub: Hub, room: Room, now: float) -> None:
    """One reader refreshes the blocked words; comments meanwhile use the rules cached a moment ago."""
    words_at, room.words_at = room.words_at, now
    try:
        async with hub.db.session() as db:
            room.words = await gate.rules(db, room.program_id)
            await db.commit()
    except BaseException:
        if room.words_at == now:
            room.words_at = words_at  # the next comment reads them again
        raise


async def held(hub: Hub, room: Room, viewer: Viewer, member_id: int, message: PostComment) -> bool:
    """Moderation in front of the room: refuse (RoomError) or hold for review (True)."""
    controls = room.controls
    if controls.comments_off:
        raise service.RoomError("comments_off", "この放送ではコメントが停止されています。")
    if controls.locked:
        raise service.RoomError("room_locked", "ルームはロック中です（閲覧のみ）。")
    now = time.monotonic()
    if now - room.words_at > gate.WORDS_TTL:
        await _read_words(hub, room, now)
    if now - viewer.checked_at > gate.RESTRICTION_TTL:
        # The room's shared read (live.rooms.admission): one query per room, not one per poster.
        admission = await room.admission.get()
        viewer.restriction = admission.restriction(member_id) if admission else None
        viewer.checked_at = admission.read_at if admission else now
    gate.refuse_if_restricted(viewer.restriction)
    hold = gate.screen(room.words, message.text, room.limits.max_length)
    if hold is None:
        return False
    async with hub.db.session() as db:
        await gate.hold(db, room.id, member_id, hold, message.ref)
    metrics.COMMENTS_REFUSED.labels("held").inc()
    viewer.sink.write(OutFrame(encode(Held(ref=message.ref, message=gate.HELD_MESSAGE))))
    try:
        await publish_notice(hub.bus, room.id, "held")
    except Exception:  # the queue is in the database; the control page reloads it
        log.warning("publishing a held-comment notice failed", exc_info=True)
    return True
