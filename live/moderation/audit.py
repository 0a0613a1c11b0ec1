"""What happened in a room: the moderation log (one row per action) and the viewer counts over time.

Every mutating moderation function writes its audit row with `record` in the same transaction
as the change, so an action that happened is always in the log and vice versa.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.members.models import Member
from core.text import clean_line
from live.moderation.models import ModerationAction, ViewerSample

ACTION_LABELS = {
    "hide": "コメントを非表示",
    "restore": "コメントを再表示",
    "timeout": "タイムアウト",
    "ban": "参加禁止",
    "lift": "制限の解除",
    "slow_mode": "スローモード",
    "lock": "ルームのロック",
    "comments_off": "コメント停止",
    "delay": "表示遅延",
    "pin": "お知らせの固定",
    "pick": "質問のピックアップ",
    "word_add": "禁止ワードの追加",
    "word_remove": "禁止ワードの削除",
    "approve": "保留コメントを承認",
    "reject": "保留コメントを却下",
    "report_handled": "通報を対応済みに",
}


def record(
    db: AsyncSession,
    broadcast_id: int | None,
    actor: Member | None,
    action: str,
    *,
    target_member_id: int | None = None,
    target_position: int | None = None,
    detail: dict[str, Any] | None = None,
    reason: str = "",
) -> ModerationAction:
    """Add the audit row; the caller commits it together with the change it describes."""
    entry = ModerationAction(
        broadcast_id=broadcast_id,
        actor_id=actor.id if actor else None,
        action=action,
        target_member_id=target_member_id,
        target_position=target_position,
        detail=json.dumps(detail or {}, ensure_ascii=False),
        reason=clean_line(reason)[:500],
    )
    db.add(entry)
    return entry


def log_comment_visibility(
    db: AsyncSession, actor: Member, broadcast_id: int, position: int, author_id: int, hidden: bool, reason: str
) -> None:
    """Audit row for hide/restore; the rooms service calls this inside its own transaction."""
    record(
        db,
        broadcast_id,
        actor,
        "hide" if hidden else "restore",
        target_member_id=author_id,
        target_position=position,
        reason=reason,
    )


async def audit_log(db: AsyncSession, broadcast_id: int) -> list[ModerationAction]:
    rows = await db.execute(
        select(ModerationAction)
        .where(ModerationAction.broadcast_id == broadcast_id)
        .order_by(ModerationAction.created_at.desc(), ModerationAction.id.desc())
    )
    return list(rows.unique().scalars())


async def viewer_samples(db: AsyncSession, broadcast_id: int, limit: int = 2880) -> list[tuple[dt.datetime, int]]:
    """Viewer-count samples, oldest first (at most `limit`, the last 24 hours at one per 30 s)."""
    rows = await db.execute(
        select(ViewerSample.at, ViewerSample.viewers)
        .where(ViewerSample.broadcast_id == broadcast_id)
        .order_by(ViewerSample.at.desc())
        .limit(limit)
    )
    return [(at, n) for at, n in reversed(rows.all())]
