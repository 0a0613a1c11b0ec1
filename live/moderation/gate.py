"""The moderation checks in front of the comment path (non-moderators only).

Order: timeouts, bans, room lock and comments off first (typed refusal carrying `until`),
then blocked words: a refuse rule refuses, a hold rule keeps the comment as a
HeldComment for review (never lost). Slow mode is checked inside the insert transaction
(live.rooms.service) because it must see the member's latest comment under the room lock.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.members.models import Member
from core.text import clean_line
from live.moderation import service
from live.moderation.models import HeldComment, WordAction
from live.rooms.service import RoomError

HELD_MESSAGE = "コメントは確認待ちになりました。モデレーターが承認すると表示されます。"


@dataclass(frozen=True, slots=True)
class Hold:
    word: str
    text: str


async def check_comment(
    db: AsyncSession, broadcast_id: int, program_id: int | None, member: Member, text: str, max_length: int
) -> Hold | None:
    """Raise RoomError if the member may not post this now; Hold if it must wait for review."""
    member_id = member.id
    restriction = await service.restriction_of(db, member_id, broadcast_id, program_id)
    if restriction is not None:
        await db.commit()
        raise RoomError(restriction.code, restriction.message, until=restriction.until)
    cleaned = clean_line(text)
    hit = await service.screen_in(db, program_id, cleaned) if cleaned else None
    await db.commit()
    if hit is None:
        return None
    action, word = hit
    if action is WordAction.REFUSE:
        raise RoomError("blocked_word", f"このコメントには使用できない語句（{word}）が含まれています。")
    if len(cleaned) > max_length:  # never hold what the room would refuse anyway
        raise RoomError("too_long", f"コメントは{max_length}文字以内で入力してください（現在{len(cleaned)}文字）。")
    return Hold(word=word, text=cleaned)


async def hold(db: AsyncSession, broadcast_id: int, member: Member, hold: Hold, ref: str | None) -> HeldComment:
    return await service.hold_in(db, broadcast_id, member.id, hold.text, hold.word, ref)
