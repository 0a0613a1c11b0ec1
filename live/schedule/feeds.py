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
    credential_of,
    read_until_gone,
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


async def _refused(socket: WebSocket[Any, Any, Any], member: Member | None, settings: Settings) -> bool:
    """Close a socket that may not listen (not logged in, inactive, foreign origin); True if it was closed."""
    origin = socket.headers.get("origin")
    if member is None:
        await socket.close(code=CLOSE_SESSION_ENDED, reason="login_required")
        return True
    if not member.is_active:
        await socket.close(code=CLOSE_ACCOUNT_INACTIVE, reason="account_inactive")
        return True
    if origin is not None and not origin_allowed(origin, settings.allowed_origins):
        # Accept to tell the page why: a refused handshake reaches the browser as a bare 1006.
        await socket.accept()
        await socket.send_json({"type": "error", "code": ORIGIN_REFUSED, "message": origin_refusal(origin, settings)})
        await socket.close(code=4403, reason=ORIGIN_REFUSED)
        return True
    if origin is None and socket.scope.get("auth") != "token":
        # Browsers always send Origin; a cookie-only socket without one is not a page of ours.
        await socket.close(code=4403, reason="origin_required")
        return True
    return False


class _Feed:
    """One socket's queue of state events; None in the queue means "close now" (too slow, or `ended`)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self.loop = asyncio.get_running_loop()
        self.ended: list[tuple[int, str]] = []

    def deliver(self, _channel: str, data: bytes) -> None:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.put(data)
        else:  # published from another thread's loop (test clients): hand over safely
            self.loop.call_soon_threadsafe(self.put, data)

    def put(self, data: bytes) -> None:
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:  # a viewer that cannot keep up is dropped; its page reconnects and re-reads
            with contextlib.suppress(asyncio.QueueFull, asyncio.QueueEmpty):
                self.queue.get_nowait()
                self.queue.put_nowait(None)

    def end(self, code: int, reason: str) -> None:  # the session, token or account ended (core.sockets)
        self.ended.append((code, reason))
        with contextlib.suppress(asyncio.QueueFull, asyncio.QueueEmpty):
            if self.queue.full():
                self.queue.get_nowait()
            self.queue.put_nowait(None)


async def _relay(socket: WebSocket[Any, Any, Any], feed: _Feed, receiver: asyncio.Task[None]) -> None:
    """Send each queued event until the page leaves, breaks the frame limits or the feed says close."""
    while True:
        getter = asyncio.create_task(feed.queue.get())
        done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
        if getter not in done:
            getter.cancel()
            if feed.ended:  # the page broke the frame limits
                await socket.close(code=feed.ended[0][0], reason=feed.ended[0][1])
            return
        data = getter.result()
        if data is None:
            code, reason = feed.ended[0] if feed.ended else (4008, "too_slow")
            await socket.close(code=code, reason=reason)
            return
        await socket.send_text(data.decode())


@websocket("/schedule/events")
async def schedule_events(socket: WebSocket[Any, Any, Any]) -> None:
    """Streams BroadcastStateChanged (JSON) to open schedule, broadcast and home pages. Members only."""
    bus = socket.app.state.bus
    member = current_member(socket)
    if await _refused(socket, member, socket.app.state.settings):
        return
    assert member is not None
    feed = _Feed()
    registry = registry_for(socket.app)
    handle = registry.open(member.id, credential_of(socket.scope), feed.end)
    if handle is None:
        await socket.accept()  # accepted first, so that the client can read the close code
        await socket.close(code=CLOSE_TOO_MANY_SOCKETS, reason="too_many_sockets")
        return
    await bus.subscribe(SCHEDULE_CHANNEL, feed.deliver)
    receiver: asyncio.Task[None] | None = None
    try:
        await socket.accept()
        await socket.send_text('{"type":"hello"}')
        receiver = asyncio.create_task(read_until_gone(socket, feed.end))
        await _relay(socket, feed, receiver)
    except Exception as exc:  # a closed or broken socket ends this handler quietly
        log.debug("schedule socket ended: %s", exc.__class__.__name__)
    finally:
        if receiver is not None:
            receiver.cancel()
        registry.release(handle)
        await bus.unsubscribe(SCHEDULE_CHANNEL, feed.deliver)


route_handlers: list[Any] = [schedule_ics, program_ics, personality_ics, schedule_events]
