"""Schedule pages (Japanese): week view, programs, personalities, broadcasts, operator forms, calendar links."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from core.access import MemberPages, OperatorPages
from core.bounds import PathId, in_range
from core.db import utcnow
from core.deps import AppSettings, Bus, DbSession, Me
from core.errors import Invalid, Refusal
from core.forms import read_form
from core.members.models import Member, Role
from core.timefmt import JST, WEEKDAYS
from live.access import can_host
from live.models import Broadcast, BroadcastState, ExceptionKind, Program
from live.schedule import calendars, exceptions, materialise, programs, projection, recurrence, rule_editor, service
from live.schedule.inputs import (
    ExceptionInput,
    ProgramData,
    ProgramInput,
    RotationInput,
    program_form_values,
    validate_program,
)
from live.schedule.service import ScheduleError
from live.stream import room_context

NOTICES = {
    "created": "番組を作成しました。",
    "rotation": "日替わりローテーションを作成しました。",
    "saved": "番組を保存しました。",
    "exception_added": "変更を登録しました。",
    "exception_removed": "変更を取り消しました。",
    "opened": "待機室を開きました。",
    "live": "放送を開始しました。",
    "ended": "放送を終了しました。",
    "token": "カレンダー用の非公開リンクを発行しました。以前のリンクは使えなくなりました。",
    "token_revoked": "カレンダー用の非公開リンクを無効にしました。",
}


def _week_start(raw: str | None, today: dt.date) -> tuple[dt.date, str | None]:
    day = today
    problem = None
    if raw:
        try:
            day = in_range(dt.date.fromisoformat(raw.strip()[:10]))
        except (ValueError, Invalid):
            day, problem = today, "週の指定が正しくありません。今週を表示しています。"
    return day - dt.timedelta(days=day.weekday()), problem


def _int_param(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isascii() and raw.isdigit() and len(raw) < 10 else None


class SchedulePages(MemberPages):
    path = "/schedule"

    @get("/")
    async def week(
        self,
        db: DbSession,
        week: FromQuery[str | None] = None,
        section: FromQuery[str | None] = None,
        personality: FromQuery[str | None] = None,
        msg: FromQuery[str | None] = None,
    ) -> Template:
        now = utcnow()
        start_day, problem = _week_start(week, now.astimezone(JST).date())
        if start_day > projection.LAST_DAY - dt.timedelta(days=6) or start_day.year < 2000:
            start_day, _ = _week_start(None, now.astimezone(JST).date())
            problem = f"番組表は2000年から{projection.LAST_DAY.year}年までを表示できます。今週を表示しています。"
        section_id, personality_id = _int_param(section), _int_param(personality)
        start, _ = service.jst_day_bounds(start_day)
        # Beyond the 30-day materialisation horizon the week is computed from the programs' rules.
        broadcasts = await projection.week_entries(
            db, start, start + dt.timedelta(days=7), now, section_id=section_id, personality_id=personality_id
        )
        days = []
        for offset in range(7):
            day = start_day + dt.timedelta(days=offset)
            items = [b for b in broadcasts if b.starts_at.astimezone(JST).date() == day]
            days.append(
                {
                    "date": day,
                    "weekday": WEEKDAYS[day.weekday()],
                    "holiday": recurrence.holiday_name(day),
                    "broadcasts": items,
                    "today": day == now.astimezone(JST).date(),
                }
            )
        return Template(
            "schedule/week.html",
            context={
                "days": days,
                "week_start": start_day,
                "prev_week": start_day - dt.timedelta(days=7),
                "next_week": start_day + dt.timedelta(days=7),
                "sections": await service.sections(db),
                "personalities": await service.active_members(db),
                "section_id": section_id,
                "personality_id": personality_id,
                "notice": problem or NOTICES.get(msg or ""),
            },
        )

    @get("/fragments/home")
    async def home_fragment(self, db: DbSession) -> Template:
        return Template("schedule/_home_lineup.html", context={"lineup": await service.lineup(db)})

    @get("/programs")
    async def programs(self, db: DbSession) -> Template:
        programs = await service.list_programs(db)
        return Template("schedule/programs.html", context={"programs": programs, "describe": recurrence.describe})

    @get("/programs/{program_id:int}")
    async def program(self, me: Me, db: DbSession, program_id: PathId, msg: FromQuery[str | None] = None) -> Template:
        return await _program_page(me, db, program_id, notice=NOTICES.get(msg or ""))

    @get("/personalities/{member_id:int}")
    async def personality(self, db: DbSession, member_id: PathId) -> Template:
        member = await service.get_personality(db, member_id)
        now = utcnow()
        return Template(
            "schedule/personality.html",
            context={
                "person": member,
                "programs": await service.list_programs(db, personality_id=member.id),
                "upcoming": await service.broadcasts_between(
                    db, now - dt.timedelta(hours=3), now + materialise.HORIZON, personality_id=member.id, limit=60
                ),
                "describe": recurrence.describe,
            },
        )

    @get("/calendars")
    async def calendar_links(
        self, me: Me, db: DbSession, settings: AppSettings, msg: FromQuery[str | None] = None
    ) -> Template:
        token = await calendars.feed_token(db, me, settings.secret_key)
        return Template(
            "schedule/calendars.html",
            context={"token": token, "base_url": settings.base_url, "notice": NOTICES.get(msg or "")},
        )

    @post("/calendars/token")
    async def issue_token(self, me: Me, db: DbSession, settings: AppSettings) -> Redirect:
        await calendars.issue_feed_token(db, me, settings.secret_key)
        return Redirect("/schedule/calendars?msg=token", status_code=303)

    @post("/calendars/token/revoke")
    async def revoke_token(self, me: Me, db: DbSession) -> Redirect:
        await calendars.revoke_feed_token(db, me)
        return Redirect("/schedule/calendars?msg=token_revoked", status_code=303)


async def _program_page(
    me: Member,
    db: DbSession,
    program_id: int,
    *,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    program = await service.get_program(db, program_id)
    now = utcnow()
    siblings = []
    if program.rotation:
        siblings = [p for p in await service.list_programs(db) if p.rotation == program.rotation and p.id != program.id]
    upcoming = await service.broadcasts_between(
        db,
        now - dt.timedelta(minutes=program.duration_minutes),
        now + materialise.HORIZON,
        program_id=program.id,
        limit=40,
    )
    next_starts = recurrence.next_rule_starts(program, now, 30) if me.has_role(Role.OPERATOR) else []
    return Template(
        "schedule/program.html",
        context={
            "program": program,
            "description": recurrence.describe(program),
            "upcoming": upcoming,
            "exceptions": await service.exceptions_of(db, program.id),
            "siblings": siblings,
            "next_starts": next_starts,
            "tz": recurrence.zone(program.timezone or recurrence.DEFAULT_TZ),
            "members": await service.active_members(db) if me.has_role(Role.OPERATOR) else [],
            "kinds": list(ExceptionKind),
            "stream_label": service.stream_label(program.stream_url) if program.stream_url else "",
            "notice": notice,
            "errors": errors or {},
            "values": values or {},
        },
        status_code=status,
    )


async def _edit_page(
    db: DbSession, *, program: Program | None, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Template:
    return Template(
        "schedule/program_form.html",
        context={
            "program": program,
            "values": values,
            "errors": errors,
            "sections": await service.sections(db),
            "members": await service.active_members(db),
            "repeats": rule_editor.REPEATS,
            "nths": rule_editor.NTHS,
            "weekdays": list(zip(recurrence.WEEKDAY_CODES, recurrence.WEEKDAY_LABELS, strict=True)),
        },
        status_code=status,
    )


def _new_form(today: dt.date, start_time: str, end_time: str, **more: str) -> dict[str, str]:
    """A new program's or rotation's form: from today at the times given, a 10-minute lobby, Japan time."""
    first = {"start_date": today.isoformat(), "start_time": start_time, "end_time": end_time, "lobby_minutes": "10"}
    return {**first, "timezone": recurrence.DEFAULT_TZ, **more}


async def _posted_program(
    request: Request[Any, Any, Any], db: DbSession, program: Program | None
) -> ProgramData | Template:
    """The program editor's form validated, or the editor again with its errors (400)."""
    form = await read_form(request)
    program_input, repeat_error = ProgramInput.from_editor_form(form)
    data, errors = await validate_program(db, program_input, repeat_error=repeat_error)
    if data is None:
        return await _edit_page(db, program=program, values=form, errors=errors, status=400)
    return data


