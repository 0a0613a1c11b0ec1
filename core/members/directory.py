"""The member directory: find "the person in another city who does the same job". Approved members only."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.members.models import Member, Status
from core.members.profile import to_hiragana
from core.sections.models import SectionMembership

PAGE_SIZE = 20
MAX_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class DirectoryQuery:
    q: str = ""
    organisation: str = ""
    prefecture: str = ""
    section_id: int | None = None
    page: int = 1


@dataclass(frozen=True, slots=True)
class DirectoryPage:
    members: list[Member]
    total: int
    page: int
    pages: int


def _words(raw: str) -> list[str]:
    return [w[:50] for w in unicodedata.normalize("NFKC", raw).lower().split()[:5]]


def _filtered(query: DirectoryQuery) -> Select[Member]:
    stmt = select(Member).where(Member.status == Status.APPROVED)
    for word in _words(query.q):
        stmt = stmt.where(
            or_(
                func.lower(Member.name).contains(word, autoescape=True),
                Member.reading.contains(to_hiragana(word), autoescape=True),
                func.lower(Member.organisation).contains(word, autoescape=True),
                func.lower(Member.department).contains(word, autoescape=True),
                func.lower(Member.interests).contains(word, autoescape=True),
            )
        )
    for word in _words(query.organisation):
        stmt = stmt.where(
            or_(
                func.lower(Member.organisation).contains(word, autoescape=True),
                func.lower(Member.department).contains(word, autoescape=True),
            )
        )
    if query.prefecture:
        stmt = stmt.where(Member.prefecture == query.prefecture)
    if query.section_id is not None:
        in_section = select(SectionMembership.member_id).where(SectionMembership.section_id == query.section_id)
        stmt = stmt.where(Member.id.in_(in_section))
    return stmt


async def search(db: AsyncSession, query: DirectoryQuery) -> DirectoryPage:
    stmt = _filtered(query)
    total = int((await db.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one())
    pages = max(1, -(-total // PAGE_SIZE))
    page = max(1, min(query.page, MAX_PAGE))
    rows = await db.execute(
        stmt.order_by(Member.prefecture, Member.organisation, Member.reading, Member.name, Member.id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return DirectoryPage(list(rows.scalars()), total, page, pages)
