"""The moderation checks in front of the comment path (non-moderators only).

Order: timeouts, bans, room lock and comments off first (typed refusal carrying `until`),
then blocked words: a refuse rule refuses, a hold rule keeps the comment as a
HeldComment for review (never lost). Slow mode is checked inside the insert transaction
(live.rooms.service) because it must see the member's latest comment under the room lock.

The hot path must not pay database round trips for this: a room keeps its blocked-word
rules for a few seconds (reloaded at once when a moderator changes them) and each
connection its member's restriction (updated by MemberRestricted events, re-read now and
then because pub/sub may lose an event).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.text import clean_line
from live.errors import RoomError
from live.moderation import held, sanctions, words
from live.moderation.models import BlockedWord, HeldComment, WordAction

HELD_MESSAGE = "コメントは確認待ちになりました。モデレーターが承認すると表示されます。"
WORDS_TTL = 5.0  # seconds a room trusts its cached rules (changes elsewhere also notify it)
RESTRICTION_TTL = 10.0  # seconds a connection trusts its member's cached restriction


@dataclass(frozen=True, slots=True)
class Rule:
    normalized: str
    word: str
    action: WordAction


@dataclass(frozen=True, slots=True)
class Hold:
    word: str
    text: str


async def rules(db: AsyncSession, program_id: int | None) -> list[Rule]:
    """Site-wide rules and the program's, refuse rules first (refuse beats hold)."""
    rows = await db.execute(
        select(BlockedWord.normalized, BlockedWord.word, BlockedWord.action).where(
            or_(BlockedWord.program_id.is_(None), BlockedWord.program_id == program_id)
        )
    )
    found = [Rule(n, w, WordAction(a)) for n, w, a in rows if n]
    await db.commit()
    found.sort(key=lambda r: r.action is not WordAction.REFUSE)
    return found


def refuse_if_restricted(restriction: sanctions.Restriction | None, now: dt.datetime | None = None) -> None:
    if restriction is None:
        return
    if restriction.until is not None and restriction.until <= (now or utcnow()):
        return  # the timeout ran out
    raise RoomError(restriction.code, restriction.message, until=restriction.until)


def screen(found: list[Rule], text: str, max_length: int) -> Hold | None:
    """Refuse (RoomError) on a refuse rule; a Hold on a hold rule; None when the text is clean."""
    cleaned = clean_line(text)
    if not cleaned or not found:
        return None
    haystack = words.normalize_word(cleaned)
    for rule in found:
        if rule.normalized in haystack:
            if rule.action is WordAction.REFUSE:
                raise RoomError("blocked_word", f"このコメントには使用できない語句（{rule.word}）が含まれています。")
            if len(cleaned) > max_length:  # never hold what the room would refuse anyway
                raise RoomError(
                    "too_long", f"コメントは{max_length}文字以内で入力してください（現在{len(cleaned)}文字）。"
                )
            return Hold(word=rule.word, text=cleaned)
    return None


async def hold(db: AsyncSession, broadcast_id: int, member_id: int, kept: Hold, ref: str | None) -> HeldComment:
    return await held.hold_in(db, broadcast_id, member_id, kept.text, kept.word, ref)
