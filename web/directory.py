"""The member directory (/members, GET /api/directory) and member profile pages. Never an e-mail."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
from litestar import get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from litestar.response import Template

from core.access import MemberApi, MemberPages
from core.bounds import PathId
from core.deps import DbSession, Me
from core.errors import Invalid, NotFound
from core.forms import optional_number
from core.members import directory, profile
from core.members.models import Member, Role, Status
from core.members.prefectures import PREFECTURES
from core.sections import service as sections
from web.cards import MemberCard, SectionRef, section_refs
from web.section_content import member_content


class DirectoryMember(MemberCard):
    sections: list[SectionRef]


class DirectoryOut(msgspec.Struct):
    items: list[DirectoryMember]
    total: int
    page: int
    pages: int
    page_size: int


@dataclass(frozen=True, slots=True)
class DirectoryParams:
    """The directory's query string as sent, for the page (which re-fills its form) and the API."""

    q: str
    organisation: str
    prefecture: str
    section: str
    page: str

    def query(self) -> directory.DirectoryQuery:
        if self.prefecture and self.prefecture not in PREFECTURES:
            raise Invalid(
                "都道府県を一覧から選んでください。", fields={"prefecture": "都道府県を一覧から選んでください。"}
            )
        return directory.DirectoryQuery(
            q=self.q[:100],
            organisation=self.organisation[:100],
            prefecture=self.prefecture,
            section_id=optional_number(self.section, "課", "section"),
            page=optional_number(self.page, "ページ", "page") or 1,
        )


def directory_params(
    q: FromQuery[str] = "",
    organisation: FromQuery[str] = "",
    prefecture: FromQuery[str] = "",
    section: FromQuery[str] = "",
    page: FromQuery[str] = "1",
) -> DirectoryParams:
    """The `params` dependency of the directory page and API: one declaration of their query parameters."""
    return DirectoryParams(q, organisation, prefecture, section, page)


async def _cards(db: DbSession, members: list[Member]) -> list[DirectoryMember]:
    out = []
    for m in members:
        refs = await section_refs(db, m.id)
        out.append(
            DirectoryMember(m.id, m.name, m.reading, m.org_kind.value, m.organisation, m.department, m.prefecture, refs)
        )
    return out


class DirectoryController(MemberPages):
    path = "/members"
    dependencies = {"params": Provide(directory_params, sync_to_thread=False)}

    @get("/")
    async def index(self, db: DbSession, params: NamedDependency[DirectoryParams]) -> Template:
        values = {
            "q": params.q[:100],
            "organisation": params.organisation[:100],
            "prefecture": params.prefecture,
            "section": params.section,
        }
        error, status = None, 200
        try:
            result = await directory.search(db, params.query())
        except Invalid as exc:
            error, status = exc.message, 400
            result = directory.DirectoryPage([], 0, 1, 1)
        context = {
            "result": result,
            "cards": await _cards(db, result.members),
            "values": values,
            "error": error,
            "sections": await sections.section_choices(db),
            "searched": any(values.values()),
        }
        return Template("members/directory.html", context=context, status_code=status)

    @get("/{member_id:int}")
    async def member(self, me: Me, db: DbSession, member_id: PathId) -> Template:
        member = await db.get(Member, member_id)
        operator = me.has_role(Role.OPERATOR)
        # Pending, rejected and suspended accounts don't exist for members; operators see them.
        if member is None or (member.status is not Status.APPROVED and not operator):
            raise NotFound("該当するメンバーが見つかりません。")
        context = {
            "person": member,
            "content": await member_content(db, member),
            "changes": await profile.changes_of(db, member.id) if operator else None,
            "labels": profile.LOGGED,
        }
        return Template("members/member.html", context=context)


class DirectoryApiController(MemberApi):
    path = "/api/directory"
    tags = ["members"]
    dependencies = {"params": Provide(directory_params, sync_to_thread=False)}

    @get("/")
    async def search(self, db: DbSession, params: NamedDependency[DirectoryParams]) -> DirectoryOut:
        """Approved members only; matches name, ふりがな, organisation and department; never an e-mail."""
        result = await directory.search(db, params.query())
        return DirectoryOut(
            await _cards(db, result.members), result.total, result.page, result.pages, directory.PAGE_SIZE
        )
