"""Storing a batch of comments: checked against the room's rules, stored at once, positions gapless.

Positions come from `comment_rooms.last_position`, whose row is the room's lock: writers of every
process queue there, so positions are gapless, unique and in commit order. Every comment is
decided in Python (`live.rooms.drafts.decide`), in arrival order, as if posted one after another:
accepted ones take the next positions, a refused one only gets its own `RoomError`.

Two ways to hold that lock, one per database:

- PostgreSQL (`_write_in_one_statement`): the reads first (limits and state, the members'
  recent comments, refs already stored), then ONE statement reserves the positions, inserts
  the rows and re-checks under the lock that the broadcast still accepts comments, then the
  COMMIT. The lock lasts that statement and one round trip, on the writer thread
  (`core.writer_threads`), so the writers of several processes hardly wait for each other.
  Read before the lock, a member posting through two processes at the same instant may pass
  the rate limit by one; a resend racing its own original hits the unique (member, ref) key
  and fails its batch, whose senders resend and are answered with the stored comment.
- SQLite, and PostgreSQL when a room has no comment row yet or just closed (`_write`): one
  transaction that takes the lock first (`UPDATE ... RETURNING`), reads under it, cuts the
  reservation back to what it accepts, inserts and commits. SQLite has one writer anyway,
  and this runs on its writer thread in one hop.

Any failure stores nothing and uses no position. The caller acknowledges and publishes only
what `write_batch` returns, after it returned.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import insert, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core.members.models import Member
from live.errors import RoomError
from live.rooms.drafts import (
    Comment,
    Draft,
    Outcome,
    Rules,
    decide,
    draft,
    read_rules,
    recent_comments,
    stored_refs,
)
from live.rooms.models import CommentRoom, RoomComment
from live.rooms.service import ACCEPTING, Posted, encode_item, room_info

__all__ = ["Draft", "Outcomes", "draft", "post_comment", "write_batch"]


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


Outcomes = list[Posted | RoomError]
#: Runs a blocking function with a session: `AsyncSession.run_sync`, or a writer thread's (`core.writer_threads`).
Runner = Callable[[Callable[[Session], Outcomes | None]], Awaitable[Outcomes | None]]


async def write_batch(
    db: AsyncSession, broadcast_id: int, drafts: Sequence[Draft], run: Runner | None = None
) -> Outcomes:
    """Store the acceptable drafts; one outcome per draft, in the same order.

    The write is blocking code run by `run`, by default on `db` (`run_sync`); `db` itself
    serves only to create the comment room on first use.
    """
    runner = run or db.run_sync
    outcomes = None
    if db.get_bind().dialect.name == "postgresql":
        outcomes = await runner(functools.partial(_write_in_one_statement, broadcast_id=broadcast_id, drafts=drafts))
    if outcomes is None:
        write = functools.partial(_write, broadcast_id=broadcast_id, drafts=drafts)
        outcomes = await runner(write)
        if outcomes is None:  # no comment room yet (created on first use), or no such broadcast
            if await room_info(db, broadcast_id) is None:
                return [RoomError("room_not_found", "この放送は見つかりません。") for _ in drafts]
            outcomes = await runner(write)
            assert outcomes is not None, "room_info created the comment room"
    return outcomes


def _write(session: Session, broadcast_id: int, drafts: Sequence[Draft]) -> Outcomes | None:
    """Lock, read, decide, insert, commit: one transaction (None: the room has no comment row yet)."""
    # Core statements on the session's connection: the ORM's execution layer (identity map,
    # execute events, ORM result setup) costs more than the statements and is not needed here.
    db = session.connection()
    n = len(drafts)
    try:
        last = _reserve(db, broadcast_id, n)
        rules = read_rules(db, broadcast_id) if last is not None else None
        if last is None or rules is None:
            session.rollback()
            return None
        recent = recent_comments(db, broadcast_id, drafts, rules)
        stored = stored_refs(db, broadcast_id, drafts)
        outcomes, new = decide(broadcast_id, last - n, drafts, rules, recent, stored)
        if new:
            if len(new) < n:  # cut the reservation back to what is stored
                db.execute(
                    update(CommentRoom)
                    .where(CommentRoom.broadcast_id == broadcast_id)
                    .values(last_position=last - n + len(new))
                )
            db.execute(insert(RoomComment), [c.row() for c in new])
            session.commit()
        else:
            session.rollback()  # nothing new: gives the reservation back
    except BaseException:
        session.rollback()  # gives the positions back: positions stay gapless
        raise
    return _posted(outcomes, drafts)


def _reserve(db: Connection, broadcast_id: int, n: int) -> int | None:
    """The transaction's first statement: n positions and the room's lock (the new last position)."""
    found = db.execute(
        update(CommentRoom)
        .where(CommentRoom.broadcast_id == broadcast_id)
        .values(last_position=CommentRoom.last_position + n)
        .returning(CommentRoom.last_position)
    ).scalar_one_or_none()
    return None if found is None else int(found)


#: Reserves the positions under the room's row lock and inserts the accepted rows in array order
#: (position = the reservation's base + ordinality), if the broadcast still accepts comments.
_APPEND = text(
    """
    WITH reserved AS (
        UPDATE comment_rooms SET last_position = last_position + CAST(:n AS integer)
        WHERE broadcast_id = CAST(:broadcast_id AS integer)
          AND EXISTS (
              SELECT 1 FROM broadcasts
              WHERE id = CAST(:broadcast_id AS integer) AND state = ANY(CAST(:accepting AS varchar[]))
          )
        RETURNING last_position - CAST(:n AS integer) AS base
    )
    INSERT INTO room_comments (broadcast_id, position, member_id, text, ref, created_at, offset_ms, is_question)
    SELECT CAST(:broadcast_id AS integer), reserved.base + row.k, row.member_id, row.text, row.ref,
           CAST(:created_at AS timestamptz), CAST(:offset_ms AS integer), row.is_question
    FROM reserved, unnest(
        CAST(:members AS integer[]), CAST(:texts AS varchar[]), CAST(:refs AS varchar[]), CAST(:questions AS boolean[])
    ) WITH ORDINALITY AS row(member_id, text, ref, is_question, k)
    RETURNING position
    """
)


def _write_in_one_statement(session: Session, broadcast_id: int, drafts: Sequence[Draft]) -> Outcomes | None:
    """PostgreSQL: read, decide, then one statement under the lock (None: take the locked path)."""
    db = session.connection()
    try:
        rules = read_rules(db, broadcast_id)
        if rules is None or rules.state not in ACCEPTING:
            session.rollback()
            return None  # no comment room yet, or closed: the locked path says so precisely
        recent = recent_comments(db, broadcast_id, drafts, rules)
        stored = stored_refs(db, broadcast_id, drafts)
        outcomes, new = decide(broadcast_id, 0, drafts, rules, recent, stored)  # positions 1..len(new) for now
        if not new:
            session.rollback()
            return _posted(outcomes, drafts)
        taken = sorted(int(p) for p in db.execute(_APPEND, _append_parameters(broadcast_id, rules, new)).scalars())
        if len(taken) != len(new):
            session.rollback()
            return None  # closed between the reads and the lock: nothing was stored
        session.commit()  # the lock is held from the statement above to here: one round trip
    except BaseException:
        session.rollback()
        raise
    for comment in new:  # into the reserved positions (resends in this batch share these objects)
        comment.position += taken[0] - 1
    return _posted(outcomes, drafts)


#: The broadcast states that take comments, as stored (the statement re-checks them under the lock).
_ACCEPTING_VALUES = sorted(state.value for state in ACCEPTING)


def _append_parameters(broadcast_id: int, rules: Rules, new: list[Comment]) -> dict[str, Any]:
    return {
        "n": len(new),
        "broadcast_id": broadcast_id,
        "accepting": _ACCEPTING_VALUES,
        "created_at": rules.now,
        "offset_ms": new[0].offset_ms,
        "members": [c.member_id for c in new],
        "texts": [c.text for c in new],
        "refs": [c.ref for c in new],
        "questions": [c.is_question for c in new],
    }


def _posted(outcomes: list[Outcome], drafts: Sequence[Draft]) -> Outcomes:
    committed = time.time()
    return [
        o
        if isinstance(o, RoomError)
        else Posted(o[0].position, encode_item(o[0], d.name, d.affiliation), committed, o[1])
        for o, d in zip(outcomes, drafts, strict=True)
    ]
