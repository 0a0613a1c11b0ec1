"""`/ws/faq/sessions/{id}`: the Q&A board pushed to members, resumable from a board position.

The socket only pushes; members act through the JSON API. Each connection keeps the
last position it delivered: a gap (or a quiet minute) makes it re-read from the
database, so an event lost on the bus is still delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from core.access import ORIGIN_REFUSED, current_member, origin_allowed, origin_refusal
from core.bounds import PathId, QueryPosition
from core.sockets import (
    CLOSE_ACCOUNT_INACTIVE,
    CLOSE_SESSION_ENDED,
    CLOSE_TOO_MANY_SOCKETS,
    credential_of,
    read_until_gone,
    registry_for,
)
from faq import attendance, board, events
from faq.documents import end_session
from faq.models import SessionState, StudySession
from faq.service import broadcast_ended, can_organise

log = logging.getLogger("chonai.faq.ws")

QUEUE_LIMIT = 512
CATCH_UP_SECONDS = 30.0


async def _refuse(socket: WebSocket[Any, Any, Any], code: int, error: str, message: str) -> None:
    await socket.accept()
    await socket.send_bytes(events.encoder.encode(events.ErrorMessage(code=error, message=message)))
    await socket.close(code=code, reason=error)


def _ender(ended: asyncio.Future[tuple[int, str]]) -> Callable[[int, str], None]:
    """`end(code, reason)`: the first call decides how the socket closes."""

    def end(code: int, reason: str) -> None:
        if not ended.done():
            ended.set_result((code, reason))

    return end


@websocket("/ws/faq/sessions/{session_id:int}")
async def board_socket(socket: WebSocket[Any, Any, Any], session_id: PathId, since: QueryPosition = 0) -> None:
    state = socket.app.state
    origin = socket.headers.get("origin")
    if not origin_allowed(origin, state.settings.allowed_origins):
        await _refuse(socket, 4403, ORIGIN_REFUSED, origin_refusal(origin, state.settings))
        return
    member = current_member(socket)
    if member is None:
        await _refuse(socket, CLOSE_SESSION_ENDED, "login_required", "ログインが必要です。")
        return
    if not member.is_active:
        message = f"アカウントが{member.status.label}のため利用できません。"
        await _refuse(socket, CLOSE_ACCOUNT_INACTIVE, "account_inactive", message)
        return
    async with state.db.session() as db:
        session = await db.get(StudySession, session_id)
        if session is None:
            await _refuse(socket, 4404, "not_found", "勉強会が見つかりません。")
            return
        if await broadcast_ended(db, session):
            await end_session(db, state.bus, None, session)
        moderator = await can_organise(db, member, session.series_id)
        await attendance.record(db, session, member.id, "board")  # opened the board while it runs
    queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_LIMIT)
    overflow = asyncio.Event()

    def on_event(_channel: str, data: bytes) -> None:
        try:
            queue.put_nowait(data)
        except asyncio.QueueFull:  # a viewer that cannot keep up resumes from its position
            overflow.set()

    ended: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()

    end = _ender(ended)

    registry = registry_for(socket.app)
    handle = registry.open(member.id, credential_of(socket.scope), end)
    if handle is None:
        message = "開いている接続が多すぎます。不要なタブを閉じてください。"
        await _refuse(socket, CLOSE_TOO_MANY_SOCKETS, "too_many_sockets", message)
        return
    channel = events.board_channel(session_id)
    await state.bus.subscribe(channel, on_event)
    try:
        await socket.accept()
        await _serve(socket, state, member, moderator, session_id, since, queue, overflow, ended)
    finally:
        registry.release(handle)
        await state.bus.unsubscribe(channel, on_event)


async def _serve(
    socket: WebSocket[Any, Any, Any],
    state: Any,
    member: Any,
    moderator: bool,
    session_id: int,
    since: int,
    queue: asyncio.Queue[bytes],
    overflow: asyncio.Event,
    ended: asyncio.Future[tuple[int, str]],
) -> None:
    channel = events.board_channel(session_id)
    last = max(0, since)

    async def catch_up() -> None:
        nonlocal last
        async with state.db.session() as db:
            current = await db.get_one(StudySession, session_id)
            snap = await board.snapshot(db, current, member.id, moderator, last)
        if last == 0 or snap.questions or snap.removed or snap.position != last:
            await socket.send_bytes(events.encoder.encode(snap))
        last = max(last, snap.position)

    async def pump() -> None:
        nonlocal last
        await catch_up()
        while not overflow.is_set():
            try:
                data = await asyncio.wait_for(queue.get(), CATCH_UP_SECONDS)
            except TimeoutError:
                await catch_up()
                continue
            try:
                event = events.bus_decoder.decode(data)
            except msgspec.DecodeError:
                log.warning("undecodable board event on %s", channel)
                continue
            position = event.question.position if isinstance(event, events.QuestionChanged) else event.position
            if position <= last:
                continue
            if position > last + 1:
                await catch_up()
                continue
            out = _frame(event, position, member.id, moderator)
            await socket.send_bytes(events.encoder.encode(out))
            last = position
        await socket.close(code=4408, reason="slow_consumer")

    end = _ender(ended)

    tasks = [
        asyncio.create_task(pump()),
        asyncio.create_task(read_until_gone(socket, end)),
        asyncio.create_task(_close_when_ended(socket, ended)),
    ]
    await _until_first_done(tasks, ended, session_id)


async def _close_when_ended(socket: WebSocket[Any, Any, Any], ended: asyncio.Future[tuple[int, str]]) -> None:
    code, reason = await ended
    with contextlib.suppress(Exception):
        await socket.close(code=code, reason=reason)


def _frame(event: Any, position: int, member_id: int, moderator: bool) -> Any:
    """What this member sees of one board event (a question it may not see is removed)."""
    if isinstance(event, events.QuestionChanged):
        view = board.view_for(event.question, member_id, moderator)
        if view is None:
            return events.QuestionRemoved(position=position, id=event.question.id)
        return events.QuestionUpdate(position=position, question=view)
    return events.BoardUpdate(
        position=position,
        state=event.state,
        state_label=SessionState(event.state).label,
        answering_id=event.answering_id,
        premoderation=event.premoderation,
    )


async def _until_first_done(
    tasks: list[asyncio.Task[None]], ended: asyncio.Future[tuple[int, str]], session_id: int
) -> None:
    """Run pump, reader and closer until one finishes (the closer gets its close out), then cancel the rest."""
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if ended.done() and not tasks[2].done():
            await asyncio.wait([tasks[2]], timeout=5)
        for task in tasks:
            if task.done() and not task.cancelled():
                exc = task.exception()
                if exc is not None and not isinstance(exc, WebSocketDisconnect):
                    log.warning("board socket for session %s ended: %r", session_id, exc)
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
