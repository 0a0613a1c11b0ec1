"""Tables of 課: the 課 itself, its members (課長 and deputies), and proposals with their supporters."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from core.db import Base, UTCDateTime, utcnow
from core.enums import LabelledEnum, stored_enum
from core.members.models import Member
from core.sections.names import section_key


class SectionKind(LabelledEnum):
    WORK = "work", "仕事直結型"
    SKILL = "skill", "共通スキル育成型"
    HOBBY = "hobby", "趣味・サークル型"


class SectionStatus(LabelledEnum):
    ACTIVE = "active", "活動中"
    ARCHIVED = "archived", "アーカイブ済み"
    MERGED = "merged", "統合済み"


class Section(Base):
    __tablename__ = "sections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    # NFKC + case-folded name without spaces: 「動画課」 and 「動画 課」 are the same 課.
    name_key: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[SectionKind] = mapped_column(stored_enum(SectionKind))
    description: Mapped[str] = mapped_column(Text, default="")
    # The 課長; they also have a membership row.
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), default=None)
    status: Mapped[SectionStatus] = mapped_column(stored_enum(SectionStatus), default=SectionStatus.ACTIVE, index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("sections.id"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    leader: Mapped[Member | None] = relationship(lazy="joined", foreign_keys=[leader_id])

    @validates("name")
    def _keep_key(self, _: str, value: str) -> str:
        self.name_key = section_key(value)
        return value

    @property
    def is_active(self) -> bool:
        return self.status is SectionStatus.ACTIVE


class SectionMembership(Base):
    __tablename__ = "section_members"

    section_id: Mapped[int] = mapped_column(ForeignKey("sections.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True)
    deputy: Mapped[bool] = mapped_column(Boolean, default=False)
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    member: Mapped[Member] = relationship(lazy="joined")


class ProposalStatus(LabelledEnum):
    OPEN = "open", "賛同募集中"
    FOUNDED = "founded", "設立済み"
    WITHDRAWN = "withdrawn", "取り下げ"


class SectionProposal(Base):
    """A 課 that a founder proposes; it founds itself when enough members support it."""

    __tablename__ = "section_proposals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    # The name key while the proposal is open, NULL afterwards: two open proposals can't share a name.
    open_key: Mapped[str | None] = mapped_column(String(60), unique=True, default=None)
    kind: Mapped[SectionKind] = mapped_column(stored_enum(SectionKind))
    purpose: Mapped[str] = mapped_column(Text)
    founder_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    status: Mapped[ProposalStatus] = mapped_column(stored_enum(ProposalStatus), default=ProposalStatus.OPEN, index=True)
    section_id: Mapped[int | None] = mapped_column(ForeignKey("sections.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    founded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    founder: Mapped[Member] = relationship(lazy="joined")


class ProposalSupport(Base):
    __tablename__ = "section_proposal_supports"

    proposal_id: Mapped[int] = mapped_column(ForeignKey("section_proposals.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    member: Mapped[Member] = relationship(lazy="joined")
