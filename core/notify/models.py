"""Follows, notifications, their mail deliveries (the outbox) and per-member settings.

Timestamps are UTC. A notification row is the in-app entry; a delivery row is one mail to
send, claimed by exactly one worker (`claimed_by`) and marked `sent` after the SMTP server
accepted it. Settings rows exist only for members who changed something.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow
from core.enums import LabelledEnum, stored_enum

#: Ids in the API are SQL integers: anything outside this range cannot name a row.
MAX_ID = 2**31 - 1


class Kind(LabelledEnum):
    PROGRAM_LIVE = "program_live", "フォロー中の番組の放送開始"
    PROGRAM_REMINDER = "program_reminder", "フォロー中の番組の開始前リマインダー"
    SESSION_REMINDER = "session_reminder", "申し込んだ勉強会のリマインダー（前日・1時間前）"
    QUESTION_ANSWERED = "question_answered", "自分の質問への回答"
    QUESTION_DISMISSED = "question_dismissed", "自分の質問の見送り（理由つき）"
    QUESTION_MERGED = "question_merged", "自分の質問の統合"
    FAQ_PUBLISHED = "faq_published", "FAQ資料の公開・改訂（フォロー中・参加した勉強会、フォロー中の課）"
    SIGNUP_PENDING = "signup_pending", "承認待ちの登録申請（運営）"
    REPORT_RECEIVED = "report_received", "担当する放送への通報（モデレーター）"


KIND_LABELS = {kind: kind.label for kind in Kind}

#: Defaults for members who changed nothing: everything in the app; mail for what concerns
#: the member personally. Go-live and reminder mails are opt-in (the bell covers them).
DEFAULT_MAIL_OFF = frozenset({Kind.PROGRAM_LIVE, Kind.PROGRAM_REMINDER})


class Target(LabelledEnum):
    PROGRAM = "program", "番組"
    PERSONALITY = "personality", "パーソナリティ"
    SECTION = "section", "課"
    SERIES = "series", "勉強会シリーズ"


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # waiting for next_attempt_at (quiet hours and retries hold it here)
    SENDING = "sending"  # claimed by a worker; if the worker dies, it is reclaimed later
    SENT = "sent"
    DIGEST = "digest"  # waiting for the member's daily digest
    DIGESTED = "digested"  # went out inside a digest (digest_id)
    DROPPED = "dropped"  # member suspended or mail turned off before sending
    FAILED = "failed"  # gave up after MAX_ATTEMPTS


class Follow(Base):
    __tablename__ = "notify_follows"
    __table_args__ = (
        UniqueConstraint("member_id", "target", "target_id"),
        Index("ix_notify_follows_target", "target", "target_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    target: Mapped[Target] = mapped_column(stored_enum(Target, length=30))
    target_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        # One notification per member per event: replays and racing schedulers insert nothing twice.
        UniqueConstraint("member_id", "event_key"),
        Index("ix_notifications_member_id_id", "member_id", "id"),
        Index("ix_notifications_created_at", "created_at"),
        Index("ix_notifications_event_key", "event_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[Kind] = mapped_column(stored_enum(Kind, length=30))
    event_key: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(500), default="")
    in_app: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class Delivery(Base):
    __tablename__ = "notify_deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id"),
        Index("ix_notify_deliveries_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL"), default=None
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # a Kind, or "digest"
    state: Mapped[DeliveryState] = mapped_column(stored_enum(DeliveryState, length=30), default=DeliveryState.PENDING)
    subject: Mapped[str] = mapped_column(String(300), default="")  # digests carry their own text
    body: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(80), default=None)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    digest_id: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class KindPref(Base):
    """A member's choice for one kind (absent: the default)."""

    __tablename__ = "notify_prefs"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[Kind] = mapped_column(stored_enum(Kind, length=30), primary_key=True)
    app: Mapped[bool] = mapped_column(Boolean, default=True)
    mail: Mapped[bool] = mapped_column(Boolean, default=True)


class MemberSettings(Base):
    """Lead time, digest and quiet hours ("HH:MM" Asia/Tokyo; both None: no quiet hours)."""

    __tablename__ = "notify_settings"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    lead_minutes: Mapped[int] = mapped_column(Integer, default=10)
    digest: Mapped[bool] = mapped_column(Boolean, default=False)
    # No column default: None means "no quiet hours" (a member without a row gets 22:00–07:00).
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    digest_sent_on: Mapped[str | None] = mapped_column(String(10), default=None)  # JST date of the last digest
