"""Founding a 課: a member proposes it, others support it, and at the threshold it founds itself.

The last support and the founding commit in one transaction: the proposal row is locked
(PostgreSQL `FOR UPDATE`; SQLite has one writer at a time) before the support is counted, so
two simultaneous "last" supports found the 課 exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import save_unique, utcnow
from core.errors import Conflict, Invalid, found
from core.members.models import Member
from core.sections.models import (
    ProposalStatus,
    ProposalSupport,
    Section,
    SectionKind,
    SectionMembership,
    SectionProposal,
)
from core.sections.names import check_name, check_purpose, section_key

DUPLICATE_NAME = "同じ名前の課か設立提案が既にあります。"


@dataclass(frozen=True, slots=True)
class ProposalSummary:
    proposal: SectionProposal
    supporters: list[Member]


@dataclass(frozen=True, slots=True)
class SupportResult:
    proposal: SectionProposal
    supporters: int
    needed: int
    #: The 課 this support founded, with everyone involved (founder first), or None.
    section: Section | None = None
    involved: tuple[Member, ...] = ()


async def _name_taken(db: AsyncSession, key: str) -> bool:
    in_sections = (await db.execute(select(Section.id).where(Section.name_key == key))).first()
    in_open = (await db.execute(select(SectionProposal.id).where(SectionProposal.open_key == key))).first()
    return in_sections is not None or in_open is not None


async def propose(db: AsyncSession, founder: Member, *, name: str, kind: str, purpose: str) -> SectionProposal:
    """Validate every field at once; refuse a name any 課 or open proposal already has."""
    errors: dict[str, str] = {}
    clean_name, problem = check_name(name)
    if problem:
        errors["name"] = problem
    elif await _name_taken(db, section_key(clean_name)):
        errors["name"] = DUPLICATE_NAME
    if kind not in {k.value for k in SectionKind}:
        errors["type"] = "課の種類（仕事直結型・共通スキル育成型・趣味・サークル型）を選んでください。"
    clean_purpose, problem = check_purpose(purpose)
    if problem:
        errors["purpose"] = problem
    if errors:
        raise Invalid("入力内容を確認してください。", fields=errors)
    proposal = SectionProposal(
        name=clean_name,
        open_key=section_key(clean_name),
        kind=SectionKind(kind),
        purpose=clean_purpose,
        founder_id=founder.id,
    )
    db.add(proposal)
    # Refused if the same name was proposed a moment ago.
    await save_unique(db, Invalid("入力内容を確認してください。", fields={"name": DUPLICATE_NAME}))
    return proposal


async def get_proposal(db: AsyncSession, proposal_id: int, *, lock: bool = False) -> SectionProposal:
    query = select(SectionProposal).where(SectionProposal.id == proposal_id)
    if lock:
        query = query.with_for_update(of=SectionProposal)
    return found((await db.execute(query)).unique().scalar_one_or_none(), "該当する設立提案が見つかりません。")


async def supporters(db: AsyncSession, proposal_id: int) -> list[Member]:
    query = (
        select(Member)
        .join(ProposalSupport, ProposalSupport.member_id == Member.id)
        .where(ProposalSupport.proposal_id == proposal_id)
        .order_by(ProposalSupport.created_at, Member.id)
    )
    return list((await db.execute(query)).scalars())


async def open_proposals(db: AsyncSession) -> list[ProposalSummary]:
    query = (
        select(SectionProposal)
        .where(SectionProposal.status == ProposalStatus.OPEN)
        .order_by(SectionProposal.created_at.desc())
    )
    return [ProposalSummary(p, await supporters(db, p.id)) for p in (await db.execute(query)).unique().scalars()]


async def support(db: AsyncSession, member: Member, proposal_id: int, threshold: int) -> SupportResult:
    """Record one support; the one that reaches `threshold` founds the 課 in the same transaction."""
    proposal = await get_proposal(db, proposal_id, lock=True)
    if proposal.status is not ProposalStatus.OPEN:
        raise Conflict(f"この提案は{proposal.status.label}のため賛同できません。", code="proposal_closed")
    if proposal.founder_id == member.id:
        raise Invalid("ご自身の提案には賛同できません。", fields={"support": "ご自身の提案には賛同できません。"})
    already = await db.get(ProposalSupport, (proposal_id, member.id))
    if already is not None:
        raise Conflict("この提案には既に賛同しています。", code="already_supported")
    db.add(ProposalSupport(proposal_id=proposal_id, member_id=member.id))
    # Refused if a double click raced this one.
    await save_unique(db, Conflict("この提案には既に賛同しています。", code="already_supported"), flush=True)
    count = int(
        (
            await db.execute(
                select(func.count()).select_from(ProposalSupport).where(ProposalSupport.proposal_id == proposal_id)
            )
        ).scalar_one()
    )
    if count < threshold:
        await db.commit()
        return SupportResult(proposal, count, threshold)
    return await _found(db, proposal, count, threshold)


async def _found(db: AsyncSession, proposal: SectionProposal, count: int, threshold: int) -> SupportResult:
    """Create the 課: founder → 課長, supporters → members; the proposal closes. Commits."""
    section = Section(
        name=proposal.name, kind=proposal.kind, description=proposal.purpose, leader_id=proposal.founder_id
    )
    db.add(section)
    # Refused if an operator renamed another 課 to this name meanwhile.
    await save_unique(
        db,
        Conflict("同じ名前の課が既にあるため設立できません。運営にお問い合わせください。", code="name_taken"),
        flush=True,
    )
    people = [await db.get_one(Member, proposal.founder_id), *await supporters(db, proposal.id)]
    for person in people:
        db.add(SectionMembership(section_id=section.id, member_id=person.id))
    proposal.status, proposal.open_key = ProposalStatus.FOUNDED, None
    proposal.section_id, proposal.founded_at = section.id, utcnow()
    await db.commit()
    return SupportResult(proposal, count, threshold, section, tuple(people))


async def withdraw(db: AsyncSession, member: Member, proposal_id: int) -> SectionProposal:
    proposal = await get_proposal(db, proposal_id, lock=True)
    if proposal.founder_id != member.id:
        raise Invalid("取り下げられるのは提案者のみです。", fields={"withdraw": "取り下げられるのは提案者のみです。"})
    if proposal.status is not ProposalStatus.OPEN:
        raise Conflict(f"この提案は{proposal.status.label}です。", code="proposal_closed")
    proposal.status, proposal.open_key = ProposalStatus.WITHDRAWN, None
    await db.commit()
    return proposal
