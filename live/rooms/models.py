"""Comment rooms: one per broadcast, an append-only comment stream with gapless positions.

Boundary rules: timestamps are UTC; `position` is allocated inside the insert transaction
from `comment_rooms.last_position`, so position order is commit order on every database.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow
from core.members.models import Member

DEFAULT_MAX_LENGTH = 200
DEFAULT_RATE_COUNT = 11
DEFAULT_RATE_SECONDS = 30


class CommentRoom(Base):
    """The per-broadcast counter row (locked by each insert) and the room's limits."""

    __tablename__ = "comment_rooms"

    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True)
    last_position: Mapped[int] = mapped_column(Integer, default=0)
    max_length: Mapped[int] = mapped_column(Integer, default=DEFAULT_MAX_LENGTH)
    rate_count: Mapped[int] = mapped_column(Integer, default=DEFAULT_RATE_COUNT)
    rate_seconds: Mapped[int] = mapped_column(Integer, default=DEFAULT_RATE_SECONDS)


class RoomComment(Base):
    """One acknowledged comment; `offset_ms` is its time from the broadcast's start (archive replay)."""

    __tablename__ = "room_comments"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "position", name="uq_room_comments_position"),
        # A client resends an unacknowledged comment with the same ref after reconnecting: stored once.
        UniqueConstraint("broadcast_id", "member_id", "ref", name="uq_room_comments_ref"),
        Index("ix_room_comments_rate", "broadcast_id", "member_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(1000))
    ref: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    offset_ms: Mapped[int] = mapped_column(Integer, default=0)
    # Viewers mark a comment as a question for the host (質問); the control page queues them.
    is_question: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Hidden by a moderator: gone for viewers and the archive replay, kept (marked) for moderators.
    hidden_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), default=None)

    member: Mapped[Member] = relationship(lazy="raise", foreign_keys=[member_id])


class RoomReaction(Base):
    """Aggregated reaction totals per room and kind (拍手 etc.), flushed in batches."""

    __tablename__ = "room_reactions"

    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class RoomVisit(Base):
    """Who opened the room at least once: the archive counts members and municipalities reached."""

    __tablename__ = "room_visits"

    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
