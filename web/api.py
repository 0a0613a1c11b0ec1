"""JSON API for members: personal API tokens and sign-up review for operators (GET/PATCH /api/me: web/profile.py)."""

from __future__ import annotations

import datetime as dt

import msgspec
from litestar import delete, get, post
from litestar.datastructures import CacheControlHeader
from litestar.params import FromQuery, JSONBody

from core.access import MemberApi, OperatorApi
from core.bounds import PathId
from core.deps import AppSettings, Bus, DbSession, Me
from core.members import service
from core.members.inputs import ReviewInput, RoleInput
from core.members.models import ApiToken, Member, Role, Status
from web.notifications import notify_review


class MemberOut(msgspec.Struct):
    id: int
    name: str
    org_kind: str
    organisation: str
    department: str
    prefecture: str
    role: Role
    status: Status

    @classmethod
    def of(cls, m: Member) -> MemberOut:
        return cls(m.id, m.name, m.org_kind.value, m.organisation, m.department, m.prefecture, m.role, m.status)


class MemberAdminOut(MemberOut):
    email: str = ""
    created_at: dt.datetime | None = None
    review_reason: str | None = None


class TokenCreate(msgspec.Struct):
    name: str = msgspec.field(default="API")


class TokenOut(msgspec.Struct):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    token: str | None = None  # only in the response that created it

    @classmethod
    def of(cls, t: ApiToken, raw: str | None = None) -> TokenOut:
        return cls(t.id, t.name, t.prefix, t.created_at, t.last_used_at, raw)


class MeController(MemberApi):
    path = "/api"
    tags = ["members"]
    cache_control = CacheControlHeader(no_store=True, private=True)  # a new token is shown once

    @get("/tokens")
    async def tokens(self, me: Me, db: DbSession) -> list[TokenOut]:
        return [TokenOut.of(t) for t in await service.list_api_tokens(db, me)]

    @post("/tokens", status_code=201)
    async def create_token(self, me: Me, db: DbSession, data: JSONBody[TokenCreate]) -> TokenOut:
        token, raw = await service.create_api_token(db, me, data.name.strip())
        return TokenOut.of(token, raw)

    @delete("/tokens/{token_id:int}", status_code=204)
    async def revoke_token(self, me: Me, db: DbSession, bus: Bus, token_id: PathId) -> None:
        await service.revoke_api_token(db, me, token_id, bus=bus)


class MembersAdminController(OperatorApi):
    path = "/api/members"
    tags = ["members"]

    @get("/")
    async def list_members(self, db: DbSession, status: FromQuery[Status | None] = None) -> list[MemberAdminOut]:
        return [
            MemberAdminOut(
                **msgspec.structs.asdict(MemberOut.of(m)),
                email=m.email,
                created_at=m.created_at,
                review_reason=m.review_reason,
            )
            for m in await service.members_by_status(db, status)
        ]

    @post("/{member_id:int}/approve")
    async def approve(self, me: Me, db: DbSession, settings: AppSettings, member_id: PathId) -> MemberOut:
        member = await service.review(db, member_id, me, approve=True)
        await notify_review(settings, member)
        return MemberOut.of(member)

    @post("/{member_id:int}/reject")
    async def reject(
        self, me: Me, db: DbSession, settings: AppSettings, member_id: PathId, data: JSONBody[ReviewInput]
    ) -> MemberOut:
        """The path decides: a body's `decision` is ignored here (the form posts it, the API names it in the path)."""
        member = await service.review(db, member_id, me, approve=False, reason=data.reason)
        await notify_review(settings, member)
        return MemberOut.of(member)

    @post("/{member_id:int}/role")
    async def role(self, me: Me, db: DbSession, bus: Bus, member_id: PathId, data: JSONBody[RoleInput]) -> MemberOut:
        role = data.validate(me.id, member_id)
        return MemberOut.of(await service.set_role(db, member_id, role, bus=bus))
