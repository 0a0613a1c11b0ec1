"""Moderation state: who moderates a program, room controls, sanctions, blocked words, held
comments, reports and the audit log. Timestamps are UTC."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow
from core.enums import LabelledEnum, stored_enum
from core.members.models import Member
from live.models import ProgramModerator as ProgramModerator  # moved next to Program (live.access reads it)


class RoomControls(Base):
    """Per-broadcast switches the host and moderators flip during a show."""

    __tablename__ = "room_controls"

    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True)
    slow_mode_seconds: Mapped[int] = mapped_column(Integer, default=0)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    comments_off: Mapped[bool] = mapped_column(Boolean, default=False)
    delay_seconds: Mapped[int] = mapped_column(Integer, default=0)
    pinned_text: Mapped[str] = mapped_column(Text, default="")
    picked_position: Mapped[int | None] = mapped_column(Integer, default=None)


class SanctionKind(LabelledEnum):
    TIMEOUT = "timeout", "タイムアウト"
    BAN = "ban", "禁止"


class SanctionScope(LabelledEnum):
    PROGRAM = "program", "この番組"
    SITE = "site", "全放送"


class Sanction(Base):
    """A timeout (always bounded) or a ban (of one program's broadcasts, or of all)."""

    __tablename__ = "sanctions"
    __table_args__ = (Index("ix_sanctions_member_active", "member_id", "lifted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[SanctionKind] = mapped_column(stored_enum(SanctionKind))
    scope: Mapped[SanctionScope] = mapped_column(stored_enum(SanctionScope))
    program_id: Mapped[int | None] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"), default=None)
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id", ondelete="SET NULL"), default=None)
    until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), default=None)

    member: Mapped[Member] = relationship(foreign_keys=[member_id], lazy="joined")

    @property
    def label(self) -> str:
        """As the control page lists it: タイムアウト, 禁止（この番組）, 禁止（全放送）."""
        return self.kind.label + (f"（{self.scope.label}）" if self.kind is SanctionKind.BAN else "")


class WordAction(LabelledEnum):
    REFUSE = "refuse", "拒否"
    HOLD = "hold", "保留して確認"


class BlockedWord(Base):
    """A word refused or held for review, site-wide (program_id NULL) or in one program."""

    __tablename__ = "blocked_words"
    __table_args__ = (UniqueConstraint("program_id", "normalized"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_id: Mapped[int | None] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"), default=None)
    word: Mapped[str] = mapped_column(String(50))
    normalized: Mapped[str] = mapped_column(String(50))
    action: Mapped[WordAction] = mapped_column(stored_enum(WordAction))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class HeldStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class HeldComment(Base):
    """A comment that matched a hold rule: kept (never lost) until a moderator decides."""

    __tablename__ = "held_comments"
    __table_args__ = (
        Index("ix_held_comments_room_status", "broadcast_id", "status"),
        UniqueConstraint("broadcast_id", "member_id", "ref", name="uq_held_comments_ref"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(1000))
    matched_word: Mapped[str] = mapped_column(String(50), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[HeldStatus] = mapped_column(stored_enum(HeldStatus), default=HeldStatus.PENDING)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), default=None)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # The position the comment got in the room when approved.
    position: Mapped[int | None] = mapped_column(Integer, default=None)
    # The client's ref: a resend after a reconnect is held once, not twice.
    ref: Mapped[str | None] = mapped_column(String(64), default=None)

    member: Mapped[Member] = relationship(foreign_keys=[member_id], lazy="joined")


class CommentReport(Base):
    """A viewer's report of a comment; shown on the control page until handled."""

    __tablename__ = "comment_reports"
    __table_args__ = (UniqueConstraint("broadcast_id", "position", "reporter_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)

    reporter: Mapped[Member] = relationship(lazy="joined")


class ModerationAction(Base):
    """The audit log: every moderation action, who did it, to whom, when and why."""

    __tablename__ = "moderation_actions"
    __table_args__ = (Index("ix_moderation_actions_broadcast", "broadcast_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"), default=None)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), default=None)
    action: Mapped[str] = mapped_column(String(30))
    target_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), default=None)
    target_position: Mapped[int | None] = mapped_column(Integer, default=None)
    detail: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[Member | None] = relationship(foreign_keys=[actor_id], lazy="joined")
    target_member: Mapped[Member | None] = relationship(foreign_keys=[target_member_id], lazy="joined")


class ViewerSample(Base):
    """Viewer count of a broadcast over time (recorded by one process's room hub every ~30 s)."""

    __tablename__ = "viewer_samples"

    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    viewers: Mapped[int] = mapped_column(Integer)
