"""Moderators' JSON API on the room's comments (held, hide/restore, questions, reports): thin handlers.

The bodies are live/rooms/inputs.py's structs.

Same prefix as live/moderation/api.py; these live in rooms because they go through the comment path
(live/rooms/curation.py), and live.rooms may depend on live.moderation, never the reverse.
"""

from __future__ import annotations

import datetime as dt

import msgspec
from litestar import get, post
from litestar.params import JSONBody

from core.access import MemberApi
from core.bounds import PathId
from core.deps import Bus, DbSession, Me
from core.members.models import Member
from live.access import existing_broadcast, moderated_broadcast
from live.moderation.held import held_comments
from live.moderation.models import HeldComment
from live.rooms import curation, service
from live.rooms.inputs import ReportInput, VisibilityInput


class HeldOut(msgspec.Struct):
    id: int
    member_id: int
    name: str
    organisation: str
    text: str
    matched_word: str
    created_at: dt.datetime

    @classmethod
    def of(cls, h: HeldComment) -> HeldOut:
        return cls(h.id, h.member_id, h.member.name, h.member.affiliation, h.text, h.matched_word, h.created_at)


class HeldDecisionOut(msgspec.Struct, omit_defaults=True):
    id: int
    status: str  # approved | rejected
    position: int | None = None  # where an approved comment now is


class VisibilityOut(msgspec.Struct):
    position: int
    hidden: bool
    member_id: int


class ReportOut(msgspec.Struct):
    id: int
    position: int
    reporter: str
    reason: str
    at: dt.datetime
    comment: msgspec.Raw | None  # the comment as viewers saw it (a room CommentItem)


class ReportCreatedOut(msgspec.Struct):
    id: int
    position: int


class RoomModerationController(MemberApi):
    """Each call checks the moderator of the broadcast (roles are per program)."""

    path = "/api/broadcasts/{broadcast_id:int}/moderation"
    tags = ["moderation"]

    @get("/held")
    async def held(self, me: Me, db: DbSession, broadcast_id: PathId) -> list[HeldOut]:
        await moderated_broadcast(db, me, broadcast_id)
        return [HeldOut.of(h) for h in await held_comments(db, broadcast_id)]

    @post("/held/{held_id:int}/approve", status_code=200)
    async def approve_held(
        self, me: Me, db: DbSession, bus: Bus, broadcast_id: PathId, held_id: PathId
    ) -> HeldDecisionOut:
        actor, broadcast = await moderated_broadcast(db, me, broadcast_id)
        position = await curation.approve_held(db, bus, actor, broadcast, held_id)
        return HeldDecisionOut(held_id, "approved", position)

    @post("/held/{held_id:int}/reject", status_code=200)
    async def reject_held(
        self, me: Me, db: DbSession, bus: Bus, broadcast_id: PathId, held_id: PathId
    ) -> HeldDecisionOut:
        actor, broadcast = await moderated_broadcast(db, me, broadcast_id)
        await curation.reject_held(db, bus, actor, broadcast, held_id)
        return HeldDecisionOut(held_id, "rejected")

    @post("/comments/{position:int}/hide", status_code=200)
    async def hide(
        self, me: Me, db: DbSession, bus: Bus, broadcast_id: PathId, position: PathId, data: JSONBody[VisibilityInput]
    ) -> VisibilityOut:
        return await _set_visibility(me, db, bus, broadcast_id, position, True, data)

    @post("/comments/{position:int}/restore", status_code=200)
    async def restore(
        self, me: Me, db: DbSession, bus: Bus, broadcast_id: PathId, position: PathId, data: JSONBody[VisibilityInput]
    ) -> VisibilityOut:
        return await _set_visibility(me, db, bus, broadcast_id, position, False, data)

    @get("/questions")
    async def questions(self, me: Me, db: DbSession, broadcast_id: PathId) -> list[msgspec.Raw]:
        await moderated_broadcast(db, me, broadcast_id)
        return [msgspec.Raw(item) for _, item in await service.questions(db, broadcast_id)]

    @get("/reports")
    async def reports(self, me: Me, db: DbSession, broadcast_id: PathId) -> list[ReportOut]:
        await moderated_broadcast(db, me, broadcast_id)
        return [
            ReportOut(r.id, r.position, r.reporter.name, r.reason, r.created_at, msgspec.Raw(item) if item else None)
            for r, item in await curation.open_reports(db, broadcast_id)
        ]


async def _set_visibility(
    me: Member,
    db: DbSession,
    bus: Bus,
    broadcast_id: int,
    position: int,
    hidden: bool,
    data: VisibilityInput,
) -> VisibilityOut:
    """Hide or restore: the same check and action, the path says which."""
    actor, broadcast = await moderated_broadcast(db, me, broadcast_id)
    author = await curation.set_visibility(db, bus, actor, broadcast, position, hidden, data.reason)
    return VisibilityOut(position, hidden, author)


class ReportController(MemberApi):
    """Any member in the room may report a comment."""

    path = "/api/broadcasts/{broadcast_id:int}/reports"
    tags = ["moderation"]

    @post("/", status_code=201)
    async def report(
        self, me: Me, db: DbSession, bus: Bus, broadcast_id: PathId, data: JSONBody[ReportInput]
    ) -> ReportCreatedOut:
        broadcast = await existing_broadcast(db, broadcast_id)
        entry = await curation.report(db, bus, me, broadcast, data.position, data.reason)
        return ReportCreatedOut(entry.id, entry.position)
