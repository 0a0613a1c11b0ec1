"""Typed JSON API for 課: list, detail, proposals and support, join and leave, 課長 and operator changes."""

from __future__ import annotations

import datetime as dt

import msgspec
from litestar import delete, get, patch, post, put
from litestar.params import FromQuery, JSONBody

from core import site_settings
from core.access import MemberApi
from core.bounds import PathId
from core.deps import AppSettings, DbSession, Me
from core.members.models import Member
from core.sections import founding, notices
from core.sections import service as sections
from core.sections.inputs import MergeInput, ProposalInput, RenameInput, SectionPageInput
from core.sections.models import Section, SectionKind, SectionMembership, SectionProposal


class PersonOut(msgspec.Struct):
    """A member as other members see them: never an e-mail."""

    id: int
    name: str
    organisation: str
    prefecture: str

    @classmethod
    def of(cls, m: Member) -> PersonOut:
        return cls(m.id, m.name, m.organisation, m.prefecture)


class SectionOut(msgspec.Struct):
    id: int
    name: str
    type: SectionKind
    type_label: str
    chief: PersonOut | None
    member_count: int
    status: str

    @classmethod
    def of(cls, s: Section, member_count: int) -> SectionOut:
        chief = PersonOut.of(s.leader) if s.leader else None
        return cls(s.id, s.name, s.kind, s.kind.label, chief, member_count, s.status.value)


class SectionMemberOut(PersonOut):
    role: str = "member"  # chief | deputy | member
    joined_at: dt.datetime | None = None


class RefOut(msgspec.Struct):
    id: int
    title: str


class SectionDetailOut(SectionOut):
    purpose: str = ""
    deputies: list[PersonOut] = []
    members: list[SectionMemberOut] = []
    programs: list[RefOut] = []
    series: list[RefOut] = []
    created_at: dt.datetime | None = None


class ProposalOut(msgspec.Struct):
    id: int
    name: str
    type: SectionKind
    purpose: str
    status: str
    founder: PersonOut
    supporters: list[PersonOut]
    needed: int
    section_id: int | None
    created_at: dt.datetime


class SupportOut(msgspec.Struct):
    proposal: ProposalOut
    founded: SectionOut | None


def _member_out(row: SectionMembership, section: Section) -> SectionMemberOut:
    role = "chief" if row.member_id == section.leader_id else "deputy" if row.deputy else "member"
    m = row.member
    return SectionMemberOut(m.id, m.name, m.organisation, m.prefecture, role=role, joined_at=row.joined_at)


async def _section_out(db: DbSession, section: Section) -> SectionOut:
    return SectionOut.of(section, (await sections.member_counts(db, [section.id])).get(section.id, 0))


async def _proposal_out(db: DbSession, p: SectionProposal) -> ProposalOut:
    needed = (await site_settings.load(db)).founding_supporters
    people = [PersonOut.of(m) for m in await founding.supporters(db, p.id)]
    return ProposalOut(
        p.id,
        p.name,
        p.kind,
        p.purpose,
        p.status.value,
        PersonOut.of(p.founder),
        people,
        needed,
        p.section_id,
        p.created_at,
    )


class SectionsApiController(MemberApi):
    path = "/api/sections"
    tags = ["sections"]

    @get("/")
    async def list_sections(self, db: DbSession, q: FromQuery[str] = "", type: FromQuery[str] = "") -> list[SectionOut]:
        kind = SectionKind(type) if type in {k.value for k in SectionKind} else None
        return [SectionOut.of(s.section, s.member_count) for s in await sections.list_sections(db, q[:60], kind)]

    @get("/{section_id:int}")
    async def detail(self, db: DbSession, section_id: PathId) -> SectionDetailOut:
        from web.section_content import section_content

        section = await sections.get_section(db, section_id)
        rows = await sections.memberships(db, section_id)
        content = await section_content(db, section)
        return SectionDetailOut(
            **msgspec.structs.asdict(SectionOut.of(section, len(rows))),
            purpose=section.description,
            deputies=[PersonOut.of(r.member) for r in rows if r.deputy],
            members=[_member_out(r, section) for r in rows],
            programs=[RefOut(p.id, p.title) for p in content.programs],
            series=[RefOut(s.id, s.title) for s in content.series],
            created_at=section.created_at,
        )

    @patch("/{section_id:int}")
    async def update(self, me: Me, db: DbSession, section_id: PathId, data: JSONBody[SectionPageInput]) -> SectionOut:
        section = await sections.get_section(db, section_id)
        kind = data.type or section.kind.value
        section = await sections.update_page(db, me, section_id, description=data.purpose, kind=kind)
        return await _section_out(db, section)

    @post("/{section_id:int}/join")
    async def join(self, me: Me, db: DbSession, section_id: PathId) -> SectionOut:
        return await _section_out(db, await sections.join(db, me, section_id))

    @post("/{section_id:int}/leave")
    async def leave(self, me: Me, db: DbSession, section_id: PathId) -> SectionOut:
        return await _section_out(db, await sections.leave(db, me, section_id))

    @put("/{section_id:int}/deputies/{member_id:int}")
    async def appoint(self, me: Me, db: DbSession, section_id: PathId, member_id: PathId) -> SectionOut:
        return await _section_out(db, await sections.set_deputy(db, me, section_id, member_id, True))

    @delete("/{section_id:int}/deputies/{member_id:int}", status_code=200)
    async def dismiss(self, me: Me, db: DbSession, section_id: PathId, member_id: PathId) -> SectionOut:
        return await _section_out(db, await sections.set_deputy(db, me, section_id, member_id, False))

    @post("/{section_id:int}/rename")
    async def rename(self, me: Me, db: DbSession, section_id: PathId, data: JSONBody[RenameInput]) -> SectionOut:
        return await _section_out(db, await sections.rename(db, me, section_id, data.name))

    @post("/{section_id:int}/archive")
    async def archive(self, me: Me, db: DbSession, section_id: PathId) -> SectionOut:
        return await _section_out(db, await sections.archive(db, me, section_id))

    @post("/{section_id:int}/merge")
    async def merge(self, me: Me, db: DbSession, section_id: PathId, data: JSONBody[MergeInput]) -> SectionOut:
        return await _section_out(db, await sections.merge(db, me, section_id, data.into))

    @get("/proposals")
    async def proposals(self, db: DbSession) -> list[ProposalOut]:
        return [await _proposal_out(db, p.proposal) for p in await founding.open_proposals(db)]

    @post("/proposals", status_code=201)
    async def propose(self, me: Me, db: DbSession, data: JSONBody[ProposalInput]) -> ProposalOut:
        proposal = await founding.propose(db, me, name=data.name, kind=data.type, purpose=data.purpose)
        return await _proposal_out(db, await founding.get_proposal(db, proposal.id))

    @get("/proposals/{proposal_id:int}")
    async def proposal(self, db: DbSession, proposal_id: PathId) -> ProposalOut:
        return await _proposal_out(db, await founding.get_proposal(db, proposal_id))

    @post("/proposals/{proposal_id:int}/support")
    async def support(self, me: Me, db: DbSession, settings: AppSettings, proposal_id: PathId) -> SupportOut:
        threshold = (await site_settings.load(db)).founding_supporters
        result = await founding.support(db, me, proposal_id, threshold)
        founded = None
        if result.section is not None:
            await notices.section_founded(settings, result.section, result.involved)
            founded = await _section_out(db, await sections.get_section(db, result.section.id))
        return SupportOut(await _proposal_out(db, await founding.get_proposal(db, proposal_id)), founded)
