"""課 (sections): groups of members sharing an interest; programs and study series belong to one."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow
from core.members.models import Member


class SectionKind(enum.StrEnum):
    WORK = "work"
    SKILL = "skill"
    HOBBY = "hobby"

    @property
    def label(self) -> str:
        return {"work": "仕事直結型", "skill": "共通スキル育成型", "hobby": "趣味・サークル型"}[self]


class Section(Base):
    __tablename__ = "sections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[SectionKind] = mapped_column(
        Enum(SectionKind, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    description: Mapped[str] = mapped_column(Text, default="")
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    leader: Mapped[Member | None] = relationship(lazy="joined")
