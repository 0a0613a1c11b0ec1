"""Joining a room: welcome, then history, then live, with no gap and no duplicate.

A viewer gets what was written to its kind of viewer (`flushed` for moderators,
`public_flushed` for the others, whom the display delay holds back), reads that history from
the room's memory (`RoomStream.recent_between`) or, before that window, from the database,
and is added to the room without awaiting in between.
"""

from __future__ import annotations

import msgspec

from core.db import Database
from live.rooms import metrics, service
from live.rooms.protocol import History, Restricted, Welcome, encode
from live.rooms.room import Room
from live.rooms.transport import OutFrame
from live.rooms.viewers import Viewer

HISTORY_CHUNK = 200  # comments per history frame


async def join(
    database: Database, viewer: Viewer, room: Room, member_id: int, after: int | None, restriction: Restricted | None
) -> None:
    """Send welcome and history, then register the viewer: no gap, no duplicate.

    Non-moderators get what was written to non-moderators (`public_flushed`: the
    moderation delay holds the rest back) without hidden comments; moderators get
    everything, with the hidden positions to mark.
    """
    moderator = viewer.moderator
    visible_only = not moderator
    if after is not None and after > room.flushed:
        await _wait_for_resume_point(database, room, after)

    def written() -> int:
        return room.flushed if moderator else room.public_flushed

    target = written()
    start = max(0, target - service.HISTORY_SIZE) if after is None else after
    rows = await _history(database, room, start, target, visible_only)
    # More went out while we read (closing the session awaits too): read those as well.
    # The last check of what was written must come after the last await before `room.add`.
    while written() > target:
        upto = written()
        rows += await _history(database, room, target, upto, visible_only)
        target = upto
    # From here to `room.add` nothing awaits: the viewer gets exactly (after, target] then live.
    sink = viewer.sink
    welcome = Welcome(
        room=room.id,
        member_id=member_id,
        state=room.state.value,
        state_label=room.state.label,
        last_position=target,
        viewers=room.viewer_count() + viewer.watching,
        reactions=room.reactions,
        limits=room.limits,
        moderator=moderator,
        controls=room.controls,
        hidden=sorted(room.hidden),
        restriction=restriction,
    )
    sink.write(OutFrame(encode(welcome)))
    chunks = [rows[i : i + HISTORY_CHUNK] for i in range(0, len(rows), HISTORY_CHUNK)] or [[]]
    for i, chunk in enumerate(chunks):
        history = History(
            items=[item for _, item in chunk],
            resumed=after is not None,
            last_position=target if i == len(chunks) - 1 else None,
        )
        sink.write(OutFrame(encode(history)))
    room.add(viewer)


async def _history(
    database: Database, room: Room, after: int, upto: int, visible_only: bool
) -> list[tuple[int, msgspec.Raw]]:
    """(after, upto] as viewers of this kind get it: from memory inside the room's window, else the database."""
    rows = room.recent_between(after, upto, visible_only)
    if rows is not None:
        metrics.HISTORY_READS.labels("memory").inc()
        return rows
    metrics.HISTORY_READS.labels("database").inc()
    async with database.session() as db:
        found = await service.comments_between(db, room.id, after, upto, visible_only=visible_only)
    return [(position, msgspec.Raw(item)) for position, item in found]


async def _wait_for_resume_point(database: Database, room: Room, after: int) -> None:
    """A resume point this process has not written yet: wait for it, or refuse one that does not exist."""
    if after > room.last:
        async with database.session() as db:
            db_last = (await service.room_states(db, [room.id])).get(room.id, (0, room.state))[0]
        if after > db_last:
            raise service.RoomError(
                "invalid_position", "再開位置が正しくありません。最新のコメントから表示し直します。"
            )
        room.catch_up()  # another process delivered it already; we are behind the database
    if not await room.wait_flushed(after, 10.0):
        raise service.RoomError("unavailable", "コメントの同期が遅れています。少し待ってから再接続してください。")
