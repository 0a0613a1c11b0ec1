"""What each domain holds for one 課 or one member, gathered for their pages (web assembles domains)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.members.models import Member
from core.sections import service as sections
from core.sections.models import Section
from faq.models import FaqDocument, FaqVersion, StudySeries, StudySession
from live.models import Broadcast, BroadcastState, Program, ProgramGuest

LIMIT = 20


def register_owner_columns() -> None:
    """Merging 課 moves these domains' rows too (called once by the app factory)."""
    sections.register_owner_column(Program.section_id)
    sections.register_owner_column(StudySeries.section_id)


@dataclass(slots=True)
class SectionContent:
    programs: list[Program] = field(default_factory=list)
    coming: list[Broadcast] = field(default_factory=list)
    series: list[StudySeries] = field(default_factory=list)
    documents: list[tuple[FaqDocument, StudySession]] = field(default_factory=list)
    archive: list[Broadcast] = field(default_factory=list)


async def section_content(db: AsyncSession, section: Section) -> SectionContent:
    programs = list(
        (await db.execute(select(Program).where(Program.section_id == section.id).order_by(Program.title)))
        .unique()
        .scalars()
    )
    program_ids = select(Program.id).where(Program.section_id == section.id)
    coming_q = (
        select(Broadcast)
        .where(
            Broadcast.program_id.in_(program_ids),
            Broadcast.state.in_([BroadcastState.SCHEDULED, BroadcastState.OPEN, BroadcastState.LIVE]),
            Broadcast.ends_at >= utcnow(),
        )
        .order_by(Broadcast.starts_at)
        .limit(LIMIT)
    )
    archive_q = (
        select(Broadcast)
        .where(Broadcast.program_id.in_(program_ids), Broadcast.state == BroadcastState.ENDED)
        .order_by(Broadcast.starts_at.desc())
        .limit(LIMIT)
    )
    series = list(
        (await db.execute(select(StudySeries).where(StudySeries.section_id == section.id).order_by(StudySeries.title)))
        .unique()
        .scalars()
    )
    docs_q = (
        select(FaqDocument, StudySession)
        .join(StudySession, StudySession.id == FaqDocument.session_id)
        .where(StudySession.series_id.in_([s.id for s in series]), FaqDocument.current_version > 0)
        .order_by(StudySession.starts_at.desc())
        .limit(LIMIT)
    )
    return SectionContent(
        programs=[p for p in programs if p.active],
        coming=list((await db.execute(coming_q)).unique().scalars()),
        series=series,
        documents=[(d, s) for d, s in (await db.execute(docs_q)).unique().all()] if series else [],
        archive=list((await db.execute(archive_q)).unique().scalars()),
    )


@dataclass(slots=True)
class MemberContent:
    sections: list[Section]
    programs: list[Program]
    appearances: list[Broadcast]
    documents: list[tuple[FaqDocument, int]]


async def member_content(db: AsyncSession, member: Member) -> MemberContent:
    """課, programs hosted, broadcasts appeared in (host or guest) and FAQ documents answered."""
    programs = list(
        (await db.execute(select(Program).where(Program.personality_id == member.id).order_by(Program.title)))
        .unique()
        .scalars()
    )
    guest_programs = select(ProgramGuest.program_id).where(ProgramGuest.member_id == member.id)
    appeared_q = (
        select(Broadcast)
        .outerjoin(Program, Program.id == Broadcast.program_id)
        .where(
            Broadcast.state.in_([BroadcastState.LIVE, BroadcastState.ENDED]),
            or_(
                Broadcast.personality_id == member.id,
                (Broadcast.personality_id.is_(None)) & (Program.personality_id == member.id),
                Broadcast.program_id.in_(guest_programs),
            ),
        )
        .order_by(Broadcast.starts_at.desc())
        .limit(LIMIT)
    )
    # FAQ answers given: documents whose published versions this member wrote and published.
    docs_q = (
        select(FaqDocument, func.count(FaqVersion.id))
        .join(FaqVersion, FaqVersion.document_id == FaqDocument.id)
        .where(FaqVersion.published_by_id == member.id, FaqDocument.current_version > 0)
        .group_by(FaqDocument.id)
        .order_by(FaqDocument.updated_at.desc())
        .limit(LIMIT)
    )
    return MemberContent(
        sections=await sections.sections_of(db, member.id),
        programs=[p for p in programs if p.active],
        appearances=list((await db.execute(appeared_q)).unique().scalars()),
        documents=[(d, int(n)) for d, n in (await db.execute(docs_q)).all()],
    )
