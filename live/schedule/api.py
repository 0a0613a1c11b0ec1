"""JSON API of the schedule under /api/schedule (members; operators for changes)."""

from __future__ import annotations

import datetime as dt

import msgspec
from litestar import delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from core.access import MemberApi, operator_guard
from core.bounds import OptionalQueryId, PathId, in_range
from core.db import utcnow
from core.deps import Bus, DbSession, Me
from core.errors import Invalid
from core.timefmt import JST
from live.models import Broadcast, Program, ProgramException
from live.schedule import exceptions, programs, recurrence, service
from live.schedule.inputs import ExceptionInput, ProgramInput, RotationInput, validate_program
from live.schedule.service import ScheduleError

MAX_DAYS = 62


class GuestOut(msgspec.Struct):
    name: str
    member_id: int | None


class PersonOut(msgspec.Struct):
    id: int
    name: str
    affiliation: str


class BroadcastOut(msgspec.Struct):
    id: int
    program_id: int | None
    title: str
    state: str
    state_label: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    opens_at: dt.datetime
    occurrence_start: dt.datetime | None
    personality: PersonOut | None
    guests: list[GuestOut]
    section: str | None
    stream_url: str
    note: str
    url: str

    @classmethod
    def of(cls, b: Broadcast) -> BroadcastOut:
        p = b.personality
        program = b.program
        return cls(
            id=b.id,
            program_id=b.program_id,
            title=b.title,
            state=b.state.value,
            state_label=b.state.label,
            starts_at=b.starts_at,
            ends_at=b.ends_at,
            opens_at=b.opens_at,
            occurrence_start=b.occurrence_start,
            personality=PersonOut(p.id, p.name, p.affiliation) if p else None,
            guests=[GuestOut(g.display_name, g.member_id) for g in program.guests] if program else [],
            section=program.section.name if program and program.section else None,
            stream_url=b.stream_url,
            note=b.note,
            url=f"/broadcasts/{b.id}",
        )


class ExceptionOut(msgspec.Struct):
    id: int
    kind: str
    occurrence_start: dt.datetime
    personality_id: int | None
    starts_at: dt.datetime | None
    note: str

    @classmethod
    def of(cls, e: ProgramException) -> ExceptionOut:
        return cls(e.id, e.kind.value, e.occurrence_start, e.personality_id, e.starts_at, e.note)


class ProgramOut(msgspec.Struct):
    id: int
    title: str
    description: str
    section_id: int | None
    section: str | None
    personality: PersonOut | None
    guests: list[GuestOut]
    dtstart: dt.datetime
    duration_minutes: int
    lobby_minutes: int
    rrule: str
    timezone: str
    skip_holidays: bool
    active: bool
    rotation: str
    stream_url: str
    summary: str
    exceptions: list[ExceptionOut] = msgspec.field(default_factory=list)

    @classmethod
    def of(cls, p: Program, exceptions: list[ProgramException] | None = None) -> ProgramOut:
        person = p.personality
        return cls(
            id=p.id,
            title=p.title,
            description=p.description,
            section_id=p.section_id,
            section=p.section.name if p.section else None,
            personality=PersonOut(person.id, person.name, person.affiliation) if person else None,
            guests=[GuestOut(g.display_name, g.member_id) for g in p.guests],
            dtstart=p.dtstart,
            duration_minutes=p.duration_minutes,
            lobby_minutes=p.lobby_minutes,
            rrule=p.rrule,
            timezone=p.timezone,
            skip_holidays=p.skip_holidays,
            active=p.active,
            rotation=p.rotation,
            stream_url=p.stream_url,
            summary=recurrence.describe(p),
            exceptions=[ExceptionOut.of(e) for e in exceptions or []],
        )


class NowOut(msgspec.Struct):
    now: dt.datetime
    on_air: list[BroadcastOut]
    next_up: BroadcastOut | None
    today: list[BroadcastOut]


def _invalid(errors: dict[str, str], code: str = "invalid_program") -> Invalid:
    return Invalid(next(iter(errors.values())), fields=errors, code=code)


