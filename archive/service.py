"""Past broadcasts and their recordings: who may link them, and finding them again."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, defaultload

from archive.errors import ArchiveError
from archive.inputs import ArchiveFilters, RecordingInput
from archive.models import Recording
from core.bounds import EARLIEST, LATEST
from core.members.models import Member
from core.search import service as search_service
from core.timefmt import JST
from live.public import Broadcast, BroadcastState, Program, require_manager, search_feed

PAGE_SIZE = 20
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


async def get_past_broadcast(db: AsyncSession, broadcast_id: int) -> Broadcast:
    broadcast = await db.get(Broadcast, broadcast_id)
    if broadcast is None or broadcast.state is not BroadcastState.ENDED:
        raise ArchiveError("この放送のアーカイブは見つかりません。", status=404)
    return broadcast


async def recordings_of(db: AsyncSession, broadcast_id: int) -> list[Recording]:
    rows = await db.execute(
        select(Recording).where(Recording.broadcast_id == broadcast_id).order_by(Recording.created_at)
    )
    return list(rows.scalars())


async def add_recording(db: AsyncSession, broadcast_id: int, member: Member, data: RecordingInput) -> Recording:
    """Who may link and when first (404, 403, 409), then the input's validate step (400 naming the field)."""
    broadcast = await db.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise ArchiveError("放送が見つかりません。", status=404)
    require_manager(member, broadcast, "録画を登録できるのは、この放送のパーソナリティと運営だけです。")
    if broadcast.state is not BroadcastState.ENDED:
        raise ArchiveError(
            f"この放送は{broadcast.state.label}のため録画を登録できません（終了した放送のみ登録できます）。", status=409
        )
    valid = data.validate()
    media = valid.media
    recording = Recording(
        broadcast_id=broadcast.id,
        title=valid.title,
        url=media.url,
        kind=media.kind,
        video_id=media.video_id,
        duration_seconds=valid.duration_seconds,
        offset_seconds=valid.offset_seconds,
        added_by_id=member.id,
    )
    db.add(recording)
    await db.flush()
    await search_feed.sync_broadcast(db, broadcast.id)
    await db.commit()
    return recording


async def delete_recording(db: AsyncSession, broadcast_id: int, recording_id: int, member: Member) -> None:
    recording = await db.get(Recording, recording_id)
    broadcast = await db.get(Broadcast, broadcast_id)
    if recording is None or broadcast is None or recording.broadcast_id != broadcast_id:
        raise ArchiveError("録画が見つかりません。", status=404)
    require_manager(member, broadcast, "録画を削除できるのは、この放送のパーソナリティと運営だけです。")
    await db.delete(recording)
    await search_feed.sync_broadcast(db, broadcast_id)
    await db.commit()


def month_range(month: str) -> tuple[dt.datetime, dt.datetime]:
    """A JST calendar month as a UTC half-open interval."""
    match = _MONTH.match(month)
    if not match or not 1 <= int(match.group(2)) <= 12 or not EARLIEST.year <= int(match.group(1)) <= LATEST.year:
        raise ArchiveError("月は YYYY-MM の形式で指定してください。", field="month")
    year, mon = int(match.group(1)), int(match.group(2))
    start = dt.datetime(year, mon, 1, tzinfo=JST)
    end = dt.datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=JST)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def _search_query(filters: ArchiveFilters) -> Select[Broadcast]:
    personality = aliased(Member)
    query = (
        select(Broadcast)
        .outerjoin(Program, Broadcast.program_id == Program.id)
        .outerjoin(personality, personality.id == func.coalesce(Broadcast.personality_id, Program.personality_id))
        .where(Broadcast.state == BroadcastState.ENDED)
    )
    if filters.program_id:
        query = query.where(Broadcast.program_id == filters.program_id)
    if filters.rotation:
        query = query.where(Program.rotation == filters.rotation)
    if filters.personality_id:
        query = query.where(personality.id == filters.personality_id)
    if filters.section_id:
        query = query.where(Program.section_id == filters.section_id)
    if filters.month:
        start, end = month_range(filters.month)
        query = query.where(and_(Broadcast.starts_at >= start, Broadcast.starts_at < end))
    return query


async def search_archive(db: AsyncSession, filters: ArchiveFilters) -> tuple[list[Broadcast], int]:
    """Filters in SQL; the keywords go through the one search engine (title, description, program,
    personality, guests and visible chat), so variants and readings match as on /search."""
    query = _search_query(filters)
    if filters.q.strip():
        refs = await search_service.matching_refs(db, filters.q, ("broadcast", "comment"))
        ids = {ref if kind == "broadcast" else group for kind, ref, group in refs}
        query = query.where(Broadcast.id.in_([i for i in ids if i is not None]))
    total = int((await db.execute(select(func.count()).select_from(query.subquery()))).scalar_one())
    page = max(1, filters.page)
    listed = query.order_by(Broadcast.starts_at.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    # The list shows no guests: skip the programs' guest query (raise if a template starts to need it).
    rows = await db.execute(listed.options(defaultload(Broadcast.program).raiseload(Program.guests)))
    return list(rows.unique().scalars()), total
