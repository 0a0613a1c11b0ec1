"""Route handlers of live.rooms: the viewer page, the WebSocket, comment reads, limits, /metrics."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Response, asgi, get, put
from litestar.exceptions import NotFoundException
from litestar.params import JSONBody, QueryParameter
from litestar.response import Template
from sqlalchemy import select

from core.access import member_guard, moderator_guard, operator_guard
from core.bounds import PathId, QueryPosition
from core.db import utcnow
from core.deps import DbSession, Me
from live.access import can_moderate
from live.models import Broadcast
from live.rooms import metrics, service
from live.rooms.moderation_api import ReportController, RoomModerationController
from live.rooms.protocol import Limits
from live.rooms.socket import room_socket
from live.stream import room_context


async def _broadcast(db: DbSession, broadcast_id: int) -> Broadcast:
    broadcast = (await db.execute(select(Broadcast).where(Broadcast.id == broadcast_id))).scalar_one_or_none()
    if broadcast is None:
        raise NotFoundException(detail="この放送は見つかりません。")
    return broadcast


@get("/broadcasts/{broadcast_id:int}/room", guards=[member_guard], include_in_schema=False)
async def room_page(db: DbSession, broadcast_id: PathId) -> Template:
    broadcast = await _broadcast(db, broadcast_id)
    return Template("room.html", context=room_context(broadcast))


# room_socket itself is the handler: a wrapper's coroutine frame would stay alive with every open socket.
room_ws = asgi("/ws/rooms", is_mount=False, copy_scope=False)(room_socket)


class CommentsPage(msgspec.Struct, kw_only=True):
    items: list[msgspec.Raw]
    last_position: int


@get("/api/broadcasts/{broadcast_id:int}/comments", guards=[member_guard])
async def list_comments(
    me: Me,
    db: DbSession,
    broadcast_id: PathId,
    after: QueryPosition = 0,
    limit: Annotated[int, QueryParameter(ge=1, le=service.PAGE_SIZE)] = 200,
) -> CommentsPage:
    """Stored comments after a position, in order: exactly what this member's room socket shows.

    Hidden comments are left out, and with a display delay a viewer (not a moderator) reads only
    comments older than the delay, so nothing reaches HTTP before it reaches the viewers' sockets.
    """
    info = await service.room_info(db, broadcast_id)
    if info is None:
        raise NotFoundException(detail="この放送は見つかりません。")
    upto = info.last_position
    broadcast = await db.get(Broadcast, broadcast_id)
    if broadcast is not None and not await can_moderate(db, me, broadcast):
        delay = await service.display_delay(db, broadcast_id)
        if delay:
            upto = await service.last_position_before(db, broadcast_id, utcnow() - dt.timedelta(seconds=delay))
    rows = await service.comments_between(db, broadcast_id, after, min(upto, after + limit), visible_only=True)
    return CommentsPage(items=[msgspec.Raw(item) for _, item in rows], last_position=upto)


class LimitsUpdate(msgspec.Struct, forbid_unknown_fields=True):
    max_length: Annotated[int, msgspec.Meta(ge=1, le=1000)]
    rate_count: Annotated[int, msgspec.Meta(ge=1, le=1000)]
    rate_seconds: Annotated[int, msgspec.Meta(ge=1, le=3600)]


@put("/api/broadcasts/{broadcast_id:int}/room/limits", guards=[moderator_guard])
async def update_limits(db: DbSession, broadcast_id: PathId, data: JSONBody[LimitsUpdate]) -> Limits:
    """Per-room comment limits (moderators and above)."""
    return await service.set_limits(db, broadcast_id, Limits(**msgspec.structs.asdict(data)))


@get("/metrics", guards=[operator_guard], include_in_schema=False)
async def prometheus_metrics() -> Response[bytes]:
    """Prometheus text format (this process); scrape with an operator's API token."""
    return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


route_handlers: list[Any] = [
    room_page,
    room_ws,
    list_comments,
    update_limits,
    prometheus_metrics,
    RoomModerationController,
    ReportController,
]