class ScheduleApi(MemberApi):
    path = "/api/schedule"
    tags = ["schedule"]

    @get("/")
    async def schedule(
        self,
        db: DbSession,
        start: FromQuery[str | None] = None,
        days: FromQuery[int] = 7,
        section: OptionalQueryId = None,
        personality: OptionalQueryId = None,
    ) -> list[BroadcastOut]:
        """Broadcasts from `start` (YYYY-MM-DD, JST; default today) for `days` days (1–62)."""
        if not 1 <= days <= MAX_DAYS:
            raise ScheduleError("bad_range", f"days は 1〜{MAX_DAYS} で指定してください。")
        try:
            day = in_range(dt.date.fromisoformat(start)) if start else utcnow().astimezone(JST).date()
        except (ValueError, Invalid):
            raise ScheduleError("bad_date", "start は 2026-11-23 の形式で指定してください。") from None
        lo, _ = service.jst_day_bounds(day)
        found = await service.broadcasts_between(
            db, lo, lo + dt.timedelta(days=days), section_id=section, personality_id=personality
        )
        return [BroadcastOut.of(b) for b in found]

    @get("/now")
    async def now(self, db: DbSession) -> NowOut:
        lineup = await service.lineup(db)
        return NowOut(
            now=utcnow(),
            on_air=[BroadcastOut.of(b) for b in lineup.now_on_air],
            next_up=BroadcastOut.of(lineup.next_up) if lineup.next_up else None,
            today=[BroadcastOut.of(b) for b in lineup.today],
        )

    @get("/broadcasts/{broadcast_id:int}")
    async def broadcast(self, db: DbSession, broadcast_id: PathId) -> BroadcastOut:
        return BroadcastOut.of(await service.get_broadcast(db, broadcast_id))

    @post("/broadcasts/{broadcast_id:int}/{action:str}", status_code=200)
    async def host_action(
        self, me: Me, db: DbSession, bus: Bus, broadcast_id: PathId, action: FromPath[str]
    ) -> BroadcastOut:
        """action: open | live | end (the personality, moderators and operators)."""
        return BroadcastOut.of(await service.host_action(db, bus, broadcast_id, action, me))

    @get("/programs")
    async def programs(self, db: DbSession) -> list[ProgramOut]:
        return [ProgramOut.of(p) for p in await service.list_programs(db)]

    @get("/programs/{program_id:int}")
    async def program(self, db: DbSession, program_id: PathId) -> ProgramOut:
        program = await service.get_program(db, program_id)
        return ProgramOut.of(program, await service.exceptions_of(db, program.id))

    # --- operators ---

    @post("/programs", status_code=201, guards=[operator_guard])
    async def create(self, db: DbSession, bus: Bus, data: JSONBody[ProgramInput]) -> ProgramOut:
        parsed, errors = await validate_program(db, data)
        if parsed is None:
            raise _invalid(errors)
        return ProgramOut.of(await programs.create_program(db, bus, parsed))

    @put("/programs/{program_id:int}", guards=[operator_guard])
    async def update(self, db: DbSession, bus: Bus, program_id: PathId, data: JSONBody[ProgramInput]) -> ProgramOut:
        program = await service.get_program(db, program_id)
        parsed, errors = await validate_program(db, data)
        if parsed is None:
            raise _invalid(errors)
        return ProgramOut.of(await programs.update_program(db, bus, program, parsed))

    @post("/rotations", status_code=201, guards=[operator_guard])
    async def rotation(self, db: DbSession, bus: Bus, data: JSONBody[RotationInput]) -> list[ProgramOut]:
        created, errors = await programs.create_rotation(db, bus, data)
        if errors:
            raise _invalid(errors, "invalid_rotation")
        return [ProgramOut.of(await service.get_program(db, p.id)) for p in created]

    @post("/programs/{program_id:int}/exceptions", status_code=201, guards=[operator_guard])
    async def add_exception(
        self, me: Me, db: DbSession, bus: Bus, program_id: PathId, data: JSONBody[ExceptionInput]
    ) -> ExceptionOut:
        program = await service.get_program(db, program_id)
        return ExceptionOut.of(await exceptions.add_exception(db, bus, program, data, me))

    @delete("/programs/{program_id:int}/exceptions/{exception_id:int}", status_code=204, guards=[operator_guard])
    async def remove_exception(self, db: DbSession, bus: Bus, program_id: PathId, exception_id: PathId) -> None:
        program = await service.get_program(db, program_id)
        await exceptions.remove_exception(db, bus, program, exception_id)
