"""A past broadcast's chat: the replay feed, CSV/JSON exports and reach statistics."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.cells import csv_row
from core.members.models import Member, OrgKind
from core.timefmt import JST
from live.public import Broadcast, RoomComment, RoomVisit, ViewerSample


class ReplayItem(msgspec.Struct, kw_only=True):
    """One comment as the archive shows it; `offset_ms` is from the broadcast's live start."""

    position: int
    author: str
    organisation: str
    text: str
    offset_ms: int
    at: dt.datetime


class ReplayFeed(msgspec.Struct, kw_only=True):
    broadcast_id: int
    comments: list[ReplayItem]


VISIBLE = RoomComment.hidden_at.is_(None)  # moderated comments never reach the archive


async def replay_items(db: AsyncSession, broadcast_id: int) -> list[ReplayItem]:
    rows = await db.execute(
        select(RoomComment, Member.name, Member.organisation, Member.department)
        .join(Member, Member.id == RoomComment.member_id)
        .where(RoomComment.broadcast_id == broadcast_id, VISIBLE)
        .order_by(RoomComment.position)
    )
    return [
        ReplayItem(
            position=c.position,
            author=name,
            organisation=f"{org} {dept}".strip(),
            text=c.text,
            offset_ms=c.offset_ms,
            at=c.created_at,
        )
        for c, name, org, dept in rows
    ]


def _offset_label(ms: int) -> str:
    sign = "-" if ms < 0 else ""
    seconds = abs(ms) // 1000
    return f"{sign}{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def to_csv(items: list[ReplayItem]) -> bytes:
    """UTF-8 with BOM so Excel opens the Japanese text correctly."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["番号", "投稿者", "所属", "投稿日時（日本時間）", "放送開始からの経過", "コメント"])
    for item in items:
        writer.writerow(
            csv_row(
                [
                    item.position,
                    item.author,
                    item.organisation,
                    item.at.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S"),
                    _offset_label(item.offset_ms),
                    item.text,
                ]
            )
        )
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def to_json(broadcast: Broadcast, items: list[ReplayItem]) -> bytes:
    return msgspec.json.encode(
        {
            "broadcast": {"id": broadcast.id, "title": broadcast.title, "starts_at": broadcast.starts_at},
            "comments": items,
        }
    )


@dataclass(frozen=True, slots=True)
class BroadcastStats:
    comments: int
    commenters: int
    members_reached: int
    municipalities_reached: int
    prefectures_reached: int
    peak_viewers: int | None
    average_viewers: float | None


async def stats(db: AsyncSession, broadcast_id: int) -> BroadcastStats:
    comments, commenters = (
        await db.execute(
            select(func.count(), func.count(func.distinct(RoomComment.member_id))).where(
                RoomComment.broadcast_id == broadcast_id,
                VISIBLE,
            )
        )
    ).one()
    # Reach counts everyone who opened the room or commented.
    visitors = select(RoomVisit.member_id).where(RoomVisit.broadcast_id == broadcast_id)
    posters = select(RoomComment.member_id).where(RoomComment.broadcast_id == broadcast_id, VISIBLE)
    reached = select(Member).where(Member.id.in_(visitors.union(posters).scalar_subquery()))
    members = list((await db.execute(reached)).scalars())
    municipalities = {(m.prefecture, m.organisation) for m in members if m.org_kind is OrgKind.MUNICIPALITY}
    peak, average = await viewer_counts(db, broadcast_id)
    return BroadcastStats(
        comments=int(comments),
        commenters=int(commenters),
        members_reached=len(members),
        municipalities_reached=len(municipalities),
        prefectures_reached=len({m.prefecture for m in members if m.prefecture != "国"}),
        peak_viewers=peak,
        average_viewers=average,
    )


async def viewer_counts(db: AsyncSession, broadcast_id: int) -> tuple[int | None, float | None]:
    """Peak and average concurrent viewers from the room's samples (None when none were recorded)."""
    peak, average = (
        await db.execute(
            select(func.max(ViewerSample.viewers), func.avg(ViewerSample.viewers)).where(
                ViewerSample.broadcast_id == broadcast_id
            )
        )
    ).one()
    return (int(peak), round(float(average), 1)) if peak is not None else (None, None)
