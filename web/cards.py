"""What the API shows of a member wherever one is listed with their 課 (the directory, the own profile)."""

from __future__ import annotations

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from core.sections import service as sections


class SectionRef(msgspec.Struct):
    id: int
    name: str


class MemberCard(msgspec.Struct):
    """The profile fields every member may see; never an e-mail (subclasses add what their page shows)."""

    id: int
    name: str
    reading: str
    org_kind: str
    organisation: str
    department: str
    prefecture: str


async def section_refs(db: AsyncSession, member_id: int) -> list[SectionRef]:
    return [SectionRef(s.id, s.name) for s in await sections.sections_of(db, member_id)]
