"""Organisers mark who took part: `POST /api/faq/sessions/{id}/attendance` and the session page's form."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, post
from litestar.params import JSONBody
from litestar.response import Redirect

from core.access import member_guard
from core.bounds import PathId
from core.deps import DbSession, Me
from core.errors import Invalid, Refusal
from core.members.models import Member
from faq import attendance, service
from faq.service import FaqError


class AttendanceIn(msgspec.Struct):
    member_id: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
    attended: bool = True


class AttendanceOut(msgspec.Struct):
    session_id: int
    member_id: int
    attended: bool


async def _mark(me: Member, db: DbSession, session_id: int, member_id: int, on: bool) -> None:
    try:
        session = await service.get_session(db, session_id)
        await attendance.mark(db, me, session, member_id, on)
    except FaqError as exc:
        raise Refusal(exc.code, exc.message, exc.status) from None


@post("/api/faq/sessions/{session_id:int}/attendance", guards=[member_guard], tags=["faq"], status_code=200)
async def mark_attendance(me: Me, db: DbSession, session_id: PathId, data: JSONBody[AttendanceIn]) -> AttendanceOut:
    await _mark(me, db, session_id, data.member_id, data.attended)
    return AttendanceOut(session_id, data.member_id, data.attended)


@post("/faq/sessions/{session_id:int}/attendance", guards=[member_guard], include_in_schema=False)
async def mark_attendance_form(request: Request[Any, Any, Any], me: Me, db: DbSession, session_id: PathId) -> Redirect:
    form = await request.form()
    raw = str(form.get("member_id", ""))
    if not raw.isdigit() or len(raw) > 9:
        raise Invalid("メンバーを選んでください。", fields={"member_id": "メンバーを選んでください。"})
    await _mark(me, db, session_id, int(raw), form.get("attended") == "on")
    return Redirect(f"/faq/sessions/{session_id}#attendance", status_code=303)


route_handlers: list[Any] = [mark_attendance, mark_attendance_form]
