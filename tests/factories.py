"""Rows tests need but whose own features are tested elsewhere."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.members.models import Member, OrgKind, Role, Status
from core.sections import Section
from live.models import Broadcast, BroadcastState, Program


def new_member(email: str, name: str, role: Role = Role.MEMBER, **fields) -> Member:
    """An approved member of テスト市 (not added to any session): rows whose sign-up is tested elsewhere."""
    values = {
        "org_kind": OrgKind.MUNICIPALITY,
        "organisation": "テスト市",
        "department": "テスト課",
        "prefecture": "東京都",
        "password_hash": "x",
        "status": Status.APPROVED,
        **fields,
    }
    return Member(email=email, name=name, role=role, **values)


async def member_id(db, email: str) -> int:
    return (await db.execute(select(Member.id).where(Member.email == email))).scalar_one()


async def make_broadcast(
    db,
    *,
    title="ワクチン接種 体制づくり相談会",
    host_email=None,
    section=None,
    start=None,
    state=BroadcastState.ENDED,
    description="",
    **fields,
):
    """The one broadcast factory.

    With `host_email` and `section` it belongs to a one-hour program of that host (the archive and
    moderation tests); without, it is a bare broadcast (the comment-room tests, which pass a random
    `id` because Redis channels are shared by every test on this machine). `start` defaults to five
    minutes ago; a LIVE or ENDED broadcast gets its live_at / ended_at.
    """
    start = start or utcnow() - dt.timedelta(minutes=5)
    if host_email is not None and section is not None:
        host = (await db.execute(select(Member).where(Member.email == host_email))).scalar_one()
        sec = (await db.execute(select(Section).where(Section.name == section))).unique().scalar_one()
        program = Program(
            title=title.split(" ")[0], section_id=sec.id, personality_id=host.id, dtstart=start, duration_minutes=60
        )
        db.add(program)
        await db.flush()
        fields.setdefault("program_id", program.id)
        fields.setdefault("personality_id", host.id)
    ended = state is BroadcastState.ENDED
    broadcast = Broadcast(
        title=title,
        description=description,
        starts_at=start,
        ends_at=start + dt.timedelta(hours=1),
        opens_at=start - dt.timedelta(minutes=10),
        state=state,
        live_at=start if state in (BroadcastState.LIVE, BroadcastState.ENDED) else None,
        ended_at=start + dt.timedelta(hours=1) if ended else None,
        **fields,
    )
    db.add(broadcast)
    await db.commit()
    from live.search_feed import sync_broadcast

    await sync_broadcast(db, broadcast.id)  # inserted directly, so index it as ending would have
    await db.commit()
    return broadcast


def add_chat(db, broadcast_id: int, start: dt.datetime, lines) -> None:
    """A broadcast's chat as the room stores it: (member id, ms after `start`, text) per line, numbered from 1."""
    from live.rooms.models import RoomComment

    for position, (member, offset_ms, text) in enumerate(lines, start=1):
        created_at = start + dt.timedelta(milliseconds=offset_ms)
        db.add(
            RoomComment(
                broadcast_id=broadcast_id, position=position, member_id=member, text=text, offset_ms=offset_ms,
                created_at=created_at,
            )
        )  # fmt: skip


async def live_show(
    db, *, title="法規の時間", host_email="host@example.jp", section="法規課", start=None, **fields
) -> Broadcast:
    """A broadcast on air now (or since `start`) in a program of the demo data's host: the moderation tests' show."""
    return await make_broadcast(
        db,
        title=title,
        host_email=host_email,
        section=section,
        start=start or dt.datetime.now(dt.UTC),
        state=BroadcastState.LIVE,
        **fields,
    )


@contextlib.asynccontextmanager
async def session_at(url: str) -> AsyncIterator[AsyncSession]:
    """A session on the database a server process (or a browser test's server) uses; its engine disposed after."""
    from core.db import Database

    db = Database(url)
    try:
        async with db.session() as s:
            yield s
    finally:
        await db.dispose()


SERVER_PASSWORD = "correct-horse-battery-9"


async def approved_member_at(url: str, name: str = "確認 太郎", password: str = SERVER_PASSWORD) -> tuple[int, str]:
    """An approved member written straight into a server process's database, with a random id and e-mail.

    Random: Redis channels and the login throttle are shared by every test on this machine.
    """
    import random

    from core.members import service as members

    async with session_at(url) as s:
        member_id = random.randint(10**8, 2**31 - 2)
        email = f"m{member_id}@example.jp"
        s.add(
            new_member(
                email,
                name,
                id=member_id,
                organisation="豊中市",
                department="総務課",
                prefecture="大阪府",
                password_hash=await members.hash_password(password),
            )
        )
        await s.commit()
        return member_id, email
