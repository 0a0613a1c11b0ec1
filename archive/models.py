"""Recordings linked to past broadcasts. Offsets align recording time with the live start."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.media import MediaKind
from core.db import Base, UTCDateTime, utcnow
from core.enums import stored_enum
from core.members.models import Member


class Recording(Base):
    """`offset_seconds`: where the live start falls in the recording.

    A recording that started 90 s after the broadcast went live has offset -90 (the live
    start is before its 0:00); one that includes 2 minutes of lobby has offset +120.
    A comment posted t seconds after the live start shows at video time t + offset.
    """

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(100), default="")
    url: Mapped[str] = mapped_column(String(500))
    kind: Mapped[MediaKind] = mapped_column(stored_enum(MediaKind))
    video_id: Mapped[str] = mapped_column(String(40), default="")
    duration_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    offset_seconds: Mapped[int] = mapped_column(Integer, default=0)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    added_by: Mapped[Member | None] = relationship(lazy="joined")
