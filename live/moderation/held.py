"""Held comments: a comment that matched a hold rule waits here until a moderator approves or rejects it."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.members.models import Member
from live.models import Broadcast
from live.moderation import audit
from live.moderation.decisions import decide_once
from live.moderation.models import HeldComment, HeldStatus


async def hold_in(
    db: AsyncSession, broadcast_id: int, member_id: int, text: str, word: str, ref: str | None = None
) -> HeldComment:
    """Keep a comment for review; a resend with the same `ref` returns the one already held."""
    held = HeldComment(broadcast_id=broadcast_id, member_id=member_id, text=text, matched_word=word, ref=ref)
    db.add(held)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        existing = (
            await db.execute(
                select(HeldComment).where(
                    HeldComment.broadcast_id == broadcast_id,
                    HeldComment.member_id == member_id,
                    HeldComment.ref == ref,
                )
            )
        ).scalar_one_or_none()
        if existing is None:
            raise
        return existing
    return held


async def undo_approval(db: AsyncSession, held_id: int) -> None:
    """Back to pending when an approved comment could not be posted (room closed): never lost."""
    await db.execute(
        update(HeldComment)
        .where(HeldComment.id == held_id, HeldComment.status == HeldStatus.APPROVED, HeldComment.position.is_(None))
        .values(status=HeldStatus.PENDING, reviewed_by_id=None, reviewed_at=None)
        .execution_options(synchronize_session=False)
    )
    await db.commit()


async def set_held_position(db: AsyncSession, held_id: int, position: int) -> None:
    await db.execute(
        update(HeldComment)
        .where(HeldComment.id == held_id)
        .values(position=position)
        .execution_options(synchronize_session=False)
    )
    await db.commit()


async def held_comments(db: AsyncSession, broadcast_id: int) -> list[HeldComment]:
    rows = await db.execute(
        select(HeldComment)
        .where(HeldComment.broadcast_id == broadcast_id, HeldComment.status == HeldStatus.PENDING)
        .order_by(HeldComment.created_at)
    )
    return list(rows.unique().scalars())


async def decide_held(
    db: AsyncSession, actor: Member, broadcast: Broadcast, held_id: int, approve: bool
) -> HeldComment:
    """Mark a held comment approved/rejected exactly once (two moderators racing: one wins)."""
    status = HeldStatus.APPROVED if approve else HeldStatus.REJECTED
    held = await decide_once(
        db,
        actor,
        broadcast,
        (HeldComment, held_id),
        HeldComment.status == HeldStatus.PENDING,
        {"status": status, "reviewed_by_id": actor.id, "reviewed_at": utcnow()},
        missing="保留中のコメントが見つかりません。",
        taken=("already_decided", "このコメントは既に他のモデレーターが処理しました。"),
    )
    audit.record(
        db,
        broadcast.id,
        actor,
        "approve" if approve else "reject",
        target_member_id=held.member_id,
        detail={"text": held.text, "word": held.matched_word},
    )
    await db.commit()
    await db.refresh(held)
    return held
