"""The search index: one row per searchable thing, its postings, the vocabulary and the glossary.

The same tables and SQL serve SQLite and PostgreSQL. Timestamps are UTC (core.db's rule).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow


class SearchDocument(Base):
    __tablename__ = "search_documents"
    __table_args__ = (UniqueConstraint("kind", "ref_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # faq_entry, question, broadcast, comment, ...
    ref_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(300))
    section_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    series_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    group_id: Mapped[int | None] = mapped_column(Integer, default=None)  # e.g. the FAQ document of an entry
    date: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    title_keys: Mapped[str] = mapped_column(Text, default="")  # space-separated keys, in order
    body_keys: Mapped[str] = mapped_column(Text, default="")
    # "start-end" in the original text per key above: highlights without re-analysing at query time
    title_spans: Mapped[str] = mapped_column(Text, default="")
    body_spans: Mapped[str] = mapped_column(Text, default="")
    length: Mapped[int] = mapped_column(Integer, default=0)  # keys in title + body (BM25 length)


class SearchPosting(Base):
    """One row per (key, document): the posting lists. Ranking counts occurrences in the key streams.

    SQLite keeps it WITHOUT ROWID (the key is the table). No foreign key: `index.remove` deletes a
    document's postings itself, and a per-row check would cost every bulk insert (migration 1201).
    """

    __tablename__ = "search_postings"

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    doc_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)

    # No index on doc_id: a document's postings are deleted through its own key streams.
    __table_args__ = {"sqlite_with_rowid": False}


class SearchTerm(Base):
    """Every key ever indexed with its reading: hiragana queries and IME slips are matched here."""

    __tablename__ = "search_terms"

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    reading: Mapped[str] = mapped_column(String(64), index=True)
    surface: Mapped[str] = mapped_column(String(64))


class GlossaryEntry(Base):
    """用語集: words that mean the same thing (abbreviations, synonyms), applied at query time."""

    __tablename__ = "search_glossary"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    words: Mapped[str] = mapped_column(Text)  # one group, separated by 「、」 or commas
    note: Mapped[str] = mapped_column(String(200), default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
