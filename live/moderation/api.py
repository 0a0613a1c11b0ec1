"""Moderation JSON API: thin handlers that parse, guard and call one service function each."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import JSONBody, QueryParameter
from sqlalchemy import select

from core.access import active_member, member_guard
from core.bounds import Id, PathId, Position
from core.deps import Bus, DbSession
from live.models import Broadcast, BroadcastState
from live.moderation import service
from live.moderation.events import publish_controls, publish_notice, publish_restriction, publish_visibility
from live.moderation.models import BlockedWord, HeldComment, ModerationAction, RoomControls, Sanction, ViewerSample
from live.moderation.service import ModerationError
from live.moderation.state import change_state
from live.rooms import service as rooms
from live.rooms.hub import publish_comment

Reason = Annotated[str, msgspec.Meta(max_length=500)]


class TimeoutIn(msgspec.Struct, forbid_unknown_fields=True):
    member_id: Id
    seconds: Position
    reason: Reason = ""


class BanIn(msgspec.Struct, forbid_unknown_fields=True):
    member_id: Id
    scope: str = "program"
    reason: Reason = ""


class LiftIn(msgspec.Struct, forbid_unknown_fields=True):
    member_id: Id
    reason: Reason = ""


class ControlsIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    slow_mode_seconds: Position | None = None
    locked: bool | None = None
    comments_off: bool | None = None
    delay_seconds: Position | None = None
    pinned_text: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    picked_position: Id | None = None  # a comment's position (1, 2, …); null clears the pick


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


class ReasonIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason = ""


class StateIn(msgspec.Struct, forbid_unknown_fields=True):
    state: str


class SanctionOut(msgspec.Struct):
    id: int
    member_id: int
    name: str
    kind: str
    scope: str
    until: dt.datetime | None
    reason: str

    @classmethod
    def of(cls, s: Sanction) -> SanctionOut:
        return cls(s.id, s.member_id, s.member.name, s.kind.value, s.scope.value, s.until, s.reason)


class ReportIn(msgspec.Struct, forbid_unknown_fields=True):
    position: Id
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


ROOM_ERROR_STATUS = {"comment_not_found": 404, "already_hidden": 409, "not_hidden": 409, "room_closed": 409}


def refuse_room(exc: rooms.RoomError) -> HTTPException:
    status = ROOM_ERROR_STATUS.get(exc.code, 400 if exc.code != "rate_limited" else 429)
    return HTTPException(status_code=status, detail=exc.message, extra={"code": exc.code})


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
        broadcast_id: PathId,
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
        broadcast_id: PathId,
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
        broadcast_id: PathId,
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
    async def get_controls(self, request: Request[Any, Any, Any], db: DbSession, broadcast_id: PathId) -> ControlsOut:
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
        broadcast_id: PathId,
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
    async def words(self, request: Request[Any, Any, Any], db: DbSession, broadcast_id: PathId) -> list[WordOut]:
        _, broadcast = await self._moderator(request, db, broadcast_id)
        return [WordOut.of(w) for w in await service.blocked_words(db, broadcast.program_id)]

    @post("/words", status_code=201)
    async def add_word(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        broadcast_id: PathId,
        data: JSONBody[WordIn],
    ) -> WordOut:
        actor, broadcast = await self._moderator(request, db, broadcast_id)
        program_id = None if data.site_wide else broadcast.program_id
        if program_id is None and not data.site_wide:
            raise HTTPException(
                status_code=400, detail="番組に属さない放送ではサイト全体の禁止ワードを使ってください。"
            )
        try:
            word = WordOut.of(await service.add_blocked_word(db, actor, data.word, data.action, program_id, broadcast))
        except ModerationError as exc:
            raise refuse(exc) from None
        await publish_notice(bus, broadcast.id, "words")
        return word

    @delete("/words/{word_id:int}", status_code=204)
    async def remove_word(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        broadcast_id: PathId,
        word_id: PathId,
    ) -> None:
        actor, broadcast = await self._moderator(request, db, broadcast_id)
        try:
            await service.remove_blocked_word(db, actor, word_id, broadcast)
        except ModerationError as exc:
            raise refuse(exc) from None
        await publish_notice(bus, broadcast.id, "words")

    @get("/held")
    async def held(self, request: Request[Any, Any, Any], db: DbSession, broadcast_id: PathId) -> list[HeldOut]:
        await self._moderator(request, db, broadcast_id)
        return [HeldOut.of(h) for h in await service.held_comments(db, broadcast_id)]

    @post("/held/{held_id:int}/approve", status_code=200)
    async def approve_held(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        broadcast_id: PathId,
        held_id: PathId,
    ) -> dict[str, Any]:
        """Approve exactly once, then post through the normal comment path (position, fan-out)."""
        actor, broadcast = await self._moderator(request, db, broadcast_id)
        try:
            held = await service.decide_held(db, actor, broadcast, held_id, approve=True)
        except ModerationError as exc:
            raise refuse(exc) from None
        author, text = held.member, held.text
        try:
            posted = await rooms.post_comment(db, broadcast.id, author, text, f"held-{held_id}", moderator=True)
        except rooms.RoomError as exc:
            await service.undo_approval(db, held_id)  # back in the queue, never lost
            raise refuse_room(exc) from None
        await service.set_held_position(db, held_id, posted.position)
        if not posted.duplicate:
            await publish_comment(bus, broadcast.id, posted)
        await publish_notice(bus, broadcast.id, "held")
        return {"id": held_id, "status": "approved", "position": posted.position}

    @post("/held/{held_id:int}/reject", status_code=200)
    async def reject_held(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        broadcast_id: PathId,
        held_id: PathId,
    ) -> dict[str, Any]:
        actor, broadcast = await self._moderator(request, db, broadcast_id)
        try:
            await service.decide_held(db, actor, broadcast, held_id, approve=False)
        except ModerationError as exc:
            raise refuse(exc) from None
        await publish_notice(bus, broadcast.id, "held")
        return {"id": held_id, "status": "rejected"}

    @post("/comments/{position:int}/hide", status_code=200)
    async def hide(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        broadcast_id: PathId,
        position: PathId,
        data: JSONBody[ReasonIn],
    ) -> dict[str, Any]:
        return await self._visibility(request, db, bus, broadcast_id, position, True, data.reason)

    @post("/comments/{position:int}/restore", status_code=200)
    async def restore(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        broadcast_id: PathId,
        position: PathId,
        data: JSONBody[ReasonIn],
    ) -> dict[str, Any]:
        return await self._visibility(request, db, bus, broadcast_id, position, False, data.reason)

    async def _visibility(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        broadcast_id: int,
        position: int,
        hidden: bool,
        reason: str,
    ) -> dict[str, Any]:
        actor, broadcast = await self._moderator(request, db, broadcast_id)
        try:
            author = await rooms.set_hidden(db, broadcast.id, position, actor, hidden, reason)
        except rooms.RoomError as exc:
            raise refuse_room(exc) from None
        await publish_visibility(bus, broadcast.id, position, hidden)
        return {"position": position, "hidden": hidden, "member_id": author}

    @get("/questions")
    async def questions(
        self, request: Request[Any, Any, Any], db: DbSession, broadcast_id: PathId
    ) -> list[msgspec.Raw]:
        await self._moderator(request, db, broadcast_id)
        return [msgspec.Raw(item) for _, item in await rooms.questions(db, broadcast_id)]

    @get("/sanctions")
    async def sanctions(
        self, request: Request[Any, Any, Any], db: DbSession, broadcast_id: PathId
    ) -> list[SanctionOut]:
        _, broadcast = await self._moderator(request, db, broadcast_id)
        return [SanctionOut.of(s) for s in await service.active_sanctions(db, broadcast)]

    @get("/viewers")
    async def viewers(
        self, request: Request[Any, Any, Any], db: DbSession, broadcast_id: PathId
    ) -> list[dict[str, Any]]:
        """Viewer-count samples over time (oldest first, at most the last 24 hours' worth)."""
        await self._moderator(request, db, broadcast_id)
        rows = await db.execute(
            select(ViewerSample.at, ViewerSample.viewers)
            .where(ViewerSample.broadcast_id == broadcast_id)
            .order_by(ViewerSample.at.desc())
            .limit(2880)
        )
        return [{"at": at, "viewers": n} for at, n in reversed(rows.all())]

    @post("/state", status_code=200)
    async def state(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        broadcast_id: PathId,
        data: JSONBody[StateIn],
    ) -> dict[str, Any]:
        """Open the lobby, go live, end (the host's buttons)."""
        actor, _ = await self._moderator(request, db, broadcast_id)
        try:
            target = BroadcastState(data.state)
            broadcast, changed = await change_state(db, bus, broadcast_id, target, actor)
        except ValueError:
            raise HTTPException(
                status_code=400, detail="状態の指定が正しくありません。", extra={"code": "invalid_state"}
            ) from None
        except ModerationError as exc:
            raise refuse(exc) from None
        return {"state": broadcast.state.value, "label": broadcast.state.label, "changed": changed}

    @post("/reports/{report_id:int}/handled", status_code=200)
    async def report_handled(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        broadcast_id: PathId,
        report_id: PathId,
    ) -> dict[str, Any]:
        actor, broadcast = await self._moderator(request, db, broadcast_id)
        try:
            await service.handle_report(db, actor, broadcast, report_id)
        except ModerationError as exc:
            raise refuse(exc) from None
        await publish_notice(bus, broadcast.id, "report")
        return {"id": report_id, "handled": True}

    @get("/reports")
    async def reports(
        self, request: Request[Any, Any, Any], db: DbSession, broadcast_id: PathId
    ) -> list[dict[str, Any]]:
        await self._moderator(request, db, broadcast_id)
        result = []
        for r in await service.open_reports(db, broadcast_id):
            item = await rooms.comment_at(db, broadcast_id, r.position)
            result.append(
                {
                    "id": r.id,
                    "position": r.position,
                    "reporter": r.reporter.name,
                    "reason": r.reason,
                    "at": r.created_at,
                    "comment": msgspec.Raw(item) if item else None,
                }
            )
        return result

    @get("/audit")
    async def audit(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        broadcast_id: PathId,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
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
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        bus: Bus,
        broadcast_id: PathId,
        data: JSONBody[ReportIn],
    ) -> dict[str, Any]:
        broadcast = await broadcast_or_404(db, broadcast_id)
        if await rooms.comment_at(db, broadcast.id, data.position) is None:
            raise HTTPException(
                status_code=404, detail="この放送にそのコメントはありません。", extra={"code": "comment_not_found"}
            )
        try:
            entry = await service.report(db, active_member(request), broadcast, data.position, data.reason)
        except ModerationError as exc:
            raise refuse(exc) from None
        await publish_notice(bus, broadcast.id, "report")
        return {"id": entry.id, "position": entry.position}
