"""Archive pages: past broadcasts with filters and search, each with its recordings and chat."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from litestar import MediaType, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy import select

from archive import chat, files, service
from archive.errors import ArchiveError
from archive.inputs import ROTATION_PREFIX, ArchiveFilters, ArchiveQuery, RecordingInput
from core.access import MemberPages
from core.bounds import PathId
from core.deps import AppSettings, DbSession, Me
from core.errors import Refusal
from core.forms import read_form
from core.members.models import Member
from core.sections.service import section_choices
from live.public import Broadcast, Program, can_manage, require_manager

NOTICES = {"added": "録画を登録しました。", "deleted": "録画を削除しました。"}


def program_filter_choices(programs: Sequence[Any]) -> list[tuple[str, str]]:
    """(value, label) for the program filter: a weekday rotation is one entry, not five identical titles.

    `programs`: anything with a program's id, title and rotation (rows of those columns, or programs).
    """
    choices: list[tuple[str, str]] = []
    seen: set[str] = set()
    for p in programs:
        if not p.rotation:
            choices.append((str(p.id), p.title))
        elif p.rotation not in seen:
            seen.add(p.rotation)
            choices.append((ROTATION_PREFIX + p.rotation, f"{p.rotation}（日替わり）"))
    return choices


async def _filter_choices(db: DbSession) -> dict[str, Any]:
    # Only the columns the filters show: every view of the list asks for them.
    programs = (await db.execute(select(Program.id, Program.title, Program.rotation).order_by(Program.title))).all()
    hosts = select(Program.personality_id).where(Program.personality_id.is_not(None))
    people = (await db.execute(select(Member.id, Member.name).where(Member.id.in_(hosts)).order_by(Member.name))).all()
    return {
        "programs": program_filter_choices(programs),
        "sections": await section_choices(db),
        "personalities": people,
    }


class ArchiveController(MemberPages):
    path = "/archive"

    @get("/")
    async def index(
        self,
        db: DbSession,
        program: FromQuery[str] = "",
        personality: FromQuery[str] = "",
        section: FromQuery[str] = "",
        month: FromQuery[str] = "",
        q: FromQuery[str] = "",
        page: FromQuery[str] = "1",
    ) -> Template:
        query = ArchiveQuery.of(program=program, personality=personality, section=section, month=month, q=q, page=page)
        error: str | None = None
        broadcasts: list[Broadcast] = []
        total = 0
        filters = ArchiveFilters()
        try:
            filters = query.filters()
            broadcasts, total = await service.search_archive(db, filters)
        except Refusal as exc:
            if exc.status != 400:
                raise
            error, filters = exc.message, ArchiveFilters()
        context = {
            "broadcasts": broadcasts,
            "total": total,
            "values": query.values(),
            "error": error,
            "page": filters.page,
            "pages": max(1, -(-total // service.PAGE_SIZE)),
            **await _filter_choices(db),
        }
        return Template("archive_index.html", context=context, status_code=400 if error else 200)

    @get("/{broadcast_id:int}")
    async def detail(self, me: Me, db: DbSession, broadcast_id: PathId, msg: FromQuery[str] = "") -> Template:
        return await _detail_page(me, db, broadcast_id, notice=NOTICES.get(msg))

    @post("/{broadcast_id:int}/recordings")
    async def add_recording(
        self, request: Request[Any, Any, Any], me: Me, db: DbSession, broadcast_id: PathId
    ) -> Response[Any]:
        form = await read_form(request)
        try:
            await service.add_recording(db, broadcast_id, me, RecordingInput.from_form(form))
        except ArchiveError as exc:  # re-render the form with the field error
            if exc.status in (403, 404, 409):
                raise
            errors = {exc.field or "url": exc.message}
            return await _detail_page(me, db, broadcast_id, errors=errors, values=form, status=400)
        return Redirect(f"/archive/{broadcast_id}?msg=added", status_code=303)

    @post("/{broadcast_id:int}/recordings/{recording_id:int}/delete")
    async def delete_recording(
        self, me: Me, db: DbSession, broadcast_id: PathId, recording_id: PathId
    ) -> Response[Any]:
        await service.delete_recording(db, broadcast_id, recording_id, me)
        return Redirect(f"/archive/{broadcast_id}?msg=deleted", status_code=303)

    @get("/{broadcast_id:int}/replay.json", media_type=MediaType.JSON)
    async def replay(self, db: DbSession, broadcast_id: PathId) -> Response[bytes]:
        """The chat as members replay it beside the recording (hidden comments never included)."""
        broadcast = await _past(db, broadcast_id)
        feed = chat.ReplayFeed(broadcast_id=broadcast.id, comments=await chat.replay_items(db, broadcast.id))
        return Response(msgspec.json.encode(feed), media_type=MediaType.JSON, headers=NO_STORE)

    @get("/{broadcast_id:int}/chat.csv")
    async def export_csv(self, me: Me, db: DbSession, broadcast_id: PathId) -> Response[bytes]:
        broadcast = await _manageable(me, db, broadcast_id)
        body = chat.to_csv(await chat.replay_items(db, broadcast.id))
        return Response(body, media_type="text/csv; charset=utf-8", headers=_download(f"chat-{broadcast.id}.csv"))

    @get("/{broadcast_id:int}/chat.json")
    async def export_json(self, me: Me, db: DbSession, broadcast_id: PathId) -> Response[bytes]:
        broadcast = await _manageable(me, db, broadcast_id)
        body = chat.to_json(broadcast, await chat.replay_items(db, broadcast.id))
        return Response(body, media_type=MediaType.JSON, headers=_download(f"chat-{broadcast.id}.json"))

    @get("/{broadcast_id:int}/stats")
    async def stats(self, me: Me, db: DbSession, broadcast_id: PathId) -> Template:
        broadcast = await _manageable(me, db, broadcast_id)
        return Template(
            "archive_stats.html", context={"broadcast": broadcast, "stats": await chat.stats(db, broadcast.id)}
        )

    @get("/media/{name:str}")
    async def media(self, request: Request[Any, Any, Any], settings: AppSettings, name: FromPath[str]) -> Response[Any]:
        try:
            path = files.media_path(settings.media_dir, name)
            return files.file_response(path, request.headers.get("range"))
        except files.MediaNotFound:
            raise NotFoundException(detail="録画ファイルが見つかりません。") from None
        except files.RangeNotSatisfiable as exc:
            return Response(b"", status_code=416, headers={"content-range": f"bytes */{exc.size}"})


NO_STORE = {"cache-control": "private, no-store"}


def _download(filename: str) -> dict[str, str]:
    return {**NO_STORE, "content-disposition": f'attachment; filename="{filename}"'}


async def _past(db: DbSession, broadcast_id: int) -> Broadcast:
    return await service.get_past_broadcast(db, broadcast_id)


async def _manageable(me: Member, db: DbSession, broadcast_id: int) -> Broadcast:
    """Exports and statistics are for the broadcast's host and operators."""
    broadcast = await _past(db, broadcast_id)
    message = "チャットの書き出しと統計は、この放送のパーソナリティと運営だけが利用できます。"
    require_manager(me, broadcast, message, code="not_host")
    return broadcast


async def _detail_page(
    me: Member,
    db: DbSession,
    broadcast_id: int,
    *,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    broadcast = await _past(db, broadcast_id)
    context = {
        "broadcast": broadcast,
        "recordings": await service.recordings_of(db, broadcast_id),
        "can_manage": can_manage(me, broadcast),
        "notice": notice,
        "errors": errors or {},
        "values": values or {},
    }
    return Template("archive_detail.html", context=context, status_code=status)
