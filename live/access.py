"""Who may do what to a broadcast: the one access policy, read by pages, the API, sockets and the archive.

- moderate: keep the room safe (sanctions, controls, held comments, hide/restore, reports, audit).
  Site moderators and operators, the broadcast's or its program's personality, named program moderators.
- host: run the broadcast (open the lobby, go live, end). The same people: hosts and moderators run a
  broadcast together from its control page, and the schedule's buttons and the control page agree.
- manage: what happens after the show (link recordings, export the chat, statistics).
  Operators and the broadcast's or its program's personality.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Forbidden, found
from core.members.models import Member, Role
from live.models import Broadcast, Program, ProgramModerator


def _personality_ids(broadcast: Broadcast, program: Program | None) -> set[int]:
    ids = {broadcast.personality_id, program.personality_id if program else None}
    return {i for i in ids if i is not None}


async def can_moderate(db: AsyncSession, member: Member | None, broadcast: Broadcast) -> bool:
    """Site moderators/operators, the broadcast's or program's personality, and named program moderators."""
    if member is None or not member.is_active:
        return False
    if member.has_role(Role.MODERATOR) or member.id == broadcast.personality_id:
        return True
    if broadcast.program_id is None:
        return False
    program = await db.get(Program, broadcast.program_id)
    if program is not None and member.id == program.personality_id:
        return True
    return await db.get(ProgramModerator, (broadcast.program_id, member.id)) is not None


async def named_moderators(db: AsyncSession, broadcast: Broadcast) -> frozenset[int]:
    """Who moderates this broadcast by name (personalities, program moderators): `can_moderate` for many at once."""
    if broadcast.program_id is None:
        return frozenset(_personality_ids(broadcast, None))
    program = await db.get(Program, broadcast.program_id)
    query = select(ProgramModerator.member_id).where(ProgramModerator.program_id == broadcast.program_id)
    return frozenset(_personality_ids(broadcast, program) | set((await db.execute(query)).scalars()))


def moderates(member: Member, named: frozenset[int]) -> bool:
    """`can_moderate`, given the broadcast's `named_moderators`."""
    return member.is_active and (member.has_role(Role.MODERATOR) or member.id in named)


async def can_host(db: AsyncSession, member: Member | None, broadcast: Broadcast) -> bool:
    """Open, go live and end: whoever may moderate the broadcast."""
    return await can_moderate(db, member, broadcast)


def can_manage(member: Member | None, broadcast: Broadcast) -> bool:
    """Operators and the broadcast's or program's personality (recordings, chat export, statistics)."""
    if member is None or not member.is_active:
        return False
    return member.has_role(Role.OPERATOR) or member.id in _personality_ids(broadcast, broadcast.program)


async def require_moderator(db: AsyncSession, member: Member | None, broadcast: Broadcast) -> Member:
    if member is None or not await can_moderate(db, member, broadcast):
        raise Forbidden("この放送をモデレートする権限がありません。")
    return member


async def require_host(db: AsyncSession, member: Member | None, broadcast: Broadcast) -> Member:
    if member is None or not await can_host(db, member, broadcast):
        raise Forbidden("この放送を操作できるのはパーソナリティ・モデレーター・運営だけです。")
    return member


def require_manager(member: Member | None, broadcast: Broadcast, message: str, code: str = "forbidden") -> Member:
    if member is None or not can_manage(member, broadcast):
        raise Forbidden(message, code=code)
    return member


async def moderated_broadcast(db: AsyncSession, member: Member | None, broadcast_id: int) -> tuple[Member, Broadcast]:
    """The broadcast a moderation endpoint acts on and its moderator (404, then 403)."""
    broadcast = await existing_broadcast(db, broadcast_id)
    return await require_moderator(db, member, broadcast), broadcast


async def existing_broadcast(db: AsyncSession, broadcast_id: int) -> Broadcast:
    return found(await db.get(Broadcast, broadcast_id), "放送が見つかりません。")
