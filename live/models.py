"""Programs (番組) and their broadcasts (one per occurrence). Timestamps are UTC; recurrence is Asia/Tokyo."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow
from core.enums import LabelledEnum, stored_enum
from core.members.models import Member
from core.sections import Section
from core.timefmt import WEEKDAYS, to_jst


class BroadcastState(LabelledEnum):
    """scheduled -> open (lobby) -> live -> ended, or cancelled."""

    SCHEDULED = "scheduled", "予定"
    OPEN = "open", "まもなく開始"
    LIVE = "live", "放送中"
    ENDED = "ended", "終了"
    CANCELLED = "cancelled", "中止"


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
    # IANA zone the RRULE is expanded in (wall-clock times stay put across DST).
    timezone: Mapped[str] = mapped_column(String(50), default="Asia/Tokyo")
    # Programs created together by the daily-rotation form share this label (e.g. "お昼の庁内放送").
    rotation: Mapped[str] = mapped_column(String(100), default="", index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    section: Mapped[Section | None] = relationship(lazy="joined")
    personality: Mapped[Member | None] = relationship(lazy="joined")
    guests: Mapped[list[ProgramGuest]] = relationship(
        lazy="selectin", order_by="ProgramGuest.position", cascade="all, delete-orphan"
    )


class ProgramGuest(Base):
    """A guest of every occurrence: a member, or a named outsider (member_id is None)."""

    __tablename__ = "program_guests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), default=None)
    name: Mapped[str] = mapped_column(String(100), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)

    member: Mapped[Member | None] = relationship(lazy="joined")

    @property
    def display_name(self) -> str:
        return self.member.name if self.member else self.name


class ProgramModerator(Base):
    """A member named as moderator of one program (besides its personality and site moderators)."""

    __tablename__ = "program_moderators"

    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)


class ExceptionKind(LabelledEnum):
    CANCEL = "cancel", "中止"
    SUBSTITUTE = "substitute", "代役"
    MOVE = "move", "日時変更"


class ProgramException(Base):
    """A change to one occurrence, keyed by its original start from the rule."""

    __tablename__ = "program_exceptions"
    __table_args__ = (UniqueConstraint("program_id", "occurrence_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"), index=True)
    occurrence_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    kind: Mapped[ExceptionKind] = mapped_column(stored_enum(ExceptionKind))
    # Substitute personality (substitute; optional for move).
    personality_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), default=None)
    # New start of a moved occurrence (UTC); it keeps the program's duration.
    starts_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    personality: Mapped[Member | None] = relationship(lazy="joined", foreign_keys=[personality_id])


class CalendarFeedToken(Base):
    """The secret of a member's private calendar links: the link carries HMAC(secret_key, member, nonce).

    Only the nonce is stored; revoking replaces it, which invalidates every link at once.
    """

    __tablename__ = "calendar_feed_tokens"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SchedulerLease(Base):
    """Who may run the scheduler (the database lease used when there is no Redis)."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


def time_range(start: dt.datetime, end: dt.datetime) -> str:
    """21:00〜22:00 in Asia/Tokyo (a broadcast's, or a planned one's)."""
    return f"{to_jst(start):%H:%M}〜{to_jst(end):%H:%M}"


def day_label(start: dt.datetime) -> str:
    """11月27日(金) in Asia/Tokyo."""
    local = to_jst(start)
    return f"{local.month}月{local.day}日({WEEKDAYS[local.weekday()]})"


class ShownTimes:
    """How the schedule words a start and an end: a stored broadcast's, or a planned one's."""

    __slots__ = ()

    if TYPE_CHECKING:  # provided by the class this is mixed into (a column, or a dataclass field)

        @property
        def starts_at(self) -> dt.datetime: ...

        @property
        def ends_at(self) -> dt.datetime: ...

    @property
    def time_range(self) -> str:
        return time_range(self.starts_at, self.ends_at)

    @property
    def day_label(self) -> str:
        return day_label(self.starts_at)


class Broadcast(Base, ShownTimes):
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
        stored_enum(BroadcastState),
        default=BroadcastState.SCHEDULED,
        index=True,
    )
    stream_url: Mapped[str] = mapped_column(String(500), default="")
    opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    live_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Why this occurrence differs from the rule (代役, 日時変更, 祝日のため休止 …).
    note: Mapped[str] = mapped_column(String(200), default="")

    program: Mapped[Program | None] = relationship(lazy="joined")
    personality: Mapped[Member | None] = relationship(lazy="joined")

    @property
    def guests(self) -> list[ProgramGuest]:
        return list(self.program.guests) if self.program else []
