"""A room's controls: slow mode, lock, comments off, display delay, pinned announcement, picked question."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.bounds import MAX_ID
from core.members.models import Member
from core.text import clean_line
from live.access import require_moderator
from live.models import Broadcast
from live.moderation import audit
from live.moderation.errors import ModerationError
from live.moderation.models import RoomControls

SLOW_MODE_MAX = 3600
DELAY_MAX = 60
PIN_MAX = 300


async def controls(db: AsyncSession, broadcast_id: int) -> RoomControls:
    row = await db.get(RoomControls, broadcast_id)
    if row is None:
        row = RoomControls(broadcast_id=broadcast_id)
        db.add(row)
        try:
            await db.flush()
        except IntegrityError:  # created concurrently by another process
            await db.rollback()
            row = await db.get(RoomControls, broadcast_id)
            assert row is not None
    return row


async def slow_mode_seconds(db: AsyncSession, broadcast_id: int) -> int:
    room = await db.get(RoomControls, broadcast_id)
    return room.slow_mode_seconds if room else 0


async def set_controls(db: AsyncSession, actor: Member, broadcast: Broadcast, **changes: Any) -> RoomControls:
    """Slow mode, lock, comments off, moderation delay, pinned announcement, picked question."""
    await require_moderator(db, actor, broadcast)
    room = await controls(db, broadcast.id)
    for key, value in changes.items():
        if key == "slow_mode_seconds":
            if not isinstance(value, int) or not 0 <= value <= SLOW_MODE_MAX:
                raise ModerationError("invalid_value", "スローモードは0〜3600秒で指定してください。")
            room.slow_mode_seconds = value
            audit.record(db, broadcast.id, actor, "slow_mode", detail={"seconds": value})
        elif key == "delay_seconds":
            if not isinstance(value, int) or not 0 <= value <= DELAY_MAX:
                raise ModerationError("invalid_value", f"表示遅延は0〜{DELAY_MAX}秒で指定してください。")
            room.delay_seconds = value
            audit.record(db, broadcast.id, actor, "delay", detail={"seconds": value})
        elif key in {"locked", "comments_off"}:
            setattr(room, key, bool(value))
            action = "lock" if key == "locked" else "comments_off"
            audit.record(db, broadcast.id, actor, action, detail={"on": bool(value)})
        elif key == "pinned_text":
            text = clean_line(str(value))
            if len(text) > PIN_MAX:
                raise ModerationError("too_long", f"お知らせは{PIN_MAX}文字以内で入力してください。")
            room.pinned_text = text
            audit.record(db, broadcast.id, actor, "pin", detail={"text": text})
        elif key == "picked_position":
            if value is not None and (not isinstance(value, int) or not 1 <= value <= MAX_ID):
                raise ModerationError("invalid_value", "質問の番号が正しくありません。")
            room.picked_position = value
            audit.record(db, broadcast.id, actor, "pick", target_position=value)
        else:
            raise ModerationError("unknown_control", f"不明な設定です: {key}")
    await db.commit()
    return room
