"""Founding under concurrency: two simultaneous "last" supports found the 課 exactly once (PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from core.db import Database
from core.errors import Conflict
from core.members.models import Member
from core.sections import ProposalStatus, Section, SectionMembership, SectionProposal, founding

pytestmark = pytest.mark.usefixtures("demo")


async def _member(db, address: str) -> Member:
    return (await db.execute(select(Member).where(Member.email == address))).scalar_one()


@pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_simultaneous_last_supports_found_once(db, settings):
    founder = await _member(db, "member@example.jp")
    proposal = await founding.propose(db, founder, name="公用車管理課", kind="work", purpose="公用車の運用を共有")
    proposal_id, founder_id = proposal.id, founder.id
    await founding.support(db, await _member(db, "host@example.jp"), proposal_id, threshold=2)
    database = Database(settings.database_url)
    try:

        async def last_support(address: str) -> str:
            async with database.session() as session:
                member = await _member(session, address)
                try:
                    result = await founding.support(session, member, proposal_id, threshold=2)
                except Conflict as exc:
                    return exc.code
                return "founded" if result.section is not None else "supported"

        outcomes = await asyncio.wait_for(
            asyncio.gather(last_support("naha@example.jp"), last_support("kochi@example.jp")), timeout=30
        )
    finally:
        await database.dispose()
    assert sorted(outcomes) == ["founded", "proposal_closed"]
    db.expire_all()
    sections = (await db.execute(select(Section).where(Section.name == "公用車管理課"))).unique().scalars().all()
    assert len(sections) == 1 and sections[0].leader_id == founder_id
    members = (
        await db.execute(select(func.count()).where(SectionMembership.section_id == sections[0].id))
    ).scalar_one()
    assert members == 3  # founder + host + whichever support came first
    stored = await db.get(SectionProposal, proposal_id)
    assert stored is not None and stored.status is ProposalStatus.FOUNDED and stored.open_key is None
