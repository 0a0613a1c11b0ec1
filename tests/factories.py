"""Rows tests need but whose own features are tested elsewhere."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.db import utcnow
from core.members.models import Member
from core.sections import Section
from live.models import Broadcast, BroadcastState, Program


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


SERVER_PASSWORD = "correct-horse-battery-9"


async def approved_member_at(url: str, name: str = "確認 太郎", password: str = SERVER_PASSWORD) -> tuple[int, str]:
    """An approved member written straight into a server process's database, with a random id and e-mail.

    Random: Redis channels and the login throttle are shared by every test on this machine.
    """
    import random

    from core.db import Database
    from core.members import service as members
    from core.members.models import OrgKind, Role, Status

    db = Database(url)
    try:
        async with db.session() as s:
            member_id = random.randint(10**8, 2**31 - 2)
            s.add(
                Member(
                    id=member_id,
                    email=f"m{member_id}@example.jp",
                    name=name,
                    org_kind=OrgKind.MUNICIPALITY,
                    organisation="豊中市",
                    department="総務課",
                    prefecture="大阪府",
                    password_hash=await members.hash_password(password),
                    role=Role.MEMBER,
                    status=Status.APPROVED,
                )
            )
            await s.commit()
            return member_id, f"m{member_id}@example.jp"
    finally:
        await db.dispose()
