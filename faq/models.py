"""Study series, sessions, the live Q&A board, topic requests, FAQ documents and their search index.

Timestamps are UTC. A question is never deleted: merging and dismissing change its status.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow
from core.enums import LabelledEnum, stored_enum
from core.members.models import Member
from core.sections import Section
from live.public import Broadcast


class SessionState(LabelledEnum):
    SCHEDULED = "scheduled", "開催予定"
    LIVE = "live", "開催中"
    ENDED = "ended", "終了"


class QuestionStatus(LabelledEnum):
    PENDING = "pending", "承認待ち"  # waiting in the pre-moderation queue
    OPEN = "open", "受付中"
    ANSWERED = "answered", "回答済み"
    DISMISSED = "dismissed", "見送り"
    MERGED = "merged", "統合済み"


DEFAULT_CATEGORIES = (
    "予約・受付",
    "会場運営",
    "接種券・通知",
    "副反応・医療",
    "体制・人員",
    "財政・予算",
    "広報・周知",
    "その他",
)


class StudySeries(Base):
    __tablename__ = "faq_series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    section_id: Mapped[int | None] = mapped_column(ForeignKey("sections.id", ondelete="SET NULL"), default=None)
    categories: Mapped[str] = mapped_column(Text, default="")  # one per line; questions pick one
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    section: Mapped[Section | None] = relationship(lazy="joined")

    @property
    def category_list(self) -> list[str]:
        return [c.strip() for c in self.categories.splitlines() if c.strip()] or list(DEFAULT_CATEGORIES)


class SeriesOrganiser(Base):
    __tablename__ = "faq_series_organisers"

    series_id: Mapped[int] = mapped_column(ForeignKey("faq_series.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    member: Mapped[Member] = relationship(lazy="joined")


class StudySession(Base):
    """One session of a series: linked to a broadcast, or standalone with its own meeting link."""

    __tablename__ = "faq_sessions"
    __table_args__ = (UniqueConstraint("series_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("faq_series.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id", ondelete="SET NULL"), default=None)
    meeting_url: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[SessionState] = mapped_column(stored_enum(SessionState), default=SessionState.SCHEDULED)
    premoderation: Mapped[bool] = mapped_column(Boolean, default=False)
    # The board's stream position: bumped on every change, copied onto the changed question.
    position: Mapped[int] = mapped_column(Integer, default=0)
    answering_id: Mapped[int | None] = mapped_column(Integer, default=None)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    series: Mapped[StudySeries] = relationship(lazy="joined")
    broadcast: Mapped[Broadcast | None] = relationship(lazy="raise")


class Registration(Base):
    __tablename__ = "faq_registrations"

    session_id: Mapped[int] = mapped_column(ForeignKey("faq_sessions.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Question(Base):
    __tablename__ = "faq_questions"
    __table_args__ = (Index("ix_faq_questions_session_position", "session_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("faq_sessions.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    category: Mapped[str] = mapped_column(String(40), default="")
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[QuestionStatus] = mapped_column(stored_enum(QuestionStatus), default=QuestionStatus.OPEN)
    answer: Mapped[str] = mapped_column(Text, default="")
    dismiss_reason: Mapped[str] = mapped_column(Text, default="")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("faq_questions.id"), default=None)
    votes: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)

    author: Mapped[Member] = relationship(lazy="joined")


class QuestionAsker(Base):
    """Everyone who asked a question: its author, plus the authors of duplicates merged into it."""

    __tablename__ = "faq_question_askers"

    question_id: Mapped[int] = mapped_column(ForeignKey("faq_questions.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    member: Mapped[Member] = relationship(lazy="joined")


class QuestionVote(Base):
    __tablename__ = "faq_question_votes"

    question_id: Mapped[int] = mapped_column(ForeignKey("faq_questions.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TopicRequest(Base):
    __tablename__ = "faq_topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("faq_series.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text, default="")
    votes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[Member] = relationship(lazy="joined")


class TopicVote(Base):
    __tablename__ = "faq_topic_votes"

    topic_id: Mapped[int] = mapped_column(ForeignKey("faq_topics.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)


class FaqDocument(Base):
    """The FAQ資料 of one session: an editable draft plus published versions v1, v2, …"""

    __tablename__ = "faq_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("faq_sessions.id", ondelete="CASCADE"), unique=True)
    title: Mapped[str] = mapped_column(String(150))
    intro: Mapped[str] = mapped_column(Text, default="")  # Markdown
    current_version: Mapped[int] = mapped_column(Integer, default=0)  # 0: never published
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    session: Mapped[StudySession] = relationship(lazy="raise")


class DraftEntry(Base):
    __tablename__ = "faq_draft_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("faq_documents.id", ondelete="CASCADE"), index=True)
    ord: Mapped[int] = mapped_column(Integer, default=0)
    category: Mapped[str] = mapped_column(String(40), default="")
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text, default="")  # Markdown
    votes: Mapped[int] = mapped_column(Integer, default=0)
    question_id: Mapped[int | None] = mapped_column(ForeignKey("faq_questions.id", ondelete="SET NULL"), default=None)
    # The organisations of the members who asked by name ("横浜市、札幌市"); empty when all were anonymous.
    asker: Mapped[str] = mapped_column(String(200), default="", server_default="")


class FaqVersion(Base):
    __tablename__ = "faq_versions"
    __table_args__ = (UniqueConstraint("document_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("faq_documents.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    title: Mapped[str] = mapped_column(String(150))
    intro: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), default=None)

    document: Mapped[FaqDocument] = relationship(lazy="raise")
    published_by: Mapped[Member | None] = relationship(lazy="joined")


class FaqEntry(Base):
    """One published Q&A (a snapshot inside one version); its id is its permalink."""

    __tablename__ = "faq_entries"
    __table_args__ = (Index("ix_faq_entries_version_ord", "version_id", "ord"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("faq_versions.id", ondelete="CASCADE"))
    document_id: Mapped[int] = mapped_column(ForeignKey("faq_documents.id", ondelete="CASCADE"), index=True)
    ord: Mapped[int] = mapped_column(Integer, default=0)
    category: Mapped[str] = mapped_column(String(40), default="")
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text, default="")  # Markdown
    votes: Mapped[int] = mapped_column(Integer, default=0)
    # Normalised question + answer (see faq.normalize); only entries of current versions are indexed.
    search_text: Mapped[str] = mapped_column(Text, default="")
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    asker: Mapped[str] = mapped_column(String(200), default="", server_default="")  # as on its draft entry

    version: Mapped[FaqVersion] = relationship(lazy="raise")


class Attendance(Base):
    """Who took part in a session (apart from who registered): opened its board or room while it ran,
    or was marked by an organiser (`source`: board, room, organiser)."""

    __tablename__ = "faq_attendances"

    session_id: Mapped[int] = mapped_column(ForeignKey("faq_sessions.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    source: Mapped[str] = mapped_column(String(20), default="board")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
