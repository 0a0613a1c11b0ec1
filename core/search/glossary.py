"""用語集 (glossary): groups of words that mean the same, applied to queries (no re-index needed)."""

from __future__ import annotations

import re
import time

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Invalid, found
from core.search.analyse import keys
from core.search.models import GlossaryEntry
from core.text import clean_line

_SPLIT = re.compile(r"[、,，;；\n]+")
MAX_WORDS = 12
_MISSING = "用語集の項目が見つかりません。"

Group = tuple[tuple[str, ...], ...]  # each member word as its key sequence

# Per database URL (a process serves one database; the test suite swaps databases under one process):
# the glossary's stamp (row count, last change) and its groups, and when the stamp was last compared.
_cache: dict[str, tuple[tuple[int, object], list[Group]]] = {}
_checked: dict[str, float] = {}
RECHECK_S = 1.0  # another process's glossary change is seen within this many seconds


def split_words(text: str) -> list[str]:
    return list(dict.fromkeys(w for w in (clean_line(p)[:60] for p in _SPLIT.split(text)) if w))


async def groups(db: AsyncSession) -> list[Group]:
    """Every glossary group as key sequences; re-read only when the glossary changed."""
    where = str(db.get_bind().engine.url)
    cached = _cache.get(where)
    if cached is not None and time.monotonic() - _checked.get(where, 0.0) < RECHECK_S:
        return cached[1]
    _checked[where] = time.monotonic()
    stamp = (await db.execute(select(func.count(), func.max(GlossaryEntry.updated_at)))).one()
    token = (int(stamp[0]), stamp[1])
    if cached is None or cached[0] != token:
        rows = (await db.execute(select(GlossaryEntry.words))).scalars()
        built: list[Group] = []
        for text in rows:
            members = tuple(dict.fromkeys(tuple(keys(w)) for w in split_words(text)))
            members = tuple(m for m in members if m)
            if len(members) > 1:
                built.append(members)
        if len(_cache) > 16:
            _cache.clear()
        cached = _cache[where] = (token, built)
    return cached[1]


def forget() -> None:
    """Drop this process's glossary cache (after a change here, or when a database is replaced)."""
    _cache.clear()
    _checked.clear()


async def entries(db: AsyncSession) -> list[GlossaryEntry]:
    return list((await db.execute(select(GlossaryEntry).order_by(GlossaryEntry.id))).scalars())


def _check(words_text: str, note: str) -> tuple[str, str]:
    members = split_words(words_text)
    if len(members) < 2:
        raise Invalid(
            "同じ意味の語を2つ以上、「、」で区切って入力してください。", fields={"words": "2語以上必要です。"}
        )
    if len(members) > MAX_WORDS:
        raise Invalid(f"1つの組に入れられる語は{MAX_WORDS}語までです。", fields={"words": "語が多すぎます。"})
    if any(not keys(m) for m in members):
        raise Invalid("記号だけの語は登録できません。", fields={"words": "記号だけの語があります。"})
    return "、".join(members), clean_line(note)[:200]


async def save(
    db: AsyncSession, member_id: int, words_text: str, note: str, entry_id: int | None = None
) -> GlossaryEntry:
    text, note = _check(words_text, note)
    if entry_id is None:
        entry = GlossaryEntry(words=text, note=note, updated_by_id=member_id)
        db.add(entry)
    else:
        entry = found(await db.get(GlossaryEntry, entry_id), _MISSING)
        entry.words, entry.note, entry.updated_by_id = text, note, member_id
    await db.commit()
    forget()  # this process sees its own change at once
    return entry


async def delete(db: AsyncSession, entry_id: int) -> None:
    await db.delete(found(await db.get(GlossaryEntry, entry_id), _MISSING))
    await db.commit()
    forget()


async def seed(db: AsyncSession) -> int:
    """Add the shipped groups when the glossary is empty (a fresh or truncated database)."""
    from core.search.glossary_defaults import GLOSSARY

    if (await db.execute(select(func.count()).select_from(GlossaryEntry))).scalar_one():
        return 0
    db.add_all(GlossaryEntry(words=w, note=n) for w, n in GLOSSARY)
    await db.commit()
    forget()
    return len(GLOSSARY)
