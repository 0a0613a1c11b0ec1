# size: schedule_events is one socket lifecycle (checks, subscribe, relay, close) kept in one function.
"""Calendar feeds (.ics, members only by session, Bearer token or private link) and the live state socket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from litestar import Request, Response, WebSocket, get, websocket
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromQuery

from core.access import ORIGIN_REFUSED, active_member, current_member, origin_allowed, origin_refusal
from core.bounds import PathId
from core.deps import AppSettings, DbSession
from core.members.models import Member
from core.notify import prefs
from core.settings import Settings
from core.sockets import (
    CLOSE_ACCOUNT_INACTIVE,
    CLOSE_SESSION_ENDED,
    CLOSE_TOO_MANY_SOCKETS,
    FrameBudget,
    credential_of,
    frame_refusal,
    registry_for,
)
from live.events import SCHEDULE_CHANNEL
from live.schedule import calendars, service

log = logging.getLogger("chonai.schedule")

QUEUE_LIMIT = 200


async def _feed_member(request: Request[Any, Any, Any], db: DbSession, settings: Settings, token: str | None) -> Member:
    if token:
        member = await calendars.member_for_feed_token(db, token[:100], settings.secret_key)
        if member is None:
            raise NotAuthorizedException(
                detail="カレンダーのリンクが無効です。プロフィールのカレンダー連携から新しいリンクを発行してください。"
            )
        return member
    if current_member(request) is None:
        raise NotAuthorizedException(detail="ログイン、APIトークン、またはカレンダー用の非公開リンクが必要です。")
    return active_member(request)


async def _lead(db: DbSession, member: Member) -> int:
    """The member's reminder lead time (notification settings) for the feed's VALARMs; 0 = none."""
    return (await prefs.load(db, member.id)).lead_minutes


def _ics(body: bytes, filename: str) -> Response[bytes]:
    return Response(
        body,
        media_type="text/calendar",  # Litestar adds "; charset=utf-8" to text/* itself
        headers={"cache-control": "private, max-age=300", "content-disposition": f'inline; filename="{filename}"'},
    )


@get("/schedule.ics", include_in_schema=False)
async def schedule_ics(
    request: Request[Any, Any, Any], db: DbSession, settings: AppSettings, token: FromQuery[str | None] = None
) -> Response[bytes]:
    lead = await _lead(db, await _feed_member(request, db, settings, token))
    return _ics(await calendars.feed(db, settings.base_url, lead_minutes=lead), "chonai.ics")


@get("/schedule/programs/{program_id:int}/calendar.ics", include_in_schema=False)
async def program_ics(
    request: Request[Any, Any, Any],
    db: DbSession,
    settings: AppSettings,
    program_id: PathId,
    token: FromQuery[str | None] = None,
) -> Response[bytes]:
    lead = await _lead(db, await _feed_member(request, db, settings, token))
    await service.get_program(db, program_id)
    body = await calendars.feed(db, settings.base_url, program_id=program_id, lead_minutes=lead)
    return _ics(body, f"chonai-program-{program_id}.ics")


@get("/schedule/personalities/{member_id:int}/calendar.ics", include_in_schema=False)
async def personality_ics(
    request: Request[Any, Any, Any],
    db: DbSession,
    settings: AppSettings,
    member_id: PathId,
    token: FromQuery[str | None] = None,
) -> Response[bytes]:
    lead = await _lead(db, await _feed_member(request, db, settings, token))
    await service.get_personality(db, member_id)
    return _ics(
        await calendars.feed(db, settings.base_url, personality_id=member_id, lead_minutes=lead),
        f"chonai-personality-{member_id}.ics",
    )


@websocket("/schedule/events")
async def schedule_events(socket: WebSocket[Any, Any, Any]) -> None:
    """Streams BroadcastStateChanged (JSON) to open schedule, broadcast and home pages. Members only."""
    settings: Settings = socket.app.state.settings
    bus = socket.app.state.bus
    member = current_member(socket)
    origin = socket.headers.get("origin")
    if member is None:
        await socket.close(code=CLOSE_SESSION_ENDED, reason="login_required")
        return
    if not member.is_active:
        await socket.close(code=CLOSE_ACCOUNT_INACTIVE, reason="account_inactive")
        return
    if origin is not None and not origin_allowed(origin, settings.allowed_origins):
        # Accept to tell the page why: a refused handshake reaches the browser as a bare 1006.
        await socket.accept()
        await socket.send_json({"type": "error", "code": ORIGIN_REFUSED, "message": origin_refusal(origin, settings)})
        await socket.close(code=4403, reason=ORIGIN_REFUSED)
        return
    if origin is None and socket.scope.get("auth") != "token":
        # Browsers always send Origin; a cookie-only socket without one is not a page of ours.
        await socket.close(code=4403, reason="origin_required")
        return
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=QUEUE_LIMIT)

    loop = asyncio.get_running_loop()

    def deliver(_channel: str, data: bytes) -> None:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            put(data)
        else:  # published from another thread's loop (test clients): hand over safely
            loop.call_soon_threadsafe(put, data)

    def put(data: bytes) -> None:
        try:
            queue.put_nowait(data)
        except asyncio.QueueFull:  # a viewer that cannot keep up is dropped; its page reconnects and re-reads
            with contextlib.suppress(asyncio.QueueFull, asyncio.QueueEmpty):
                queue.get_nowait()
                queue.put_nowait(None)

    ended: list[tuple[int, str]] = []

    def end(code: int, reason: str) -> None:  # the session, token or account ended (core.sockets)
        ended.append((code, reason))
        put_end()

    def put_end() -> None:
        with contextlib.suppress(asyncio.QueueFull, asyncio.QueueEmpty):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)

    registry = registry_for(socket.app)
    handle = registry.open(member.id, credential_of(socket.scope), end)
    if handle is None:
        await socket.accept()  # accepted first, so that the client can read the close code
        await socket.close(code=CLOSE_TOO_MANY_SOCKETS, reason="too_many_sockets")
        return
    await bus.subscribe(SCHEDULE_CHANNEL, deliver)
    receiver: asyncio.Task[None] | None = None
    try:
        await socket.accept()
        await socket.send_text('{"type":"hello"}')

        async def drain() -> None:
            # Nothing is expected from the page; anything sent is held to the room socket's limits.
            budget = FrameBudget()
            while True:
                message = await socket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                refusal = frame_refusal(message, budget)
                if refusal is not None:
                    end(*refusal)
                    return

        receiver = asyncio.create_task(drain())
        while True:
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                if ended:  # the page broke the frame limits
                    await socket.close(code=ended[0][0], reason=ended[0][1])
                break
            data = getter.result()
            if data is None:
                code, reason = ended[0] if ended else (4008, "too_slow")
                await socket.close(code=code, reason=reason)
                break
            await socket.send_text(data.decode())
    except Exception as exc:  # a closed or broken socket ends this handler quietly
        log.debug("schedule socket ended: %s", exc.__class__.__name__)
    finally:
        if receiver is not None:
            receiver.cancel()
        registry.release(handle)
        await bus.unsubscribe(SCHEDULE_CHANNEL, deliver)


route_handlers: list[Any] = [schedule_ics, program_ics, personality_ics, schedule_events]
