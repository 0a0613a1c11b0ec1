"""Moderation JSON API: thin handlers that parse, guard and call one service function each."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody

from core.access import active_member, member_guard
from core.deps import Bus, DbSession
from live.models import Broadcast
from live.moderation import service
from live.moderation.events import publish_controls, publish_restriction
from live.moderation.models import BlockedWord, HeldComment, ModerationAction, RoomControls
from live.moderation.service import ModerationError

Reason = Annotated[str, msgspec.Meta(max_length=500)]


class TimeoutIn(msgspec.Struct, forbid_unknown_fields=True):
    member_id: int
    seconds: int
    reason: Reason = ""


class BanIn(msgspec.Struct, forbid_unknown_fields=True):
    member_id: int
    scope: str = "program"
    reason: Reason = ""


class LiftIn(msgspec.Struct, forbid_unknown_fields=True):
    member_id: int
    reason: Reason = ""


class ControlsIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    slow_mode_seconds: int | None = None
    locked: bool | None = None
    comments_off: bool | None = None
    delay_seconds: int | None = None
    pinned_text: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    picked_position: int | None = None


class ControlsOut(msgspec.Struct):
    slow_mode_seconds: int
    locked: bool
    comments_off: bool
    delay_seconds: int
    pinned_text: str
    picked_position: int | None

    @classmethod
    def of(cls, c: RoomControls) -> ControlsOut:
        return cls(c.slow_mode_seconds, c.locked, c.comments_off, c.delay_seconds, c.pinned_text, c.picked_position)


class WordIn(msgspec.Struct, forbid_unknown_fields=True):
    word: Annotated[str, msgspec.Meta(max_length=200)]
    action: str = "hold"
    site_wide: bool = False


class WordOut(msgspec.Struct):
    id: int
    word: str
    action: str
    site_wide: bool

    @classmethod
    def of(cls, w: BlockedWord) -> WordOut:
        return cls(w.id, w.word, w.action.value, w.program_id is None)


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


class ReportIn(msgspec.Struct, forbid_unknown_fields=True):
    position: Annotated[int, msgspec.Meta(ge=1)]
    reason: Annotated[str, msgspec.Meta(max_length=200)] = ""


class AuditOut(msgspec.Struct):
    id: int
    action: str
    label: str
    actor: str | None
    target: str | None
    target_position: int | None
    detail: str
    reason: str
    at: dt.datetime

    @classmethod
    def of(cls, a: ModerationAction) -> AuditOut:
        return cls(
            a.id,
            a.action,
            service.ACTION_LABELS.get(a.action, a.action),
            a.actor.name if a.actor else None,
            a.target_member.name if a.target_member else None,
            a.target_position,
            a.detail,
            a.reason,
            a.created_at,
        )


def refuse(exc: ModerationError) -> HTTPException:
    return HTTPException(status_code=exc.status, detail=exc.message, extra={"code": exc.code})


async def broadcast_or_404(db: DbSession, broadcast_id: int) -> Broadcast:
    broadcast = await db.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise NotFoundException(detail="放送が見つかりません。")
    return broadcast


class ModerationController(Controller):
    """Everything here needs a moderator of the broadcast (checked per call: roles are per program)."""

    path = "/api/broadcasts/{broadcast_id:int}/moderation"
    guards = [member_guard]
    tags = ["moderation"]

    async def _moderator(
        self, request: Request[Any, Any, Any], db: DbSession, broadcast_id: int
    ) -> tuple[Any, Broadcast]:
        broadcast = await broadcast_or_404(db, broadcast_id)
        try:
            member = await service.require_moderator(db, active_member(request), broadcast)
        except ModerationError as exc:
            raise refuse(exc) from None
        return member, broadcast

    @post("/timeout", status_code=200)
    async def timeout(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        broadcast_id: FromPath[int],
        data: JSONBody[TimeoutIn],
    ) -> dict[str, Any]:
        actor, broadcast = await self._moderator(request, db, broadcast_id)
        try:
            sanction = await service.timeout(db, actor, broadcast, data.member_id, data.seconds, data.reason)
        except ModerationError as exc:
            raise refuse(exc) from None
        await publish_restriction(bus, broadcast.id, data.member_id, "timed_out", sanction.until)
        return {"member_id": data.member_id, "until": sanction.until}

    @post("/ban", status_code=200)
    async def ban(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        broadcast_id: FromPath[int],
        data: JSONBody[BanIn],
    ) -> dict[str, Any]:
        actor, broadcast = await self._moderator(request, db, broadcast_id)
        try:
            await service.ban(db, actor, broadcast, data.member_id, data.scope, data.reason)
        except ModerationError as exc:
            raise refuse(exc) from None
        await publish_restriction(bus, broadcast.id, data.member_id, "banned", None)
        return {"member_id": data.member_id, "scope": data.scope}

    @post("/lift", status_code=200)
    async def lift(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        broadcast_id: FromPath[int],
        data: JSONBody[LiftIn],
    ) -> dict[str, Any]:
        actor, broadcast = await self._moderator(request, db, broadcast_id)
        try:
            lifted = await service.lift(db, actor, broadcast, data.member_id, data.reason)
        except ModerationError as exc:
            raise refuse(exc) from None
        await publish_restriction(bus, broadcast.id, data.member_id, None, None)
        return {"member_id": data.member_id, "lifted": lifted}

    @get("/controls")
    async def get_controls(
        self, request: Request[Any, Any, Any], db: DbSession, broadcast_id: FromPath[int]
    ) -> ControlsOut:
        await self._moderator(request, db, broadcast_id)
        controls = await service.controls(db, broadcast_id)
        await db.commit()
        return ControlsOut.of(controls)

    @post("/controls", status_code=200)
    async def set_controls(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        broadcast_id: FromPath[int],
        data: JSONBody[ControlsIn],
    ) -> ControlsOut:
        actor, broadcast = await self._moderator(request, db, broadcast_id)
        changes = msgspec.structs.asdict(data)
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            raise HTTPException(status_code=400, detail="変更する設定を指定してください。", extra={"code": "no_change"})
        try:
            controls = await service.set_controls(db, actor, broadcast, **changes)
        except ModerationError as exc:
            raise refuse(exc) from None
        out = ControlsOut.of(controls)
        await publish_controls(bus, broadcast.id, msgspec.structs.asdict(out))
        return out

    @get("/words")
    async def words(self, request: Request[Any, Any, Any], db: DbSession, broadcast_id: FromPath[int]) -> list[WordOut]:
        _, broadcast = await self._moderator(request, db, broadcast_id)
        return [WordOut.of(w) for w in await service.blocked_words(db, broadcast.program_id)]

    @post("/words", status_code=201)
    async def add_word(
        self, request: Request[Any, Any, Any], db: DbSession, broadcast_id: FromPath[int], data: JSONBody[WordIn]
    ) -> WordOut:
        actor, broadcast = await self._moderator(request, db, broadcast_id)
        program_id = None if data.site_wide else broadcast.program_id
        if program_id is None and not data.site_wide:
            raise HTTPException(
                status_code=400, detail="番組に属さない放送ではサイト全体の禁止ワードを使ってください。"
            )
        try:
            return WordOut.of(await service.add_blocked_word(db, actor, data.word, data.action, program_id, broadcast))
        except ModerationError as exc:
            raise refuse(exc) from None

    @delete("/words/{word_id:int}", status_code=204)
    async def remove_word(
        self, request: Request[Any, Any, Any], db: DbSession, broadcast_id: FromPath[int], word_id: FromPath[int]
    ) -> None:
        actor, broadcast = await self._moderator(request, db, broadcast_id)
        try:
            await service.remove_blocked_word(db, actor, word_id, broadcast)
        except ModerationError as exc:
            raise refuse(exc) from None

    @get("/held")
    async def held(self, request: Request[Any, Any, Any], db: DbSession, broadcast_id: FromPath[int]) -> list[HeldOut]:
        await self._moderator(request, db, broadcast_id)
        return [HeldOut.of(h) for h in await service.held_comments(db, broadcast_id)]

    @get("/reports")
    async def reports(
        self, request: Request[Any, Any, Any], db: DbSession, broadcast_id: FromPath[int]
    ) -> list[dict[str, Any]]:
        await self._moderator(request, db, broadcast_id)
        return [
            {"id": r.id, "position": r.position, "reporter": r.reporter.name, "reason": r.reason, "at": r.created_at}
            for r in await service.open_reports(db, broadcast_id)
        ]

    @get("/audit")
    async def audit(
        self, request: Request[Any, Any, Any], db: DbSession, broadcast_id: FromPath[int], limit: FromQuery[int] = 200
    ) -> list[AuditOut]:
        await self._moderator(request, db, broadcast_id)
        return [AuditOut.of(a) for a in (await service.audit_log(db, broadcast_id))[: max(1, min(limit, 1000))]]


class ReportController(Controller):
    """Any member in the room may report a comment."""

    path = "/api/broadcasts/{broadcast_id:int}/reports"
    guards = [member_guard]
    tags = ["moderation"]

    @post("/", status_code=201)
    async def report(
        self, request: Request[Any, Any, Any], db: DbSession, broadcast_id: FromPath[int], data: JSONBody[ReportIn]
    ) -> dict[str, Any]:
        broadcast = await broadcast_or_404(db, broadcast_id)
        try:
            entry = await service.report(db, active_member(request), broadcast, data.position, data.reason)
        except ModerationError as exc:
            raise refuse(exc) from None
        return {"id": entry.id, "position": entry.position}
