"""The comment write transaction: a batch of comments checked against the room's rules, stored at once.

One transaction per batch, in this order:

1. `UPDATE comment_rooms SET last_position = last_position + n ... RETURNING` reserves n positions
   and takes the room's lock (PostgreSQL's row lock / SQLite's single write lock): writers of
   every process queue there, so positions are gapless, unique and in commit order.
2. Under the lock, three reads: the broadcast's state and slow mode, the batch's members' recent
   comments (rate limit, slow mode), and the batch's refs already stored (idempotent resends).
3. Every comment is decided in Python, in arrival order, as if posted one after another:
   accepted ones take the next positions, a refused one only gets its own `RoomError`.
4. If fewer than n were accepted the reservation is cut back, then one INSERT of the accepted
   rows and one COMMIT. Any failure rolls everything back: no position is used, nothing stored.

The caller acknowledges and publishes only what `write_batch` returns, after it returned.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, sessionmaker

from core.db import blocking_sqlite_engine, utcnow
from core.members.models import Member
from core.text import clean_line
from live.errors import RoomError
from live.models import Broadcast, BroadcastState
from live.moderation.models import RoomControls
from live.rooms.models import CommentRoom, RoomComment
from live.rooms.service import ACCEPTING, Posted, encode_item, room_info


@dataclass(frozen=True, slots=True)
class Draft:
    """A comment as it waits for the writer: cleaned, with its author's display fields copied."""

    member_id: int
    name: str
    affiliation: str
    text: str
    ref: str | None
    question: bool = False
    slow_mode: bool = True  # moderators are exempt from slow mode


def draft(member: Member, text: str, ref: str | None, *, question: bool = False, moderator: bool = False) -> Draft:
    """Validate what needs no database (refused here: `empty_comment`) and copy the member's fields.

    Read now, before any rollback can expire the (possibly shared) member object.
    """
    cleaned = clean_line(text)
    if not cleaned:
        raise RoomError("empty_comment", "コメントを入力してください。")
    return Draft(member.id, member.name, member.affiliation, cleaned, ref, question, not moderator)


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
    """One comment, stored and committed (a batch of one); raises its `RoomError` when refused."""
    (outcome,) = await write_batch(db, broadcast_id, [draft(member, text, ref, question=question, moderator=moderator)])
    if isinstance(outcome, RoomError):
        raise outcome
    return outcome


@dataclass(slots=True)
class _Recent:
    """One member's comments in the rate window, kept current while the batch is decided."""

    count: int = 0
    oldest: dt.datetime | None = None  # oldest inside the rate window
    latest: dt.datetime | None = None  # newest inside the rate/slow-mode window


@dataclass(slots=True)
class _Rules:
    max_length: int
    rate_count: int
    rate_seconds: int
    state: BroadcastState
    started: dt.datetime  # live_at, else starts_at: offsets count from here
    slow_seconds: int
    now: dt.datetime


Outcomes = list[Posted | RoomError]
#: Runs a blocking function with a session: `AsyncSession.run_sync`, or a writer thread's (`SqliteThread.run`).
Runner = Callable[[Callable[[Session], Outcomes | None]], Awaitable[Outcomes | None]]


async def write_batch(
    db: AsyncSession, broadcast_id: int, drafts: Sequence[Draft], run: Runner | None = None
) -> Outcomes:
    """Store the acceptable drafts in one transaction; one outcome per draft, in the same order.

    The transaction is blocking code (`_write`) run by `run`, by default on `db` (`run_sync`);
    `db` itself serves only to create the comment room on first use.
    """
    runner = run or db.run_sync
    write = functools.partial(_write, broadcast_id=broadcast_id, drafts=drafts)
    outcomes = await runner(write)
    if outcomes is None:  # no comment room yet (created on first use), or no such broadcast
        if await room_info(db, broadcast_id) is None:
            return [RoomError("room_not_found", "この放送は見つかりません。") for _ in drafts]
        outcomes = await runner(write)
        assert outcomes is not None, "room_info created the comment room"
    return outcomes


