"""What can happen in a comment room: validate, persist with a position, read back, react.

The database is the source of truth for order. A comment's position is allocated by
`UPDATE comment_rooms SET last_position = last_position + 1 ... RETURNING` as the first
statement of the insert transaction: PostgreSQL serialises writers on that row lock and
SQLite on its single write lock, so positions are gapless and commit order is position
order. Callers acknowledge and publish only after `post_comment` returns (committed).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import msgspec
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.members.models import Member
from core.text import clean_line
from live.models import Broadcast, BroadcastState
from live.rooms.models import CommentRoom, RoomComment, RoomReaction, RoomVisit
from live.rooms.protocol import REACTION_KINDS, CommentItem, Limits

ACCEPTING = frozenset({BroadcastState.OPEN, BroadcastState.LIVE})
HISTORY_SIZE = 50
PAGE_SIZE = 500
_encode = msgspec.json.Encoder().encode


class RoomError(Exception):
    """A refusal with a stable code and a Japanese message the page shows as is."""

    def __init__(self, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


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


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_item(comment: RoomComment, name: str, organisation: str) -> bytes:
    return _encode(
        CommentItem(
            position=comment.position,
            member_id=comment.member_id,
            name=name,
            organisation=organisation,
            text=comment.text,
            at=_iso(comment.created_at),
            offset_ms=comment.offset_ms,
        )
    )


def clean_comment(text: str, max_length: int) -> str:
    """NFC, control characters stripped, one line; refuse empty and too long."""
    cleaned = clean_line(text)
    if not cleaned:
        raise RoomError("empty_comment", "コメントを入力してください。")
    if len(cleaned) > max_length:
        raise RoomError("too_long", f"コメントは{max_length}文字以内で入力してください（現在{len(cleaned)}文字）。")
    return cleaned


def _insert(
    db: AsyncSession, table: type[CommentRoom] | type[RoomReaction] | type[RoomVisit]
) -> sqlite.Insert | postgresql.Insert:
    dialect = db.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def room_info(db: AsyncSession, broadcast_id: int) -> RoomInfo | None:
    """The room of a broadcast (created on first use), or None if there is no such broadcast."""
    broadcast = (await db.execute(select(Broadcast.state).where(Broadcast.id == broadcast_id))).scalar_one_or_none()
    if broadcast is None:
        return None
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


async def post_comment(db: AsyncSession, broadcast_id: int, member: Member, text: str, ref: str | None) -> Posted:
    """Validate and store a comment; return once it is committed with its position.

    Four round trips on the happy path: allocate the position (taking the lock), read
    the broadcast's state with the member's recent count, insert, commit.
    """
    cleaned = clean_line(text)
    if not cleaned:
        raise RoomError("empty_comment", "コメントを入力してください。")
    # Read before any rollback can expire the (possibly shared) member object.
    return await _post(db, broadcast_id, member.id, member.name, member.affiliation, cleaned, ref)


async def _post(
    db: AsyncSession, broadcast_id: int, member_id: int, name: str, affiliation: str, cleaned: str, ref: str | None
) -> Posted:
    # First statement of the transaction takes the write lock (SQLite) / row lock (PostgreSQL).
    row = (
        await db.execute(
            update(CommentRoom)
            .where(CommentRoom.broadcast_id == broadcast_id)
            .values(last_position=CommentRoom.last_position + 1)
            .returning(
                CommentRoom.last_position, CommentRoom.max_length, CommentRoom.rate_count, CommentRoom.rate_seconds
            )
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if row is None:
        await db.rollback()
        if await room_info(db, broadcast_id) is None:
            raise RoomError("room_not_found", "この放送は見つかりません。")
        return await _post(db, broadcast_id, member_id, name, affiliation, cleaned, ref)
    position, max_length, rate_count, rate_seconds = row
    try:
        if len(cleaned) > max_length:
            raise RoomError("too_long", f"コメントは{max_length}文字以内で入力してください（現在{len(cleaned)}文字）。")
        now = utcnow()
        window_start = now - dt.timedelta(seconds=rate_seconds)
        recent = (
            RoomComment.broadcast_id == broadcast_id,
            RoomComment.member_id == member_id,
            RoomComment.created_at > window_start,
        )
        state, live_at, starts_at, count, oldest = (
            await db.execute(
                select(
                    Broadcast.state,
                    Broadcast.live_at,
                    Broadcast.starts_at,
                    select(func.count()).where(*recent).scalar_subquery(),
                    select(func.min(RoomComment.created_at)).where(*recent).scalar_subquery(),
                ).where(Broadcast.id == broadcast_id)
            )
        ).one()
        if state not in ACCEPTING:
            raise RoomError("room_closed", f"この放送は現在コメントを受け付けていません（{state.label}）。")
        if count >= rate_count:
            wait = max(1.0, (oldest - window_start).total_seconds()) if oldest else float(rate_seconds)
            raise RoomError(
                "rate_limited",
                f"コメントの投稿が多すぎます（{rate_seconds}秒に{rate_count}件まで）。{int(wait + 0.999)}秒ほど待ってから送信してください。",
                retry_after=round(wait, 1),
            )
        offset_ms = int((now - (live_at or starts_at)).total_seconds() * 1000)
        await db.execute(
            insert(RoomComment).values(
                broadcast_id=broadcast_id,
                position=position,
                member_id=member_id,
                text=cleaned,
                ref=ref,
                created_at=now,
                offset_ms=offset_ms,
            )
        )
        await db.commit()
    except IntegrityError:
        # The same ref was stored before (a resend after a reconnect): acknowledge that one.
        await db.rollback()
        existing = await _by_ref(db, broadcast_id, member_id, name, affiliation, ref) if ref else None
        if existing is None:
            raise
        return existing
    except RoomError:
        # A resend of a comment stored before (its ack was lost) is acknowledged, not refused:
        # by now the member may be at the rate limit, or the broadcast may have ended.
        await db.rollback()
        existing = await _by_ref(db, broadcast_id, member_id, name, affiliation, ref) if ref else None
        if existing is None:
            raise
        return existing
    except BaseException:
        await db.rollback()  # gives the position back: positions stay gapless
        raise
    comment = RoomComment(position=position, member_id=member_id, text=cleaned, created_at=now, offset_ms=offset_ms)
    return Posted(position, encode_item(comment, name, affiliation), time.time(), False)


async def _by_ref(
    db: AsyncSession, broadcast_id: int, member_id: int, name: str, affiliation: str, ref: str
) -> Posted | None:
    comment = (
        await db.execute(
            select(RoomComment).where(
                RoomComment.broadcast_id == broadcast_id, RoomComment.member_id == member_id, RoomComment.ref == ref
            )
        )
    ).scalar_one_or_none()
    await db.commit()
    if comment is None:
        return None
    return Posted(comment.position, encode_item(comment, name, affiliation), time.time(), True)


async def comments_between(db: AsyncSession, broadcast_id: int, after: int, upto: int) -> list[tuple[int, bytes]]:
    """Encoded comments with after < position <= upto, in order."""
    result: list[tuple[int, bytes]] = []
    while after < upto:
        rows = (
            await db.execute(
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
        ).all()
        if not rows:
            break
        for comment, name, organisation, department in rows:
            result.append((comment.position, encode_item(comment, name, f"{organisation} {department}".strip())))
        after = result[-1][0]
    await db.commit()
    return result


async def recent_comments(
    db: AsyncSession, broadcast_id: int, upto: int, n: int = HISTORY_SIZE
) -> list[tuple[int, bytes]]:
    return await comments_between(db, broadcast_id, max(0, upto - n), upto)


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
    statement = _insert(db, RoomVisit).values(broadcast_id=broadcast_id, member_id=member_id, first_seen_at=utcnow())
    await db.execute(statement.on_conflict_do_nothing())
    await db.commit()
