"""Programs (番組) and their broadcasts (one per occurrence). Timestamps are UTC; recurrence is Asia/Tokyo."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow
from core.members.models import Member
from core.sections import Section


class BroadcastState(enum.StrEnum):
    """scheduled -> open (lobby) -> live -> ended, or cancelled."""

    SCHEDULED = "scheduled"
    OPEN = "open"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return {
            "scheduled": "予定",
            "open": "まもなく開始",
            "live": "放送中",
            "ended": "終了",
            "cancelled": "中止",
        }[self]


class Program(Base):
    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    section_id: Mapped[int | None] = mapped_column(ForeignKey("sections.id", ondelete="SET NULL"), default=None)
    personality_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), default=None)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    lobby_minutes: Mapped[int] = mapped_column(Integer, default=10)
    stream_url: Mapped[str] = mapped_column(String(500), default="")
    rrule: Mapped[str] = mapped_column(Text, default="")
    dtstart: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    skip_holidays: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    section: Mapped[Section | None] = relationship(lazy="joined")
    personality: Mapped[Member | None] = relationship(lazy="joined")


class Broadcast(Base):
    """One occurrence of a program (or a one-off), with its own state machine and comment room."""

    __tablename__ = "broadcasts"
    __table_args__ = (UniqueConstraint("program_id", "occurrence_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_id: Mapped[int | None] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"), default=None)
    # The occurrence's original start from the recurrence rule, even if it was moved.
    occurrence_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    personality_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), default=None)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    opens_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    state: Mapped[BroadcastState] = mapped_column(
        Enum(BroadcastState, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=BroadcastState.SCHEDULED,
        index=True,
    )
    stream_url: Mapped[str] = mapped_column(String(500), default="")
    opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    live_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    program: Mapped[Program | None] = relationship(lazy="joined")
    personality: Mapped[Member | None] = relationship(lazy="joined")