class ProgramAdminPages(OperatorPages):
    path = "/schedule"

    @get("/programs/new")
    async def new_program(self, db: DbSession) -> Template:
        today = utcnow().astimezone(JST).date()
        day = recurrence.WEEKDAY_CODES[today.weekday()]
        more = {"repeat": "weekly", "interval": "1", f"day_{day}": "on", "rrule": f"FREQ=WEEKLY;BYDAY={day}"}
        values = _new_form(today, "21:00", "22:00", active="on", **more)
        return await _edit_page(db, program=None, values=values, errors={})

    @post("/programs/new")
    async def create_program(self, request: Request[Any, Any, Any], db: DbSession, bus: Bus) -> Response[Any]:
        data = await _posted_program(request, db, None)
        if isinstance(data, Template):
            return data
        program = await programs.create_program(db, bus, data)
        return Redirect(f"/schedule/programs/{program.id}?msg=created", status_code=303)

    @get("/programs/{program_id:int}/edit")
    async def edit_program(self, db: DbSession, program_id: PathId) -> Template:
        program = await service.get_program(db, program_id)
        return await _edit_page(db, program=program, values=program_form_values(program), errors={})

    @post("/programs/{program_id:int}/edit")
    async def save_program(
        self, request: Request[Any, Any, Any], db: DbSession, bus: Bus, program_id: PathId
    ) -> Response[Any]:
        program = await service.get_program(db, program_id)
        data = await _posted_program(request, db, program)
        if isinstance(data, Template):
            return data
        await programs.update_program(db, bus, program, data)
        return Redirect(f"/schedule/programs/{program.id}?msg=saved", status_code=303)

    @get("/rotation/new")
    async def new_rotation(self, db: DbSession) -> Template:
        values = _new_form(utcnow().astimezone(JST).date(), "12:10", "12:40", skip_holidays="on")
        return await _rotation_page(db, values, {})

    @post("/rotation/new")
    async def create_rotation(self, request: Request[Any, Any, Any], db: DbSession, bus: Bus) -> Response[Any]:
        form = await read_form(request)
        form.setdefault("timezone", recurrence.DEFAULT_TZ)
        created, errors = await programs.create_rotation(db, bus, RotationInput.from_form(form))
        if errors:
            return await _rotation_page(db, form, errors, status=400)
        return Redirect(f"/schedule/programs/{created[0].id}?msg=rotation", status_code=303)

    @post("/programs/{program_id:int}/exceptions")
    async def add_exception(
        self, request: Request[Any, Any, Any], me: Me, db: DbSession, bus: Bus, program_id: PathId
    ) -> Response[Any]:
        form = await read_form(request)
        try:
            program = await service.get_program(db, program_id)
            await exceptions.add_exception(db, bus, program, ExceptionInput.from_form(form), me)
        except ScheduleError as exc:
            if exc.status != 400:
                raise
            return await _program_page(me, db, program_id, errors=exc.fields, values=form, status=400)
        return Redirect(f"/schedule/programs/{program_id}?msg=exception_added#exceptions", status_code=303)

    @post("/programs/{program_id:int}/exceptions/{exception_id:int}/delete")
    async def remove_exception(self, db: DbSession, bus: Bus, program_id: PathId, exception_id: PathId) -> Redirect:
        program = await service.get_program(db, program_id)
        await exceptions.remove_exception(db, bus, program, exception_id)
        return Redirect(f"/schedule/programs/{program_id}?msg=exception_removed#exceptions", status_code=303)


