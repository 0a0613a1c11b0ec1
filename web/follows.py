"""Follows: `POST/GET /api/follows`, `DELETE /api/follows/{id}`, and the no-JavaScript form `POST /follows`.

The targets live in different domains; this module (the shell) checks that a target exists and names it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.params import FromQuery, JSONBody
from litestar.response import Redirect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import MemberApi, member_guard
from core.bounds import PathId
from core.deps import DbSession, Me
from core.errors import Invalid, NotFound
from core.members.models import Member, Status
from core.notify import follows
from core.notify.models import MAX_ID, Follow, Target
from core.sections import Section
from faq.models import StudySeries
from live.models import Program
from web.forms import read_form, safe_next


class FollowIn(msgspec.Struct):
    target: str
    id: Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]


class FollowOut(msgspec.Struct):
    id: int
    target: str
    target_id: int
    name: str
    url: str
    created_at: dt.datetime


def _target(raw: str) -> Target:
    try:
        return Target(raw)
    except ValueError:
        raise Invalid(
            "フォローの対象は program / personality / section / series のいずれかです。",
            fields={"target": "program / personality / section / series のいずれかです。"},
        ) from None


def target_url(target: Target, target_id: int) -> str:
    return {
        Target.PROGRAM: f"/schedule/programs/{target_id}",
        Target.PERSONALITY: f"/schedule/personalities/{target_id}",
        Target.SECTION: f"/sections/{target_id}",
        Target.SERIES: f"/faq/series/{target_id}",
    }[target]


async def target_names(db: AsyncSession, pairs: list[tuple[Target, int]]) -> dict[tuple[Target, int], str]:
    """Names of existing targets (a missing one is absent from the answer)."""
    wanted: dict[Target, set[int]] = {}
    for t, i in pairs:
        wanted.setdefault(t, set()).add(i)
    names: dict[tuple[Target, int], str] = {}
    tables: dict[Target, Any] = {
        Target.PROGRAM: (Program.id, Program.title, None),
        Target.PERSONALITY: (Member.id, Member.name, Member.status == Status.APPROVED),
        Target.SECTION: (Section.id, Section.name, None),
        Target.SERIES: (StudySeries.id, StudySeries.title, None),
    }
    for target, ids in wanted.items():
        id_col, name_col, extra = tables[target]
        stmt = select(id_col, name_col).where(id_col.in_(sorted(ids)))
        if extra is not None:
            stmt = stmt.where(extra)
        names.update({(target, int(i)): str(n) for i, n in (await db.execute(stmt)).all()})
    return names


async def _out(db: AsyncSession, rows: list[Follow]) -> list[FollowOut]:
    names = await target_names(db, [(f.target, f.target_id) for f in rows])
    return [
        FollowOut(
            f.id,
            f.target.value,
            f.target_id,
            names.get((f.target, f.target_id), "（削除されました）"),
            target_url(f.target, f.target_id),
            f.created_at,
        )
        for f in rows
    ]


async def create(db: AsyncSession, member: Member, raw_target: str, target_id: int) -> tuple[Follow, bool]:
    target = _target(raw_target)
    if not (await target_names(db, [(target, target_id)])):
        raise NotFound(f"フォローする{target.label}が見つかりませんでした。")
    return await follows.follow(db, member.id, target, target_id)


class FollowsApi(MemberApi):
    path = "/api/follows"
    tags = ["notifications"]

    @get("/")
    async def list_follows(self, me: Me, db: DbSession, target: FromQuery[str | None] = None) -> list[FollowOut]:
        rows = await follows.follows_of(db, me.id, _target(target) if target else None)
        return await _out(db, rows)

    @post("/")
    async def follow(self, me: Me, db: DbSession, data: JSONBody[FollowIn]) -> Response[FollowOut]:
        row, new = await create(db, me, data.target, data.id)
        return Response((await _out(db, [row]))[0], status_code=201 if new else 200)

    @delete("/{follow_id:int}", status_code=204)
    async def unfollow(self, me: Me, db: DbSession, follow_id: PathId) -> None:
        if not 1 <= follow_id <= MAX_ID:
            raise NotFound("このフォローは見つかりませんでした。")
        await follows.unfollow(db, me.id, follow_id)


@post("/follows", guards=[member_guard], include_in_schema=False)
async def follow_form(request: Request[Any, Any, Any], me: Me, db: DbSession) -> Redirect:
    """Without JavaScript the follow button is a form: follow, or unfollow with `action=unfollow`."""
    form = await read_form(request)
    raw_id = form.get("id", "")
    if not raw_id.isdigit() or not 1 <= int(raw_id[:10]) <= MAX_ID or len(raw_id) > 10:
        raise Invalid("フォローの対象が正しくありません。", fields={"id": "数字で指定してください。"})
    target = _target(form.get("target", ""))
    if form.get("action") == "unfollow":
        row = await follows.find(db, me.id, target, int(raw_id))
        if row is not None:
            await follows.unfollow(db, me.id, row.id)
    else:
        await create(db, me, target.value, int(raw_id))
    return Redirect(safe_next(form.get("next"), target_url(target, int(raw_id))), status_code=303)


route_handlers: list[Any] = [FollowsApi, follow_form]
