"""Blocked words: site-wide (site moderators) and per program (its moderators); the gate applies them."""

from __future__ import annotations

import unicodedata

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import save_unique
from core.errors import found
from core.members.models import Member, Role
from core.text import clean_line
from live.access import require_moderator
from live.models import Broadcast
from live.moderation import audit
from live.moderation.errors import ModerationError
from live.moderation.models import BlockedWord, WordAction

WORD_MAX = 50
_DUPLICATE = "この禁止ワードは既に登録されています。"


def normalize_word(text: str) -> str:
    """NFKC + casefold so ＡＢＣ, abc and ABC match alike; katakana/hiragana are left distinct."""
    return unicodedata.normalize("NFKC", text).casefold()


async def _require_word_editor(
    db: AsyncSession, actor: Member, program_id: int | None, broadcast: Broadcast | None, verb: str, elsewhere: str
) -> None:
    """Site-wide words need a site moderator; a program's words a moderator of that program's broadcast."""
    if program_id is None:
        if not actor.has_role(Role.MODERATOR):
            message = f"サイト全体の禁止ワードはサイトのモデレーターと運営だけが{verb}できます。"
            raise ModerationError("forbidden", message, 403)
    elif broadcast is None or broadcast.program_id != program_id:
        raise ModerationError("invalid_program", elsewhere)
    else:
        await require_moderator(db, actor, broadcast)


def _checked_word(word: str, action: str) -> str:
    cleaned = clean_line(word)
    if not cleaned:
        raise ModerationError("empty_word", "禁止ワードを入力してください。")
    if len(cleaned) > WORD_MAX:
        raise ModerationError("too_long", f"禁止ワードは{WORD_MAX}文字以内で入力してください。")
    if len(normalize_word(cleaned).strip()) < 1:
        raise ModerationError("empty_word", "禁止ワードを入力してください。")
    if action not in {a.value for a in WordAction}:
        raise ModerationError("invalid_action", "禁止ワードの動作は「拒否」か「保留して確認」を選んでください。")
    return cleaned


async def add_blocked_word(
    db: AsyncSession, actor: Member, word: str, action: str, program_id: int | None, broadcast: Broadcast | None = None
) -> BlockedWord:
    """Site-wide words need a site moderator; a program's words its moderators."""
    await _require_word_editor(db, actor, program_id, broadcast, "設定", "番組の指定が正しくありません。")
    cleaned = _checked_word(word, action)
    normalized = normalize_word(cleaned)
    existing = await db.execute(
        select(BlockedWord.id).where(
            BlockedWord.normalized == normalized,
            BlockedWord.program_id.is_(None) if program_id is None else BlockedWord.program_id == program_id,
        )
    )
    if existing.first() is not None:
        raise ModerationError("duplicate_word", _DUPLICATE, 409)
    rule = BlockedWord(
        program_id=program_id, word=cleaned, normalized=normalized, action=WordAction(action), created_by_id=actor.id
    )
    db.add(rule)
    detail = {"word": cleaned, "action": action}
    audit.record(db, broadcast.id if broadcast else None, actor, "word_add", detail=detail)
    # Refused if the same word was added concurrently.
    await save_unique(db, ModerationError("duplicate_word", _DUPLICATE, 409))
    return rule


async def remove_blocked_word(db: AsyncSession, actor: Member, word_id: int, broadcast: Broadcast | None) -> None:
    rule = found(await db.get(BlockedWord, word_id), ModerationError("not_found", "禁止ワードが見つかりません。", 404))
    await _require_word_editor(db, actor, rule.program_id, broadcast, "削除", "この番組の禁止ワードではありません。")
    audit.record(db, broadcast.id if broadcast else None, actor, "word_remove", detail={"word": rule.word})
    await db.delete(rule)
    await db.commit()


async def blocked_words(db: AsyncSession, program_id: int | None) -> list[BlockedWord]:
    rows = await db.execute(
        select(BlockedWord)
        .where(or_(BlockedWord.program_id.is_(None), BlockedWord.program_id == program_id))
        .order_by(BlockedWord.program_id.is_(None).desc(), BlockedWord.word)
    )
    return list(rows.scalars())