async def _rotation_page(db: DbSession, values: dict[str, str], errors: dict[str, str], status: int = 200) -> Template:
    return Template(
        "schedule/rotation_form.html",
        context={
            "values": values,
            "errors": errors,
            "sections": await service.sections(db),
            "members": await service.active_members(db),
            "weekdays": list(zip(recurrence.WEEKDAY_CODES, recurrence.WEEKDAY_LABELS, strict=True)),
        },
        status_code=status,
    )


async def _broadcast_context(db: DbSession, broadcast: Broadcast, member: Member) -> dict[str, Any]:
    return {
        "broadcast": broadcast,
        "program": broadcast.program,
        "can_host": await can_host(db, member, broadcast),
        "stream_label": service.stream_label(broadcast.stream_url) if broadcast.stream_url else "",
        "S": BroadcastState,
    }


class BroadcastPages(MemberPages):
    path = "/broadcasts"

    @get("/{broadcast_id:int}")
    async def broadcast(
        self, me: Me, db: DbSession, broadcast_id: PathId, msg: FromQuery[str | None] = None
    ) -> Template:
        broadcast = await service.get_broadcast(db, broadcast_id)
        context = await _broadcast_context(db, broadcast, me)
        context["notice"] = NOTICES.get(msg or "")
        # The broadcast page hosts the live comment room (stream embed + comments).
        room = room_context(broadcast)
        context.update(stream_url=room["stream_url"], embed_url=room["embed_url"], show_room=True)
        # live.access: whoever may host may moderate (can_host is can_moderate); asked once, not twice.
        context["can_moderate"] = context["can_host"]
        return Template("broadcast.html", context=context)

    @get("/{broadcast_id:int}/status")
    async def status(self, me: Me, db: DbSession, broadcast_id: PathId) -> Template:
        broadcast = await service.get_broadcast(db, broadcast_id)
        return Template("schedule/_broadcast_status.html", context=await _broadcast_context(db, broadcast, me))

    @post("/{broadcast_id:int}/state")
    async def change_state(
        self, request: Request[Any, Any, Any], me: Me, db: DbSession, bus: Bus, broadcast_id: PathId
    ) -> Response[Any]:
        form = await read_form(request)
        try:
            broadcast = await service.host_action(db, bus, broadcast_id, form.get("action", ""), me)
        except Refusal as exc:  # re-render the page with the reason next to the buttons
            if exc.status in (403, 404):
                raise
            current = await service.get_broadcast(db, broadcast_id)
            context = await _broadcast_context(db, current, me)
            context["action_error"] = exc.message
            return Template("broadcast.html", context=context, status_code=exc.status)
        msg = {"open": "opened", "live": "live", "ended": "ended"}.get(broadcast.state.value, "")
        return Redirect(f"/broadcasts/{broadcast_id}?msg={msg}", status_code=303)
