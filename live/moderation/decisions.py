"""A moderator's decision on a row of a broadcast (a held comment, a report), taken exactly once."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.members.models import Member
from live.access import require_moderator
from live.models import Broadcast
from live.moderation.errors import ModerationError
from live.moderation.models import CommentReport, HeldComment

Row = TypeVar("Row", HeldComment, CommentReport)


async def decide_once(
    db: AsyncSession,
    actor: Member,
    broadcast: Broadcast,
    row: tuple[type[Row], int],
    undecided: ColumnElement[bool],
    values: dict[str, Any],
    *,
    missing: str,
    taken: tuple[str, str],
) -> Row:
    """The row, once `values` are written to it while it is still `undecided`.

    Refused with `missing` when the row is not the broadcast's (404 `not_found`), with `taken` (code,
    message) when another moderator decided it first (409; the transaction is committed to end it).
    """
    model, row_id = row
    await require_moderator(db, actor, broadcast)
    found = await db.get(model, row_id)
    if found is None or found.broadcast_id != broadcast.id:
        raise ModerationError("not_found", missing, 404)
    # Conditional update: of two moderators deciding at once, exactly one changes the row.
    result = await db.execute(
        update(model).where(model.id == row_id, undecided).values(**values).execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        await db.commit()
        raise ModerationError(*taken, 409)
    return found
