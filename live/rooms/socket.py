"""The comment-room WebSocket: authenticate, check the origin, then one receive loop per connection.

Nothing a client sends can crash this loop or touch other viewers: every bad frame is
answered with a typed `error` (and, for binary, oversized or flooding input, a close code).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any
from urllib.parse import parse_qs

import msgspec
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from core.access import ORIGIN_REFUSED, origin_allowed, origin_refusal, scope_header
from core.members import service as members
from core.members.models import Member, Status
from core.sockets import (
    CLOSE_ACCOUNT_INACTIVE,
    CLOSE_TOO_MANY_SOCKETS,
    FLOOD_BURST,
    FLOOD_RATE,
    MAX_FRAME_CHARS,
    FrameBudget,
    credential_of,
    registry_for,
    token_credential,
)
from live.access import can_moderate
from live.models import Broadcast
from live.moderation import gate, sanctions
from live.rooms import metrics, posting, screening, service
from live.rooms.hub import Hub, hub_of
from live.rooms.protocol import (
    CLOSE_FLOOD,
    CLOSE_FORBIDDEN,
    CLOSE_LOGIN_REQUIRED,
    CLOSE_TOO_BIG,
    CLOSE_UNAVAILABLE,
    CLOSE_UNSUPPORTED,
    REACTION_KINDS,
    Ack,
    Error,
    Join,
    Ping,
    Pong,
    PostComment,
    React,
    Restricted,
    client_decoder,
    encode,
)
from live.rooms.room import Room
from live.rooms.transport import OutFrame, Sink, make_sink
from live.rooms.viewers import Viewer
from live.rooms.writer import WriteFailed

log = logging.getLogger("chonai.rooms")

__all__ = ["FLOOD_BURST", "FLOOD_RATE", "MAX_FRAME_CHARS", "Connection", "room_socket"]

REACTIONS_PER_SECOND = 5
#: Seconds a socket may stay open without joining a room (then `join_timeout`, close 4408).
JOIN_TIMEOUT = float(os.environ.get("CHONAI_ROOM_JOIN_TIMEOUT", "10"))
CLOSE_JOIN_TIMEOUT = 4408
PONG = OutFrame(encode(Pong()))


def _error(
    code: str, message: str, ref: str | None = None, retry_after: float | None = None, until: str | None = None
) -> OutFrame:
    return OutFrame(encode(Error(code=code, message=message, ref=ref, retry_after=retry_after, until=until)))


async def _member(scope: Any, app: Any) -> Member | None:
    user = scope.get("user")
    if isinstance(user, Member):
        return user
    token = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [None])[0]
    if not token:
        return None
    scope["credential"] = token_credential(members.hash_token(token))
    async with app.state.db.session() as db:
        return await members.member_for_api_token(db, token)


async def room_socket(scope: Any, receive: Any, send: Any) -> None:
    """ASGI entry point for /ws/rooms (plain HTTP gets 426)."""
    if scope["type"] != "websocket":
        await send({"type": "http.response.start", "status": 426, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": "WebSocket で接続してください。".encode()})
        return
    app = scope["app"]
    if (await receive())["type"] != "websocket.connect":
        return
    origin = scope_header(scope, b"origin")
    refused = origin is not None and not origin_allowed(origin, app.state.settings.allowed_origins)
    member = None if refused else await _member(scope, app)
    await send({"type": "websocket.accept"})
    sink = make_sink(receive, send)
    metrics.CONNECTIONS.inc()
    try:
        if refused:
            # Accepted only to say why (a browser cannot read a refused handshake); nothing of the member is read.
            metrics.PROTOCOL_ERRORS.labels("forbidden_origin").inc()
            sink.write(_error(ORIGIN_REFUSED, origin_refusal(origin, app.state.settings)))
            await sink.close(CLOSE_FORBIDDEN, ORIGIN_REFUSED)
            return
        if member is None:
            sink.write(_error("login_required", "ログインが必要です。ログインしてからページを再読み込みしてください。"))
            await sink.close(CLOSE_LOGIN_REQUIRED, "login required")
            return
        if member.status is not Status.APPROVED:
            sink.write(_error("account_inactive", f"アカウントが{member.status.label}のため利用できません。"))
            await sink.close(CLOSE_FORBIDDEN, "account inactive")
            return
        hub = hub_of(app)
        if hub is None:  # the app's lifespan did not run (see live.rooms.hub.serve_rooms)
            log.error("room socket without a room hub: the server must run the app's lifespan")
            sink.write(_error("unavailable", "一時的に利用できません。少し待ってから再度お試しください。"))
            await sink.close(CLOSE_UNAVAILABLE, "no room hub")
            return
        connection = Connection(hub, member, sink)
        registry = registry_for(app)
        handle = registry.open(member.id, credential_of(scope), connection.revoke)
        if handle is None:
            sink.write(_error("too_many_sockets", "開いている接続が多すぎます。不要なタブを閉じてください。"))
            await sink.close(CLOSE_TOO_MANY_SOCKETS, "too many sockets")
            return
        # Read and decided: the handshake's headers (about 1 KiB) are not needed while the socket is open.
        # Cleared in place: Litestar's router keeps a shallow copy of the scope that shares the list.
        headers = scope.get("headers")
        if isinstance(headers, list):
            headers.clear()
        try:
            await connection.run(receive)
        finally:
            registry.release(handle)
    finally:
        metrics.CONNECTIONS.dec()
        sink.stop()


class ConnectionDone(Exception):
    """The handler closed the connection (e.g. a non-moderator asking for the control feed)."""


class Connection:
    """One member's socket: at most one room, a flood budget, in-order handling of its messages."""

    def __init__(self, hub: Hub, member: Member, sink: Sink) -> None:
        self.hub = hub
        self.member = member
        self.sink = sink
        self.moderator = False
        self.viewer = Viewer(sink, member.id)
        self.room: Room | None = None
        self.budget = FrameBudget()
        self.reaction_second = 0
        self.reactions_this_second = 0
        self.ended = False
        self.opened = time.monotonic()
        self._closing: asyncio.Task[None] | None = None

    def send_error(
        self,
        code: str,
        message: str,
        ref: str | None = None,
        retry_after: float | None = None,
        until: str | None = None,
    ) -> None:
        metrics.PROTOCOL_ERRORS.labels(code).inc()
        self.sink.write(_error(code, message, ref, retry_after, until))

    def revoke(self, code: int, reason: str) -> None:
        """The member's session, token or account ended: say so, close, and handle nothing more."""
        if self.ended:
            return
        self.ended = True
        if code == CLOSE_ACCOUNT_INACTIVE:
            self.send_error("account_inactive", "アカウントが利用停止になったため接続を終了しました。")
        else:
            self.send_error("session_ended", "ログインの有効期限が切れました。再度ログインしてください。")
        self._closing = asyncio.get_running_loop().create_task(self.sink.close(code, reason))

    async def _receive_until_joined(self, receive: Any) -> Any:
        # A socket that never joins holds a slot for nothing: it gets JOIN_TIMEOUT seconds.
        remaining = JOIN_TIMEOUT - (time.monotonic() - self.opened)
        try:
            return await asyncio.wait_for(receive(), max(remaining, 0.001))
        except TimeoutError:
            self.send_error("join_timeout", "ルームに参加しないまま時間が経過したため接続を終了しました。")
            await self.sink.close(CLOSE_JOIN_TIMEOUT, "join timeout")
            return None

    async def run(self, receive: Any) -> None:
        try:
            while True:
                # A joined socket awaits uvicorn directly: no extra coroutine frame per idle viewer.
                message = await (receive() if self.room is not None else self._receive_until_joined(receive))
                if message is None or self.ended or message["type"] != "websocket.receive":
                    return  # closed, or disconnect (uvicorn already closed invalid UTF-8 with 1007)
                text = message.get("text")
                if text is None:
                    self.send_error("binary_not_supported", "バイナリデータは受け付けていません。")
                    await self.sink.close(CLOSE_UNSUPPORTED, "binary frames are not supported")
                    return
                if not self.budget.take():
                    self.send_error("flood", "送信が多すぎるため接続を切断しました。再接続してください。")
                    await self.sink.close(CLOSE_FLOOD, "flood")
                    return
                if len(text) > MAX_FRAME_CHARS:
                    self.send_error("frame_too_large", "送信データが大きすぎます。")
                    await self.sink.close(CLOSE_TOO_BIG, "frame too large")
                    return
                try:
                    await self.handle(text)
                except ConnectionDone:
                    return
                except (DBAPIError, PoolTimeout, OSError, TimeoutError) as exc:  # the database is unreachable
                    log.warning("room message failed: database unavailable (%s)", exc.__class__.__name__)
                    self.send_error("unavailable", "一時的に利用できません。少し待ってから再度お試しください。")
                    if self.room is None:  # it tried to join during an outage: a live page, not an idle slot
                        self.opened = time.monotonic()
                except Exception:  # one bad message must never end the connection or the server
                    log.exception("room message failed")
                    self.send_error("internal_error", "処理中に問題が発生しました。もう一度お試しください。")
        finally:
            self.leave()

    async def handle(self, text: str) -> None:
        try:
            message = client_decoder.decode(text)
        except RecursionError:  # JSON nested deeper than the decoder's stack: malformed, not a crash
            self.send_error("invalid_message", "メッセージの入れ子が深すぎます。")
            return
        except msgspec.ValidationError as exc:
            if "`$.type`" in str(exc) or "missing required field `type`" in str(exc):
                self.send_error("unknown_type", "不明な種類のメッセージです。")
            else:
                self.send_error("invalid_message", f"メッセージの形式が正しくありません（{exc}）。")
            return
        except msgspec.DecodeError:
            self.send_error("invalid_json", "JSON として読み取れないメッセージです。")
            return
        if isinstance(message, Ping):
            self.sink.write(PONG)
        elif isinstance(message, PostComment):
            await self.comment(message)
        elif isinstance(message, React):
            self.react(message)
        elif isinstance(message, Join):
            await self.join(message)

    async def join(self, message: Join) -> None:
        if self.room is not None:
            self.send_error("already_joined", "既にルームに参加しています。")
            return
        room = await self.hub.room(message.room)
        if room is None:
            self.send_error("room_not_found", "この放送は見つかりません。")
            return
        moderator = await self.access(room, message.control)
        found, restriction = self.viewer.restriction, None
        if not moderator and found is not None and found.code in {"timed_out", "banned"}:
            until = service.iso(found.until) if found.until else None
            restriction = Restricted(code=found.code, message=found.message, until=until)
        if message.control and not moderator:
            self.send_error("forbidden", "この放送を操作する権限がありません。")
            await self.sink.close(CLOSE_FORBIDDEN, "not a moderator of this broadcast")
            raise ConnectionDone
        self.viewer.moderator = self.moderator = moderator
        self.viewer.watching = not message.control
        try:
            await self.hub.join(self.viewer, room, self.member.id, message.after, restriction)
        except service.RoomError as exc:
            self.send_error(exc.code, exc.message)
            return
        self.room = room
        self.hub.visits.add(room.id, self.member.id)  # written in the next batch (live.rooms.visits)

    async def access(self, room: Room, control: bool) -> bool:
        """Whether the member moderates this room; a non-moderator's restriction goes on the viewer.

        A viewer back within seconds of leaving takes its check over (`live.rooms.rejoin`);
        other viewers take the room's shared read (`live.rooms.admission`); control feeds read.
        """
        viewer = self.viewer
        if not control:
            memo = room.rejoins.take(self.member.id, self.member.role.value)
            if memo is not None:
                viewer.restriction, viewer.checked_at = memo.restriction, memo.checked_at
                return False
            admission = await room.admission.get()
            if admission is None or admission.moderates(self.member):
                return admission is not None
            viewer.restriction, viewer.checked_at = admission.restriction(self.member.id), admission.read_at
            return False
        async with self.hub.db.session() as db:
            broadcast = await db.get(Broadcast, room.id)
            moderator = broadcast is not None and await can_moderate(db, self.member, broadcast)
            if not moderator:
                found = await sanctions.restriction_of(db, self.member.id, room.id, room.program_id)
                viewer.restriction, viewer.checked_at = found, time.monotonic()
            await db.commit()
        return moderator

    def leave(self) -> None:
        room, viewer = self.room, self.viewer
        if room is None:
            return
        room.remove(viewer)
        if not self.moderator and viewer.watching and not self.ended:
            room.rejoins.left(self.member.id, self.member.role.value, viewer.restriction, viewer.checked_at)

    async def comment(self, message: PostComment) -> None:
        room = self.room
        if room is None:
            self.send_error("not_joined", "先にルームに参加してください。", message.ref)
            return
        try:
            if not self.moderator and await screening.held(self.hub, room, self.viewer, self.member.id, message):
                return
            draft = posting.draft(
                self.member, message.text, message.ref, question=message.question, moderator=self.moderator
            )
            # Acknowledged only once committed; the writer publishes it (in position order).
            posted = await room.writer.post(draft)
        except service.RoomError as exc:
            metrics.COMMENTS_REFUSED.labels(exc.code).inc()
            until = service.iso(exc.until) if exc.until else None
            self.send_error(exc.code, exc.message, message.ref, exc.retry_after, until)
            return
        except Exception as exc:
            if not isinstance(exc, WriteFailed):  # the writer logged its batch's failure once
                log.exception("storing a comment failed")
            metrics.COMMENTS_REFUSED.labels("unavailable").inc()
            self.send_error(
                "unavailable", "コメントを保存できませんでした。少し待ってから再送信してください。", message.ref
            )
            return
        self.sink.write(OutFrame(encode(Ack(ref=message.ref, position=posted.position))))

    def react(self, message: React) -> None:
        room = self.room
        if room is None:
            self.send_error("not_joined", "先にルームに参加してください。")
            return
        if message.kind not in REACTION_KINDS:
            self.send_error("unknown_reaction", "不明なリアクションです。")
            return
        if not self.moderator:
            try:  # a timed-out or banned member may not applaud either
                gate.refuse_if_restricted(self.viewer.restriction)
            except service.RoomError as exc:
                self.send_error(exc.code, exc.message, until=service.iso(exc.until) if exc.until else None)
                return
        second = int(time.monotonic())
        if second != self.reaction_second:
            self.reaction_second, self.reactions_this_second = second, 0
        self.reactions_this_second += 1
        if self.reactions_this_second <= REACTIONS_PER_SECOND:  # more than that is noise, not applause
            room.react(message.kind)
