"""What live feeds the search index: archived (ended) broadcasts, their visible chat, and programs.

Called inside the caller's transaction (no commit here): a broadcast ending, a recording being
linked, a comment hidden or restored, a program saved.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.members.models import Member
from core.search import index
from core.search.index import Doc
from live.models import Broadcast, BroadcastState, Program
from live.rooms.models import RoomComment


def _names(program: Program | None) -> list[str]:
    if program is None:
        return []
    names = [g.member.name if g.member else g.name for g in program.guests]
    return [n for n in names if n]


async def _broadcast(db: AsyncSession, broadcast_id: int) -> Broadcast | None:
    stmt = select(Broadcast).where(Broadcast.id == broadcast_id).execution_options(populate_existing=True)
    return (await db.execute(stmt)).unique().scalar_one_or_none()


async def _personality(db: AsyncSession, b: Broadcast) -> str:
    member_id = b.personality_id or (b.program.personality_id if b.program else None)
    member = await db.get(Member, member_id) if member_id else None
    return member.name if member else ""


async def broadcast_doc(db: AsyncSession, b: Broadcast) -> Doc:
    program = b.program
    guests = _names(program)
    lines = [
        b.description,
        f"番組: {program.title}" if program else "",
        f"パーソナリティ: {await _personality(db, b)}",
        f"ゲスト: {'、'.join(guests)}" if guests else "",
    ]
    return Doc(
        kind="broadcast",
        ref_id=b.id,
        title=b.title,
        body="\n".join(line for line in lines if line and not line.endswith(": ")),
        url=f"/archive/{b.id}",
        date=b.starts_at,
        section_id=program.section_id if program else None,
    )


def comment_doc(b: Broadcast, c: RoomComment) -> Doc:
    return Doc(
        kind="comment",
        ref_id=c.id,
        title=f"{b.title}（チャット）",
        body=c.text,
        url=f"/archive/{b.id}#chat-{c.position}",
        date=c.created_at,
        section_id=b.program.section_id if b.program else None,
        group_id=b.id,
        title_indexed=False,
    )


async def sync_broadcast(db: AsyncSession, broadcast_id: int) -> None:
    """Index an ended broadcast and its visible chat; drop it from the index otherwise."""
    b = await _broadcast(db, broadcast_id)
    comments = list((await db.execute(select(RoomComment).where(RoomComment.broadcast_id == broadcast_id))).scalars())
    if b is None or b.state is not BroadcastState.ENDED:
        await index.remove(db, [("broadcast", broadcast_id), *[("comment", c.id) for c in comments]])
        return
    await index.upsert(db, [await broadcast_doc(db, b)])
    await index.remove(db, [("comment", c.id) for c in comments if c.hidden_at is not None])
    await index.upsert(db, [comment_doc(b, c) for c in comments if c.hidden_at is None])


async def sync_comment(db: AsyncSession, broadcast_id: int, position: int) -> None:
    """A comment was hidden or restored: the archive's chat index follows."""
    c = (
        await db.execute(
            select(RoomComment)
            .where(RoomComment.broadcast_id == broadcast_id, RoomComment.position == position)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    b = await _broadcast(db, broadcast_id)
    if c is None or b is None:
        return
    if c.hidden_at is not None or b.state is not BroadcastState.ENDED:
        await index.remove(db, [("comment", c.id)])
    else:
        await index.upsert(db, [comment_doc(b, c)])


async def program_doc(db: AsyncSession, program: Program) -> Doc:
    guests = _names(program)
    member = await db.get(Member, program.personality_id) if program.personality_id else None
    personality = member.name if member else ""
    body = "\n".join(
        x
        for x in [
            program.description,
            f"パーソナリティ: {personality}" if personality else "",
            f"ゲスト: {'、'.join(guests)}" if guests else "",
        ]
        if x
    )
    return Doc(
        kind="program",
        ref_id=program.id,
        title=program.title,
        body=body,
        url=f"/schedule/programs/{program.id}",
        date=program.updated_at or program.created_at or utcnow(),
        section_id=program.section_id,
    )


async def sync_program(db: AsyncSession, program_id: int) -> None:
    """A program was saved: index it while it is active."""
    await db.flush()
    stmt = select(Program).where(Program.id == program_id).execution_options(populate_existing=True)
    program = (await db.execute(stmt)).unique().scalar_one_or_none()
    if program is not None and program.active:
        await index.upsert(db, [await program_doc(db, program)])
    else:
        await index.remove(db, [("program", program_id)])
    # Its archived broadcasts name the program, its personality and guests: they follow.
    ended = select(Broadcast.id).where(Broadcast.program_id == program_id, Broadcast.state == BroadcastState.ENDED)
    docs = []
    for broadcast_id in (await db.execute(ended)).scalars():
        b = await _broadcast(db, broadcast_id)
        if b is not None:
            docs.append(await broadcast_doc(db, b))
    await index.upsert(db, docs)