def _write(session: Session, broadcast_id: int, drafts: Sequence[Draft]) -> Outcomes | None:
    # Core statements on the session's connection: the ORM's execution layer (identity map,
    # execute events, ORM result setup) costs more than the statements and is not needed here.
    db = session.connection()
    n = len(drafts)
    try:
        row = _reserve(db, broadcast_id, n)
        if row is None:
            session.rollback()
            return None
        rules = _rules(db, broadcast_id, row)
        recent = _recent(db, broadcast_id, drafts, rules)
        stored = _stored(db, broadcast_id, drafts)
        outcomes, rows = _decide(broadcast_id, row[0] - n, drafts, rules, recent, stored)
        if rows:
            if len(rows) < n:  # cut the reservation back to what is stored
                db.execute(
                    update(CommentRoom)
                    .where(CommentRoom.broadcast_id == broadcast_id)
                    .values(last_position=row[0] - n + len(rows))
                )
            db.execute(insert(RoomComment), rows)
            session.commit()
        else:
            session.rollback()  # nothing new: gives the reservation back
    except BaseException:
        session.rollback()  # gives the positions back: positions stay gapless
        raise
    committed = time.time()
    return [
        o
        if isinstance(o, RoomError)
        else Posted(o[0].position, encode_item(o[0], d.name, d.affiliation), committed, o[1])
        for o, d in zip(outcomes, drafts, strict=True)
    ]


class SqliteThread:
    """A process's one blocking SQLite connection for comment batches, on a thread of its own.

    Through aiosqlite every statement of a batch is a hop to its thread and back (a thread wake-up
    and two GIL hand-overs each, about six per batch); here the whole transaction is one hop. One
    thread also serialises this process's batches (SQLite has one writer for every room).
    """

    def __init__(self, url: str) -> None:
        self._engine = blocking_sqlite_engine(url)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="chonai-comment-writer")

    async def run(self, fn: Callable[[Session], Outcomes | None]) -> Outcomes | None:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._in_session, fn)

    def _in_session(self, fn: Callable[[Session], Outcomes | None]) -> Outcomes | None:
        with self._sessions() as session:
            return fn(session)

    def close(self) -> None:
        """After the batches already handed over (they finish: their senders were answered or fail)."""
        self._thread.submit(self._engine.dispose)
        self._thread.shutdown(wait=False)


def _reserve(db: Connection, broadcast_id: int, n: int) -> tuple[int, int, int, int] | None:
    """The transaction's first statement: n positions and the room's lock; the room's limits with them."""
    found = (
        db.execute(
            update(CommentRoom)
            .where(CommentRoom.broadcast_id == broadcast_id)
            .values(last_position=CommentRoom.last_position + n)
            .returning(
                CommentRoom.last_position, CommentRoom.max_length, CommentRoom.rate_count, CommentRoom.rate_seconds
            )
        )
    ).one_or_none()
    return None if found is None else (int(found[0]), int(found[1]), int(found[2]), int(found[3]))


def _rules(db: Connection, broadcast_id: int, row: tuple[int, int, int, int]) -> _Rules:
    state, live_at, starts_at, slow_seconds = (
        db.execute(
            select(
                Broadcast.state,
                Broadcast.live_at,
                Broadcast.starts_at,
                select(RoomControls.slow_mode_seconds)
                .where(RoomControls.broadcast_id == broadcast_id)
                .scalar_subquery(),
            ).where(Broadcast.id == broadcast_id)
        )
    ).one()
    _, max_length, rate_count, rate_seconds = row
    return _Rules(max_length, rate_count, rate_seconds, state, live_at or starts_at, int(slow_seconds or 0), utcnow())


def _recent(db: Connection, broadcast_id: int, drafts: Sequence[Draft], rules: _Rules) -> dict[int, _Recent]:
    """Per member of the batch: count and oldest in the rate window, newest in the wider of both windows."""
    window_start = rules.now - dt.timedelta(seconds=rules.rate_seconds)
    since = rules.now - dt.timedelta(seconds=max(rules.rate_seconds, rules.slow_seconds))
    in_window = RoomComment.created_at > window_start
    rows = db.execute(
        select(
            RoomComment.member_id,
            func.count().filter(in_window),
            func.min(RoomComment.created_at).filter(in_window),
            func.max(RoomComment.created_at),
        )
        .where(
            RoomComment.broadcast_id == broadcast_id,
            RoomComment.member_id.in_({d.member_id for d in drafts}),
            RoomComment.created_at > since,
        )
        .group_by(RoomComment.member_id)
    )
    recent = {d.member_id: _Recent() for d in drafts}
    for member_id, count, oldest, latest in rows:
        recent[int(member_id)] = _Recent(int(count), oldest, latest)
    return recent


