"""Moderation JSON API: thin handlers that parse, guard (live.access), call one service function, publish.

Moderators' actions on the room's comments (held comments, hide/restore, questions, reports) live in
live/rooms/moderation_api.py, because they go through the comment path.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from litestar import delete, get, post
from litestar.params import JSONBody, QueryParameter

from core.access import MemberApi
from core.bounds import Id, PathId, Position
from core.deps import Bus, DbSession, Me
from core.errors import Invalid
from live.access import moderated_broadcast
from live.models import BroadcastState
from live.moderation import audit, controls, reports, sanctions, words
from live.moderation.events import ControlValues, publish_controls, publish_notice, publish_restriction
from live.moderation.models import BlockedWord, ModerationAction, RoomControls, Sanction
from live.schedule import service as schedule

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


class ControlsOut(ControlValues):
    @classmethod
    def of(cls, c: RoomControls) -> ControlsOut:
        return cls(**{f: getattr(c, f) for f in ControlValues.__struct_fields__})


class WordIn(msgspec.Struct, forbid_unknown_fields=True):
    word: Annotated[str, msgspec.Meta(max_length=200)]
    action: str = "hold"
    site_wide: bool = False


class WordOut(msgspec.Struct):
    id: int
    word: str
    action: str
    site_wide: bool
    label: str  # the action in Japanese (WordAction.label), as the control page shows it

    @classmethod
    def of(cls, w: BlockedWord) -> WordOut:
        return cls(w.id, w.word, w.action.value, w.program_id is None, w.action.label)


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
    label: str  # kind and scope in Japanese (Sanction.label), as the control page shows it

    @classmethod
    def of(cls, s: Sanction) -> SanctionOut:
        return cls(s.id, s.member_id, s.member.name, s.kind.value, s.scope.value, s.until, s.reason, s.label)


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
            audit.ACTION_LABELS.get(a.action, a.action),
            a.actor.name if a.actor else None,
            a.target_member.name if a.target_member else None,
            a.target_position,
            a.detail,
            a.reason,
            a.created_at,
        )


class RestrictionOut(msgspec.Struct):
    member_id: int
    until: dt.datetime | None


class BanOut(msgspec.Struct):
    member_id: int
    scope: str


class LiftOut(msgspec.Struct):
    member_id: int
    lifted: int  # how many sanctions were lifted


class ViewerSampleOut(msgspec.Struct):
    at: dt.datetime
    viewers: int


class StateOut(msgspec.Struct):
    state: str
    label: str
    changed: bool


class ReportHandledOut(msgspec.Struct):
    id: int
    handled: bool


class ModerationController(MemberApi):
    """Sanctions, controls, words, audit and state; each call checks the moderator (roles are per program)."""

    path = "/api/broadcasts/{broadcast_id:int}/moderation"
    tags = ["moderation"]

    @post("/timeout", status_code=200)
    async def timeout(
        self, me: Me, db: DbSession, bus: Bus, broadcast_id: PathId, data: JSONBody[TimeoutIn]
    ) -> RestrictionOut:
        actor, broadcast = await moderated_broadcast(db, me, broadcast_id)
        sanction = await sanctions.timeout(db, actor, broadcast, data.member_id, data.seconds, data.reason)
        await publish_restriction(bus, broadcast.id, data.member_id, "timed_out", sanction.until)
        return RestrictionOut(data.member_id, sanction.until)

    @post("/ban", status_code=200)
    async def ban(self, me: Me, db: DbSession, bus: Bus, broadcast_id: PathId, data: JSONBody[BanIn]) -> BanOut:
        actor, broadcast = await moderated_broadcast(db, me, broadcast_id)
        await sanctions.ban(db, actor, broadcast, data.member_id, data.scope, data.reason)
        await publish_restriction(bus, broadcast.id, data.member_id, "banned", None)
        return BanOut(data.member_id, data.scope)

    @post("/lift", status_code=200)
    async def lift(self, me: Me, db: DbSession, bus: Bus, broadcast_id: PathId, data: JSONBody[LiftIn]) -> LiftOut:
        actor, broadcast = await moderated_broadcast(db, me, broadcast_id)
        lifted = await sanctions.lift(db, actor, broadcast, data.member_id, data.reason)
        await publish_restriction(bus, broadcast.id, data.member_id, None, None)
        return LiftOut(data.member_id, lifted)

    @get("/controls")
    async def get_controls(self, me: Me, db: DbSession, broadcast_id: PathId) -> ControlsOut:
        await moderated_broadcast(db, me, broadcast_id)
        room = await controls.controls(db, broadcast_id)
        await db.commit()
        return ControlsOut.of(room)

    @post("/controls", status_code=200)
    async def set_controls(
        self, me: Me, db: DbSession, bus: Bus, broadcast_id: PathId, data: JSONBody[ControlsIn]
    ) -> ControlsOut:
        actor, broadcast = await moderated_broadcast(db, me, broadcast_id)
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None}
        if not changes:
            raise Invalid("変更する設定を指定してください。", code="no_change")
        out = ControlsOut.of(await controls.set_controls(db, actor, broadcast, **changes))
        await publish_controls(bus, broadcast.id, msgspec.structs.asdict(out))
        return out

    @get("/words")
    async def words(self, me: Me, db: DbSession, broadcast_id: PathId) -> list[WordOut]:
        _, broadcast = await moderated_broadcast(db, me, broadcast_id)
        return [WordOut.of(w) for w in await words.blocked_words(db, broadcast.program_id)]

    @post("/words", status_code=201)
    async def add_word(self, me: Me, db: DbSession, bus: Bus, broadcast_id: PathId, data: JSONBody[WordIn]) -> WordOut:
        actor, broadcast = await moderated_broadcast(db, me, broadcast_id)
        program_id = None if data.site_wide else broadcast.program_id
        if program_id is None and not data.site_wide:
            raise Invalid("番組に属さない放送ではサイト全体の禁止ワードを使ってください。", code="bad_request")
        word = WordOut.of(await words.add_blocked_word(db, actor, data.word, data.action, program_id, broadcast))
        await publish_notice(bus, broadcast.id, "words")
        return word

    @delete("/words/{word_id:int}", status_code=204)
    async def remove_word(self, me: Me, db: DbSession, bus: Bus, broadcast_id: PathId, word_id: PathId) -> None:
        actor, broadcast = await moderated_broadcast(db, me, broadcast_id)
        await words.remove_blocked_word(db, actor, word_id, broadcast)
        await publish_notice(bus, broadcast.id, "words")

    @get("/sanctions")
    async def sanctions(self, me: Me, db: DbSession, broadcast_id: PathId) -> list[SanctionOut]:
        _, broadcast = await moderated_broadcast(db, me, broadcast_id)
        return [SanctionOut.of(s) for s in await sanctions.active_sanctions(db, broadcast)]

    @get("/viewers")
    async def viewers(self, me: Me, db: DbSession, broadcast_id: PathId) -> list[ViewerSampleOut]:
        """Viewer-count samples over time (oldest first, at most the last 24 hours' worth)."""
        await moderated_broadcast(db, me, broadcast_id)
        return [ViewerSampleOut(at, n) for at, n in await audit.viewer_samples(db, broadcast_id)]

    @post("/state", status_code=200)
    async def state(self, me: Me, db: DbSession, bus: Bus, broadcast_id: PathId, data: JSONBody[StateIn]) -> StateOut:
        """Open the lobby, go live, end: the control page's buttons, through the schedule's one state change."""
        actor, _ = await moderated_broadcast(db, me, broadcast_id)
        try:
            target = BroadcastState(data.state)
        except ValueError:
            raise Invalid("状態の指定が正しくありません。", code="invalid_state") from None
        result = await schedule.change_state(db, bus, broadcast_id, target, actor)
        return StateOut(result.broadcast.state.value, result.broadcast.state.label, result.changed)

    @post("/reports/{report_id:int}/handled", status_code=200)
    async def report_handled(
        self, me: Me, db: DbSession, bus: Bus, broadcast_id: PathId, report_id: PathId
    ) -> ReportHandledOut:
        actor, broadcast = await moderated_broadcast(db, me, broadcast_id)
        await reports.handle_report(db, actor, broadcast, report_id)
        await publish_notice(bus, broadcast.id, "report")
        return ReportHandledOut(report_id, True)

    @get("/audit")
    async def audit(
        self, me: Me, db: DbSession, broadcast_id: PathId, limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200
    ) -> list[AuditOut]:
        await moderated_broadcast(db, me, broadcast_id)
        return [AuditOut.of(a) for a in (await audit.audit_log(db, broadcast_id))[: max(1, min(limit, 1000))]]
