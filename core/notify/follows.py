"""Follow programs, personalities, 課 and study series. The caller (web) checks the target exists."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.notify.models import Follow, Target


async def follow(db: AsyncSession, member_id: int, target: Target, target_id: int) -> tuple[Follow, bool]:
    """Follow (idempotent); commits. Returns the follow and whether it is new."""
    existing = await find(db, member_id, target, target_id)
    if existing is not None:
        return existing, False
    row = Follow(member_id=member_id, target=target, target_id=target_id)
    db.add(row)
    try:
        await db.commit()
    except IntegrityError:  # the same member following twice at once
        await db.rollback()
        again = await find(db, member_id, target, target_id)
        if again is None:
            raise
        return again, False
    return row, True


async def add_follow(db: AsyncSession, member_id: int, target: Target, target_id: int) -> None:
    """Follow inside the caller's transaction (e.g. registering for a session follows its series)."""
    if await find(db, member_id, target, target_id) is None:
        db.add(Follow(member_id=member_id, target=target, target_id=target_id))


async def find(db: AsyncSession, member_id: int, target: Target, target_id: int) -> Follow | None:
    stmt = select(Follow).where(Follow.member_id == member_id, Follow.target == target, Follow.target_id == target_id)
    return (await db.execute(stmt)).scalar_one_or_none()


async def unfollow(db: AsyncSession, member_id: int, follow_id: int) -> None:
    row = await db.get(Follow, follow_id)
    if row is None or row.member_id != member_id:
        raise NotFound("このフォローは見つかりませんでした。")
    await db.delete(row)
    await db.commit()


async def follows_of(db: AsyncSession, member_id: int, target: Target | None = None) -> list[Follow]:
    stmt = select(Follow).where(Follow.member_id == member_id)
    if target is not None:
        stmt = stmt.where(Follow.target == target)
    return list((await db.execute(stmt.order_by(Follow.id.desc()))).scalars())