def _stored(db: Connection, broadcast_id: int, drafts: Sequence[Draft]) -> dict[tuple[int, str], _Comment]:
    """Comments of this batch's (member, ref) pairs that are already stored: resends after a lost ack."""
    keys = {(d.member_id, d.ref) for d in drafts if d.ref is not None}
    if not keys:
        return {}
    found = db.execute(_stored_query(broadcast_id, keys))
    rows = (_Comment(*r) for r in found)
    return {(c.member_id, c.ref): c for c in rows if c.ref is not None and (c.member_id, c.ref) in keys}


def _stored_query(broadcast_id: int, keys: set[tuple[int, str]]) -> Any:
    """Plain columns, not ORM objects: a rollback (nothing new in the batch) would expire those.

    Two IN lists, not a row-value IN: SQLite looks row values up by broadcast only and scans the
    room's comments; these are key lookups in (broadcast, member, ref). The caller keeps the pairs.
    """
    return select(*(getattr(RoomComment, c) for c in _COLUMNS)).where(
        RoomComment.broadcast_id == broadcast_id,
        RoomComment.member_id.in_(sorted({m for m, _ in keys})),
        RoomComment.ref.in_(sorted({r for _, r in keys})),
    )


_COLUMNS = ("broadcast_id", "position", "member_id", "text", "ref", "created_at", "offset_ms", "is_question")


@dataclass(frozen=True, slots=True)
class _Comment:
    """A comment row as plain data (`_COLUMNS` in order): an ORM instance costs far more to build."""

    broadcast_id: int
    position: int
    member_id: int
    text: str
    ref: str | None
    created_at: dt.datetime
    offset_ms: int
    is_question: bool


_Outcome = tuple[_Comment, bool] | RoomError  # (the comment acknowledged, is it a resend) or a refusal


def _decide(
    broadcast_id: int,
    base: int,
    drafts: Sequence[Draft],
    rules: _Rules,
    recent: dict[int, _Recent],
    stored: dict[tuple[int, str], _Comment],
) -> tuple[list[_Outcome], list[dict[str, Any]]]:
    """Each draft in order, as if posted alone: one outcome per draft, and the rows to insert."""
    outcomes: list[_Outcome] = []
    rows: list[dict[str, Any]] = []
    offset_ms = int((rules.now - rules.started).total_seconds() * 1000)
    for d in drafts:
        # A resend of a comment stored before (in an earlier batch or earlier in this one) is
        # acknowledged, not refused: by now the member may be at the rate limit, or the broadcast over.
        earlier = stored.get((d.member_id, d.ref)) if d.ref is not None else None
        if earlier is not None:
            outcomes.append((earlier, True))
            continue
        mine = recent[d.member_id]
        refusal = _refusal(d, rules, mine)
        if refusal is not None:
            outcomes.append(refusal)
            continue
        comment = _Comment(
            broadcast_id, base + len(rows) + 1, d.member_id, d.text, d.ref, rules.now, offset_ms, d.question
        )
        rows.append({c: getattr(comment, c) for c in _COLUMNS})
        outcomes.append((comment, False))
        if d.ref is not None:
            stored[(d.member_id, d.ref)] = comment
        mine.count, mine.oldest, mine.latest = mine.count + 1, mine.oldest or rules.now, rules.now
    return outcomes, rows


def _refusal(d: Draft, rules: _Rules, mine: _Recent) -> RoomError | None:
    if len(d.text) > rules.max_length:
        return RoomError(
            "too_long", f"コメントは{rules.max_length}文字以内で入力してください（現在{len(d.text)}文字）。"
        )
    if rules.state not in ACCEPTING:
        return RoomError("room_closed", f"この放送は現在コメントを受け付けていません（{rules.state.label}）。")
    if d.slow_mode and rules.slow_seconds and mine.latest is not None:
        wait = rules.slow_seconds - (rules.now - mine.latest).total_seconds()
        if wait > 0:
            return RoomError(
                "slow_mode",
                f"スローモード中です（{rules.slow_seconds}秒に1件）。あと{int(wait + 0.999)}秒お待ちください。",
                retry_after=round(wait, 1),
            )
    if mine.count >= rules.rate_count:
        window_start = rules.now - dt.timedelta(seconds=rules.rate_seconds)
        wait = max(1.0, (mine.oldest - window_start).total_seconds()) if mine.oldest else float(rules.rate_seconds)
        return RoomError(
            "rate_limited",
            f"コメントの投稿が多すぎます（{rules.rate_seconds}秒に{rules.rate_count}件まで）。"
            f"{int(wait + 0.999)}秒ほど待ってから送信してください。",
            retry_after=round(wait, 1),
        )
    return None
