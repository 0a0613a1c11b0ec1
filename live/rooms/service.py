# size: over 400 lines and a long _post: the insert-with-position transaction reads best in one piece; splitting reads from writes is listed in docs/architecture.md.
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
from live import search_feed
from live.errors import RoomError as RoomError  # raised by the moderation gate too
from live.models import Broadcast, BroadcastState
from live.moderation.models import RoomControls
from live.moderation.service import log_comment_visibility
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


async def post_comment(
    db: AsyncSession,
    broadcast_id: int,
    member: Member,
    text: str,
    ref: str | None,
    *,
    question: bool = False,
    moderator: bool = False,
) -> Posted:
    """Validate and store a comment; return once it is committed with its position.

    Four round trips on the happy path: allocate the position (taking the lock), read
    the broadcast's state with the member's recent count, insert, commit. Slow mode is
    checked in the same read, under the room's lock, so two tabs of one member cannot
    both slip through; moderators are exempt from it.
    """
    cleaned = clean_line(text)
    if not cleaned:
        raise RoomError("empty_comment", "コメントを入力してください。")
    # Read before any rollback can expire the (possibly shared) member object.
    return await _post(
        db, broadcast_id, member.id, member.name, member.affiliation, cleaned, ref, question, not moderator
    )


async def _post(
    db: AsyncSession,
    broadcast_id: int,
    member_id: int,
    name: str,
    affiliation: str,
    cleaned: str,
    ref: str | None,
    question: bool = False,
    slow_mode: bool = True,
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
        return await _post(db, broadcast_id, member_id, name, affiliation, cleaned, ref, question, slow_mode)
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
        state, live_at, starts_at, count, oldest, slow_seconds, latest = (
            await db.execute(
                select(
                    Broadcast.state,
                    Broadcast.live_at,
                    Broadcast.starts_at,
                    select(func.count()).where(*recent).scalar_subquery(),
                    select(func.min(RoomComment.created_at)).where(*recent).scalar_subquery(),
                    select(RoomControls.slow_mode_seconds)
                    .where(RoomControls.broadcast_id == broadcast_id)
                    .scalar_subquery(),
                    select(func.max(RoomComment.created_at))
                    .where(RoomComment.broadcast_id == broadcast_id, RoomComment.member_id == member_id)
                    .scalar_subquery(),
                ).where(Broadcast.id == broadcast_id)
            )
        ).one()
        if state not in ACCEPTING:
            raise RoomError("room_closed", f"この放送は現在コメントを受け付けていません（{state.label}）。")
        if slow_mode and slow_seconds and latest is not None:
            wait = slow_seconds - (now - latest).total_seconds()
            if wait > 0:
                raise RoomError(
                    "slow_mode",
                    f"スローモード中です（{slow_seconds}秒に1件）。あと{int(wait + 0.999)}秒お待ちください。",
                    retry_after=round(wait, 1),
                )
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
                is_question=question,
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
    comment = RoomComment(
        position=position,
        member_id=member_id,
        text=cleaned,
        created_at=now,
        offset_ms=offset_ms,
        is_question=question,
    )
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
