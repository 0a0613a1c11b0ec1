"""Notifications JSON API (`/api/notifications…`) and the bell's live unread count (`/ws/notifications`)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Request, WebSocket, get, post, put, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromQuery, JSONBody

from core.access import MemberApi, current_member, origin_allowed
from core.deps import DbSession, Me
from core.errors import Invalid
from core.notify import inbox, prefs
from core.notify.models import MAX_ID, Notification
from web.notify_settings import SettingsOut, apply_settings, decode_settings, settings_out


class NotificationOut(msgspec.Struct):
    id: int
    kind: str
    title: str
    body: str
    url: str
    created_at: dt.datetime
    read: bool

    @classmethod
    def of(cls, n: Notification) -> NotificationOut:
        return cls(n.id, n.kind.value, n.title, n.body, n.url, n.created_at, n.read_at is not None)


class ReadIn(msgspec.Struct):
    ids: Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]], msgspec.Meta(max_length=1000)] | None = None


class ReadOut(msgspec.Struct):
    updated: int
    unread: int


class UnreadOut(msgspec.Struct):
    unread: int


class NotificationsApi(MemberApi):
    path = "/api/notifications"
    tags = ["notifications"]

    @get("/")
    async def list_notifications(
        self, me: Me, db: DbSession, before: FromQuery[int | None] = None, limit: FromQuery[int] = 50
    ) -> list[NotificationOut]:
        before = None if before is None else max(0, min(before, MAX_ID))
        rows = await inbox.listing(db, me.id, before=before, limit=max(1, min(limit, 200)))
        return [NotificationOut.of(n) for n in rows]

    @get("/unread")
    async def unread(self, me: Me, db: DbSession) -> UnreadOut:
        return UnreadOut(await inbox.unread(db, me.id))

    @post("/read", status_code=200)
    async def read(self, request: Request[Any, Any, Any], me: Me, db: DbSession) -> ReadOut:
        """`{"ids": [...]}` marks those; an empty body, `{}` or `{"ids": []}` marks all."""
        raw = await request.body()
        try:
            data = msgspec.json.decode(raw, type=ReadIn) if raw.strip() else ReadIn()
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise Invalid(
                '本文は {"ids": [通知のID, …]} です。', fields={"ids": "整数の配列で指定してください。"}
            ) from None
        updated = await inbox.mark_read(db, me.id, data.ids)
        return ReadOut(updated, await inbox.unread(db, me.id))

    @get("/settings")
    async def get_settings(self, me: Me, db: DbSession) -> SettingsOut:
        return settings_out(await prefs.load(db, me.id))

    @put("/settings")
    async def put_settings(self, me: Me, db: DbSession, data: JSONBody[dict[str, Any]]) -> SettingsOut:
        """A SettingsIn body; decoded here so that a bad value is a Japanese field error, not litestar's English."""
        changed = apply_settings(await prefs.load(db, me.id), decode_settings(data))
        return settings_out(await prefs.save(db, me.id, changed))


class BellMessage(msgspec.Struct, tag="unread", tag_field="type"):
    count: int


_encoder = msgspec.json.Encoder()


@websocket("/ws/notifications")
async def bell_socket(socket: WebSocket[Any, Any, Any]) -> None:
    """Push-only: the caller's unread count now, then whenever it changes. Members only, our Origin only."""
    state = socket.app.state
    if not origin_allowed(socket.headers.get("origin"), state.settings.allowed_origins):
        await socket.accept()
        await socket.close(code=4403, reason="bad_origin")
        return
    member = current_member(socket)
    if member is None or not member.is_active:
        await socket.accept()
        await socket.close(code=4401, reason="login_required")
        return
    hub = state.bells
    queue = hub.attach(member.id)
    try:
        await socket.accept()
        async with state.db.session() as db:
            await socket.send_text(_encoder.encode(BellMessage(count=await inbox.unread(db, member.id))).decode())

        async def pump() -> None:
            while True:
                count = await queue.get()
                await socket.send_text(_encoder.encode(BellMessage(count=count)).decode())

        async def listen() -> None:
            while True:
                await socket.receive_data(mode="text")

        tasks = [asyncio.create_task(pump()), asyncio.create_task(listen())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
    except WebSocketDisconnect:
        pass
    finally:
        hub.detach(member.id, queue)


route_handlers: list[Any] = [NotificationsApi, bell_socket]
