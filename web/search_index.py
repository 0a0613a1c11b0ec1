"""`chonai search reindex`: rebuild the whole search index from every domain, while serving.

Each batch is its own short transaction and replaces documents one by one (delete + insert),
so searches running meanwhile always see each document either before or after; what no
longer exists is dropped at the end. Domains own what they feed; this only walks them.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.search import index
from faq import search as faq_search
from faq.models import FaqEntry, Question, QuestionStatus, SessionState, StudySeries, StudySession
from live import search_feed
from live.models import Broadcast, BroadcastState, Program

BATCH = 500
Progress = Callable[[str, int, int], None]


def _quiet(_kind: str, _done: int, _total: int) -> None:
    return None


async def _batches(
    db: AsyncSession, kind: str, ids: list[int], feed: Callable[[AsyncSession, list[int]], object], progress: Progress
) -> None:
    for start in range(0, len(ids), BATCH):
        await feed(db, ids[start : start + BATCH])  # type: ignore[misc]
        await db.commit()
        progress(kind, min(start + BATCH, len(ids)), len(ids))


async def _entries(db: AsyncSession, ids: list[int]) -> None:
    entries = list((await db.execute(select(FaqEntry).where(FaqEntry.id.in_(ids)))).scalars())
    await faq_search.index_entries(db, entries)


async def _questions(db: AsyncSession, ids: list[int]) -> None:
    questions = list((await db.execute(select(Question).where(Question.id.in_(ids)))).scalars())
    await faq_search.sync_questions(db, questions)


async def _series(db: AsyncSession, ids: list[int]) -> None:
    for s in (await db.execute(select(StudySeries).where(StudySeries.id.in_(ids)))).unique().scalars():
        await faq_search.sync_series(db, s)


async def _broadcasts(db: AsyncSession, ids: list[int]) -> None:
    for broadcast_id in ids:
        await search_feed.sync_broadcast(db, broadcast_id)


async def _programs(db: AsyncSession, ids: list[int]) -> None:
    for program_id in ids:
        await search_feed.sync_program(db, program_id)


async def rebuild(db: AsyncSession, progress: Progress = _quiet, jobs: int = 1) -> dict[str, int]:
    """Re-index everything; returns documents per kind. `jobs` > 1 analyses each batch in that many
    processes (the writes stay in this one, batch by batch)."""
    if jobs <= 1:
        return await _rebuild(db, progress)
    context = multiprocessing.get_context("spawn")  # no fork of a process running an event loop and threads
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        token = index.analysers.set((pool, jobs))
        try:
            return await _rebuild(db, progress)
        finally:
            index.analysers.reset(token)


async def _rebuild(db: AsyncSession, progress: Progress) -> dict[str, int]:
    plan = {
        "faq_entry": (select(FaqEntry.id).where(FaqEntry.current.is_(True)), _entries),
        "question": (
            select(Question.id)
            .join(StudySession, StudySession.id == Question.session_id)
            .where(StudySession.state == SessionState.ENDED, Question.status == QuestionStatus.ANSWERED),
            _questions,
        ),
        "series": (select(StudySeries.id), _series),
        "broadcast": (select(Broadcast.id).where(Broadcast.state == BroadcastState.ENDED), _broadcasts),
        "program": (select(Program.id).where(Program.active.is_(True)), _programs),
    }
    counts: dict[str, int] = {}
    for kind, (query, feed) in plan.items():
        ids = [int(i) for i in (await db.execute(query.order_by(query.selected_columns[0]))).scalars()]
        await _batches(db, kind, ids, feed, progress)
        counts[kind] = len(ids)
    # Whatever the walk did not produce any more (deleted rows, hidden chat, old versions) goes.
    for kind, keep in await _current_refs(db):
        await index.remove_kind(db, kind, keep)
    await db.commit()
    return counts


async def _current_refs(db: AsyncSession) -> list[tuple[str, set[int]]]:
    from core.search.models import SearchDocument

    out: list[tuple[str, set[int]]] = []
    entries = set((await db.execute(select(FaqEntry.id).where(FaqEntry.current.is_(True)))).scalars())
    out.append(("faq_entry", entries))
    series = set((await db.execute(select(StudySeries.id))).scalars())
    out.append(("series", series))
    ended = set((await db.execute(select(Broadcast.id).where(Broadcast.state == BroadcastState.ENDED))).scalars())
    out.append(("broadcast", ended))
    comments = set(
        (
            await db.execute(
                select(SearchDocument.ref_id).where(
                    SearchDocument.kind == "comment", SearchDocument.group_id.in_(ended)
                )
            )
        ).scalars()
    )
    out.append(("comment", comments))
    programs = set((await db.execute(select(Program.id).where(Program.active.is_(True)))).scalars())
    out.append(("program", programs))
    return out
