"""Tables for members and their credentials. Secrets are stored only as hashes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow
from core.enums import LabelledEnum, stored_enum


class Role(LabelledEnum):
    """Site-wide roles, from least to most powerful."""

    MEMBER = "member", "メンバー"
    HOST = "host", "ホスト"
    MODERATOR = "moderator", "モデレーター"
    OPERATOR = "operator", "運営"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class Status(LabelledEnum):
    PENDING = "pending", "承認待ち"
    APPROVED = "approved", "承認済み"
    REJECTED = "rejected", "却下"
    SUSPENDED = "suspended", "利用停止"


class OrgKind(LabelledEnum):
    MUNICIPALITY = "municipality", "自治体"
    MINISTRY = "ministry", "省庁"


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # ふりがな, stored in hiragana so a katakana or hiragana query finds it.
    reading: Mapped[str] = mapped_column(String(100), default="")
    org_kind: Mapped[OrgKind] = mapped_column(stored_enum(OrgKind))
    organisation: Mapped[str] = mapped_column(String(100))
    department: Mapped[str] = mapped_column(String(100))
    prefecture: Mapped[str] = mapped_column(String(10))
    interests: Mapped[str] = mapped_column(Text, default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(stored_enum(Role), default=Role.MEMBER)
    status: Mapped[Status] = mapped_column(stored_enum(Status), default=Status.PENDING, index=True)
    review_reason: Mapped[str | None] = mapped_column(Text, default=None)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_active(self) -> bool:
        return self.status is Status.APPROVED

    def has_role(self, role: Role) -> bool:
        return self.is_active and self.role.rank >= role.rank

    @property
    def affiliation(self) -> str:
        """What other members see beside the name, e.g. 横浜市 健康福祉局."""
        return f"{self.organisation} {self.department}".strip()


class LoginSession(Base):
    """A browser session; the cookie carries the raw token, the table its SHA-256."""

    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    member: Mapped[Member] = relationship(lazy="joined")


class ApiToken(Base):
    """A personal token for scripts and integrations (Authorization: Bearer)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    member: Mapped[Member] = relationship(lazy="joined")


class PasswordReset(Base):
    __tablename__ = "password_resets"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class AuthAttempt(Base):
    """Failed logins and reset requests, counted per key to rate-limit across processes."""

    __tablename__ = "auth_attempts"
    __table_args__ = (Index("ix_auth_attempts_kind_key_at", "kind", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(300))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginThrottle(Base):
    """Failed logins per key and when the next attempt is allowed (core.members.throttle)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class MemberChange(Base):
    """One changed profile field (name, organisation, ...) with its old and new value, for operators."""

    __tablename__ = "member_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(30))
    old_value: Mapped[str] = mapped_column(String(200))
    new_value: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), default=None)


class EmailChange(Base):
    """A pending new address; it takes effect when the link mailed to it is opened."""

    __tablename__ = "email_changes"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    new_email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
