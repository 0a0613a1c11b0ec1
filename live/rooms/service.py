"""What can happen in a comment room besides posting: its state, reading comments back, moderation, reactions.

The database is the source of truth for order. Comments are written by `live.rooms.posting`
(positions allocated under the room's lock, gapless, commit order = position order) and, from a
room socket, through the room's group-commit writer (`live.rooms.writer`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.members.models import Member
from live import search_feed
from live.errors import RoomError as RoomError  # raised by the moderation gate too
from live.models import Broadcast, BroadcastState
from live.moderation.audit import log_comment_visibility
from live.moderation.models import RoomControls
from live.rooms.models import CommentRoom, RoomComment, RoomReaction, RoomVisit
from live.rooms.protocol import REACTION_KINDS, CommentItem, Controls, Limits

ACCEPTING = frozenset({BroadcastState.OPEN, BroadcastState.LIVE})
HISTORY_SIZE = 50
PAGE_SIZE = 500
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class Posted:
    position: int
    item: bytes  # the encoded CommentItem, exactly what viewers receive
    committed: float  # time.time() right after commit
    duplicate: bool  # a resend of an already stored `ref`: acknowledged, not stored again


@dataclass(frozen=True, slots=True)
class RoomInfo:
    broadcast_id: int
    state: BroadcastState
    last_position: int
    limits: Limits
    program_id: int | None = None


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


iso = _iso  # ISO 8601 UTC as the protocol writes it


class CommentFields(Protocol):
    """What a comment's encoding reads: a stored `RoomComment`, or a row the writer is inserting."""

    @property
    def position(self) -> int: ...
    @property
    def member_id(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def created_at(self) -> dt.datetime: ...
    @property
    def offset_ms(self) -> int: ...
    @property
    def is_question(self) -> bool: ...


def encode_item(comment: CommentFields, name: str, organisation: str) -> bytes:
    return _encode(
        CommentItem(
            position=comment.position,
            member_id=comment.member_id,
            name=name,
            organisation=organisation,
            text=comment.text,
            at=_iso(comment.created_at),
            offset_ms=comment.offset_ms,
            question=bool(comment.is_question),
        )
    )


def _insert(
    db: AsyncSession, table: type[CommentRoom] | type[RoomReaction] | type[RoomVisit]
) -> sqlite.Insert | postgresql.Insert:
    dialect = db.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def room_info(db: AsyncSession, broadcast_id: int) -> RoomInfo | None:
    """The room of a broadcast (created on first use), or None if there is no such broadcast."""
    found = (
        await db.execute(select(Broadcast.state, Broadcast.program_id).where(Broadcast.id == broadcast_id))
    ).one_or_none()
    if found is None:
        return None
    broadcast, program_id = found
    room = await db.get(CommentRoom, broadcast_id)
    if room is None:
        await db.execute(_insert(db, CommentRoom).values(broadcast_id=broadcast_id).on_conflict_do_nothing())
        await db.commit()
        room = await db.get(CommentRoom, broadcast_id)
        assert room is not None
    await db.commit()  # end the read snapshot (SQLite readers must not pin old WAL frames)
    return RoomInfo(
        broadcast_id=broadcast_id,
        state=broadcast,
        last_position=room.last_position,
        limits=Limits(max_length=room.max_length, rate_count=room.rate_count, rate_seconds=room.rate_seconds),
        program_id=program_id,
    )


async def room_states(db: AsyncSession, broadcast_ids: list[int]) -> dict[int, tuple[int, BroadcastState]]:
    """Last position and broadcast state of each room (the hub's periodic consistency check)."""
    rows = await db.execute(
        select(CommentRoom.broadcast_id, CommentRoom.last_position, Broadcast.state)
        .join(Broadcast, Broadcast.id == CommentRoom.broadcast_id)
        .where(CommentRoom.broadcast_id.in_(broadcast_ids))
    )
    result = {int(b): (int(p), BroadcastState(s)) for b, p, s in rows}
    await db.commit()
    return result


async def comments_between(
    db: AsyncSession, broadcast_id: int, after: int, upto: int, *, visible_only: bool = False
) -> list[tuple[int, bytes]]:
    """Encoded comments with after < position <= upto, in order.

    `visible_only` leaves out comments a moderator hid: what viewers and the archive
    replay get. The hub's gap recovery needs every position (it keeps order by them).
    """
    result: list[tuple[int, bytes]] = []
    while after < upto:
        query = (
            select(RoomComment, Member.name, Member.organisation, Member.department)
            .join(Member, Member.id == RoomComment.member_id)
            .where(
                RoomComment.broadcast_id == broadcast_id,
                RoomComment.position > after,
                RoomComment.position <= upto,
            )
            .order_by(RoomComment.position)
            .limit(PAGE_SIZE)
        )
        if visible_only:
            query = query.where(RoomComment.hidden_at.is_(None))
        rows = (await db.execute(query)).all()
        if not rows:
            break
        for comment, name, organisation, department in rows:
            result.append((comment.position, encode_item(comment, name, f"{organisation} {department}".strip())))
        after = result[-1][0]
    await db.commit()
    return result


async def display_delay(db: AsyncSession, broadcast_id: int) -> int:
    """The room's moderation delay for viewers, in seconds (0 = none)."""
    delay = (
        await db.execute(select(RoomControls.delay_seconds).where(RoomControls.broadcast_id == broadcast_id))
    ).scalar_one_or_none()
    await db.commit()
    return int(delay or 0)


async def last_position_before(db: AsyncSession, broadcast_id: int, before: dt.datetime) -> int:
    """The highest position stored before `before`: where a delayed viewer's stream is now."""
    found = (
        await db.execute(
            select(func.max(RoomComment.position)).where(
                RoomComment.broadcast_id == broadcast_id, RoomComment.created_at <= before
            )
        )
    ).scalar_one_or_none()
    await db.commit()
    return int(found or 0)


async def recent_comments(
    db: AsyncSession, broadcast_id: int, upto: int, n: int = HISTORY_SIZE, *, visible_only: bool = False
) -> list[tuple[int, bytes]]:
    return await comments_between(db, broadcast_id, max(0, upto - n), upto, visible_only=visible_only)


# --- moderation: hidden comments and questions -------------------------------------------


async def set_hidden(
    db: AsyncSession, broadcast_id: int, position: int, actor: Member, hidden: bool, reason: str = ""
) -> int:
    """Hide or restore one comment of this room, logged in the same transaction; returns its author.

    A conditional UPDATE: of two moderators hiding the same comment at once exactly one
    changes it, the other gets `already_hidden` (nothing is lost or logged twice).
    """
    actor_id = actor.id
    result = await db.execute(
        update(RoomComment)
        .where(
            RoomComment.broadcast_id == broadcast_id,
            RoomComment.position == position,
            RoomComment.hidden_at.is_(None) if hidden else RoomComment.hidden_at.is_not(None),
        )
        .values(hidden_at=utcnow() if hidden else None, hidden_by_id=actor_id if hidden else None)
        .returning(RoomComment.member_id)
        .execution_options(synchronize_session=False)
    )
    author = result.scalar_one_or_none()
    if author is None:
        await db.rollback()
        exists = (
            await db.execute(
                select(RoomComment.id).where(RoomComment.broadcast_id == broadcast_id, RoomComment.position == position)
            )
        ).first()
        await db.commit()
        if exists is None:
            raise RoomError("comment_not_found", "この放送にそのコメントはありません。")
        if hidden:
            raise RoomError("already_hidden", "このコメントは既に非表示になっています。")
        raise RoomError("not_hidden", "このコメントは非表示になっていません。")
    log_comment_visibility(db, actor, broadcast_id, position, int(author), hidden, reason)
    await search_feed.sync_comment(db, broadcast_id, position)
    await db.commit()
    return int(author)


async def room_controls(db: AsyncSession, broadcast_id: int) -> Controls:
    """The moderation switches as viewers get them, with the picked question's text."""
    row = await db.get(RoomControls, broadcast_id, populate_existing=True)
    await db.commit()
    if row is None:
        return Controls()
    picked = await comment_at(db, broadcast_id, row.picked_position, visible_only=True) if row.picked_position else None
    return Controls(
        slow_mode_seconds=row.slow_mode_seconds,
        locked=row.locked,
        comments_off=row.comments_off,
        delay_seconds=row.delay_seconds,
        pinned_text=row.pinned_text,
        picked_position=row.picked_position if picked else None,
        picked=msgspec.Raw(picked) if picked else None,
    )


async def hidden_positions(db: AsyncSession, broadcast_id: int, limit: int = 2000) -> list[int]:
    rows = await db.execute(
        select(RoomComment.position)
        .where(RoomComment.broadcast_id == broadcast_id, RoomComment.hidden_at.is_not(None))
        .order_by(RoomComment.position.desc())
        .limit(limit)
    )
    result = sorted(int(p) for p in rows.scalars())
    await db.commit()
    return result


async def comment_at(db: AsyncSession, broadcast_id: int, position: int, *, visible_only: bool = False) -> bytes | None:
    """One encoded comment, e.g. the question the host picked or a restored one."""
    rows = await comments_between(db, broadcast_id, position - 1, position, visible_only=visible_only)
    return rows[0][1] if rows else None


async def questions(db: AsyncSession, broadcast_id: int, limit: int = 200) -> list[tuple[int, bytes]]:
    """Visible comments marked 質問, newest last (the control page's queue)."""
    rows = (
        await db.execute(
            select(RoomComment, Member.name, Member.organisation, Member.department)
            .join(Member, Member.id == RoomComment.member_id)
            .where(
                RoomComment.broadcast_id == broadcast_id,
                RoomComment.is_question.is_(True),
                RoomComment.hidden_at.is_(None),
            )
            .order_by(RoomComment.position.desc())
            .limit(limit)
        )
    ).all()
    await db.commit()
    return [
        (c.position, encode_item(c, name, f"{organisation} {department}".strip()))
        for c, name, organisation, department in reversed(rows)
    ]


async def add_reactions(db: AsyncSession, broadcast_id: int, delta: dict[str, int]) -> None:
    for kind, count in delta.items():
        stmt = _insert(db, RoomReaction).values(broadcast_id=broadcast_id, kind=kind, count=count)
        await db.execute(
            stmt.on_conflict_do_update(
                index_elements=[RoomReaction.broadcast_id, RoomReaction.kind],
                set_={"count": RoomReaction.count + stmt.excluded.count},
            )
        )
    await db.commit()


async def reaction_totals(db: AsyncSession, broadcast_id: int) -> dict[str, int]:
    rows = await db.execute(
        select(RoomReaction.kind, RoomReaction.count).where(RoomReaction.broadcast_id == broadcast_id)
    )
    totals = dict.fromkeys(REACTION_KINDS, 0)
    totals.update({str(k): int(c) for k, c in rows if k in totals})
    await db.commit()
    return totals


async def set_limits(db: AsyncSession, broadcast_id: int, limits: Limits) -> Limits:
    if await room_info(db, broadcast_id) is None:
        raise RoomError("room_not_found", "この放送は見つかりません。")
    await db.execute(
        update(CommentRoom)
        .where(CommentRoom.broadcast_id == broadcast_id)
        .values(max_length=limits.max_length, rate_count=limits.rate_count, rate_seconds=limits.rate_seconds)
    )
    await db.commit()
    return limits


async def record_visit(db: AsyncSession, broadcast_id: int, member_id: int) -> None:
    """Remember that a member opened the room (first time only)."""
    await record_visits(db, [(broadcast_id, member_id, utcnow())])


async def record_visits(db: AsyncSession, rows: list[tuple[int, int, dt.datetime]]) -> None:
    """(room, member, first seen) in one statement; a member already recorded keeps their first time."""
    if not rows:
        return
    values = [{"broadcast_id": b, "member_id": m, "first_seen_at": at} for b, m, at in rows]
    await db.execute(_insert(db, RoomVisit).values(values).on_conflict_do_nothing())
    await db.commit()
