"""A member's notifications: list newest first, unread counts, mark read, 90-day retention."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.notify import live
from core.notify.models import Delivery, DeliveryState, Notification

RETENTION = dt.timedelta(days=90)
PAGE = 50


async def listing(
    db: AsyncSession, member_id: int, *, before: int | None = None, limit: int = PAGE
) -> list[Notification]:
    stmt = select(Notification).where(
        Notification.member_id == member_id,
        Notification.in_app.is_(True),
        Notification.created_at >= utcnow() - RETENTION,
    )
    if before is not None:
        stmt = stmt.where(Notification.id < before)
    rows = await db.execute(stmt.order_by(Notification.id.desc()).limit(max(1, min(limit, 200))))
    return list(rows.scalars())


async def unread_counts(db: AsyncSession, member_ids: Sequence[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    since = utcnow() - RETENTION
    for start in range(0, len(member_ids), 500):
        chunk = list(member_ids[start : start + 500])
        rows = await db.execute(
            select(Notification.member_id, func.count())
            .where(
                Notification.member_id.in_(chunk),
                Notification.in_app.is_(True),
                Notification.read_at.is_(None),
                Notification.created_at >= since,
            )
            .group_by(Notification.member_id)
        )
        counts.update({int(m): int(c) for m, c in rows.all()})
    return counts


async def unread(db: AsyncSession, member_id: int) -> int:
    return (await unread_counts(db, [member_id])).get(member_id, 0)


async def mark_read(db: AsyncSession, member_id: int, ids: Sequence[int] | None) -> int:
    """Mark these (or, with None or [], all) of the member's notifications read; returns how many changed."""
    stmt = update(Notification).where(Notification.member_id == member_id, Notification.read_at.is_(None))
    if ids:
        stmt = stmt.where(Notification.id.in_(list(ids)[:1000]))
    result = await db.execute(stmt.values(read_at=utcnow()).execution_options(synchronize_session=False))
    changed = int(getattr(result, "rowcount", 0) or 0)
    if changed:
        live.changed(db, [member_id])
    await db.commit()
    return changed


async def purge(db: AsyncSession, now: dt.datetime | None = None) -> int:
    """Delete notifications and finished deliveries older than 90 days."""
    cutoff = (now or utcnow()) - RETENTION
    done = [DeliveryState.SENT, DeliveryState.DIGESTED, DeliveryState.DROPPED, DeliveryState.FAILED]
    await db.execute(delete(Delivery).where(Delivery.created_at < cutoff, Delivery.state.in_(done)))
    result = await db.execute(delete(Notification).where(Notification.created_at < cutoff))
    await db.commit()
    return int(getattr(result, "rowcount", 0) or 0)
