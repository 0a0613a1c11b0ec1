"""A comment on its way to the writer (`Draft`), and how a batch of them is decided.

The reads a batch is checked against (the room's limits and state, the batch's members' recent
comments, the refs already stored) and `decide`, which takes each draft in arrival order as if
posted alone. No writing here: `live.rooms.posting` runs these inside its write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from core.db import utcnow
from core.members.models import Member
from core.text import clean_line
from live.errors import RoomError
from live.models import Broadcast, BroadcastState
from live.moderation.models import RoomControls
from live.rooms.models import CommentRoom, RoomComment
from live.rooms.service import ACCEPTING


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


@dataclass(slots=True)
class Recent:
    """One member's comments in the rate window, kept current while the batch is decided."""

    count: int = 0
    oldest: dt.datetime | None = None  # oldest inside the rate window
    latest: dt.datetime | None = None  # newest inside the rate/slow-mode window


@dataclass(slots=True)
class Rules:
    max_length: int
    rate_count: int
    rate_seconds: int
    state: BroadcastState
    started: dt.datetime  # live_at, else starts_at: offsets count from here
    slow_seconds: int
    now: dt.datetime


def read_rules(db: Connection, broadcast_id: int) -> Rules | None:
    """The room's limits, the broadcast's state and slow mode (None: no comment room yet)."""
    found = db.execute(
        select(
            CommentRoom.max_length,
            CommentRoom.rate_count,
            CommentRoom.rate_seconds,
            Broadcast.state,
            Broadcast.live_at,
            Broadcast.starts_at,
            select(RoomControls.slow_mode_seconds).where(RoomControls.broadcast_id == broadcast_id).scalar_subquery(),
        )
        .join(Broadcast, Broadcast.id == CommentRoom.broadcast_id)
        .where(CommentRoom.broadcast_id == broadcast_id)
    ).one_or_none()
    if found is None:
        return None
    max_length, rate_count, rate_seconds, state, live_at, starts_at, slow_seconds = found
    return Rules(
        int(max_length),
        int(rate_count),
        int(rate_seconds),
        state,
        live_at or starts_at,
        int(slow_seconds or 0),
        utcnow(),
    )


def recent_comments(db: Connection, broadcast_id: int, drafts: Sequence[Draft], rules: Rules) -> dict[int, Recent]:
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
    recent = {d.member_id: Recent() for d in drafts}
    for member_id, count, oldest, latest in rows:
        recent[int(member_id)] = Recent(int(count), oldest, latest)
    return recent


def stored_refs(db: Connection, broadcast_id: int, drafts: Sequence[Draft]) -> dict[tuple[int, str], Comment]:
    """Comments of this batch's (member, ref) pairs that are already stored: resends after a lost ack."""
    keys = {(d.member_id, d.ref) for d in drafts if d.ref is not None}
    if not keys:
        return {}
    found = db.execute(stored_query(broadcast_id, keys))
    rows = (Comment(*r) for r in found)
    return {(c.member_id, c.ref): c for c in rows if c.ref is not None and (c.member_id, c.ref) in keys}


def stored_query(broadcast_id: int, keys: set[tuple[int, str]]) -> Any:
    """Plain columns, not ORM objects: a rollback (nothing new in the batch) would expire those.

    Two IN lists, not a row-value IN: SQLite looks row values up by broadcast only and scans the
    room's comments; these are key lookups in (broadcast, member, ref). The caller keeps the pairs.
    """
    return select(*(getattr(RoomComment, c) for c in COLUMNS)).where(
        RoomComment.broadcast_id == broadcast_id,
        RoomComment.member_id.in_(sorted({m for m, _ in keys})),
        RoomComment.ref.in_(sorted({r for _, r in keys})),
    )


COLUMNS = ("broadcast_id", "position", "member_id", "text", "ref", "created_at", "offset_ms", "is_question")


@dataclass(slots=True)
class Comment:
    """A comment row as plain data (`COLUMNS` in order): an ORM instance costs far more to build.

    Mutable for one reason: a write that learns its positions only when it inserts
    (`live.rooms.posting`) moves this batch's new comments into place.
    """

    broadcast_id: int
    position: int
    member_id: int
    text: str
    ref: str | None
    created_at: dt.datetime
    offset_ms: int
    is_question: bool

    def row(self) -> dict[str, Any]:
        return {c: getattr(self, c) for c in COLUMNS}


Outcome = tuple[Comment, bool] | RoomError  # (the comment acknowledged, is it a resend) or a refusal


def decide(
    broadcast_id: int,
    base: int,
    drafts: Sequence[Draft],
    rules: Rules,
    recent: dict[int, Recent],
    stored: dict[tuple[int, str], Comment],
) -> tuple[list[Outcome], list[Comment]]:
    """Each draft in order, as if posted alone: one outcome per draft, and the new comments to insert
    (at base + 1, base + 2, ...; a resend later in the batch is answered with the same object)."""
    outcomes: list[Outcome] = []
    new: list[Comment] = []
    offset_ms = int((rules.now - rules.started).total_seconds() * 1000)
    for d in drafts:
        # A resend of a comment stored before (in an earlier batch or earlier in this one) is
        # acknowledged, not refused: by now the member may be at the rate limit, or the broadcast over.
        earlier = stored.get((d.member_id, d.ref)) if d.ref is not None else None
        if earlier is not None:
            outcomes.append((earlier, True))
            continue
        mine = recent[d.member_id]
        refused = refusal(d, rules, mine)
        if refused is not None:
            outcomes.append(refused)
            continue
        comment = Comment(
            broadcast_id, base + len(new) + 1, d.member_id, d.text, d.ref, rules.now, offset_ms, d.question
        )
        new.append(comment)
        outcomes.append((comment, False))
        if d.ref is not None:
            stored[(d.member_id, d.ref)] = comment
        mine.count, mine.oldest, mine.latest = mine.count + 1, mine.oldest or rules.now, rules.now
    return outcomes, new


def refusal(d: Draft, rules: Rules, mine: Recent) -> RoomError | None:
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
