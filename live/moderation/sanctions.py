"""Timeouts and bans: what a member may do now in a room, and the moderators' actions that decide it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.members.models import Member, Role
from core.text import clean_line
from live.access import can_moderate, require_moderator
from live.models import Broadcast
from live.moderation import audit
from live.moderation.errors import ModerationError
from live.moderation.models import RoomControls, Sanction, SanctionKind, SanctionScope

TIMEOUT_MIN = 10
TIMEOUT_MAX = 24 * 3600


# --- what a member may do now -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Restriction:
    """Why a member cannot comment now; `until` lets the page show the remaining time."""

    code: str
    message: str
    until: dt.datetime | None = None


def _in_force(broadcast_id: int, program_id: int | None, now: dt.datetime) -> Any:
    """Sanctions not lifted or expired that reach this broadcast: site-wide, or its program's."""
    scope = [Sanction.scope == SanctionScope.SITE]
    if program_id is not None:
        scope.append(and_(Sanction.scope == SanctionScope.PROGRAM, Sanction.program_id == program_id))
    else:
        scope.append(and_(Sanction.scope == SanctionScope.PROGRAM, Sanction.broadcast_id == broadcast_id))
    return and_(Sanction.lifted_at.is_(None), or_(Sanction.until.is_(None), Sanction.until > now), or_(*scope))


def _sanctions_query(member_id: int, broadcast_id: int, program_id: int | None, now: dt.datetime) -> Any:
    return (
        select(Sanction)
        .where(Sanction.member_id == member_id, _in_force(broadcast_id, program_id, now))
        .order_by(Sanction.until.desc())
    )


async def restriction_for(
    db: AsyncSession,
    member: Member,
    broadcast: Broadcast,
    now: dt.datetime | None = None,
    *,
    moderator: bool | None = None,
) -> Restriction | None:
    """Bans, timeouts, comments off and room lock; moderators are never restricted.

    `moderator` skips the role lookup when the caller already knows (a room connection
    decides it once at join).
    """
    if moderator is None:
        moderator = await can_moderate(db, member, broadcast)
    if moderator:
        return None
    return await restriction_of(db, member.id, broadcast.id, broadcast.program_id, now)


async def restriction_of(
    db: AsyncSession, member_id: int, broadcast_id: int, program_id: int | None, now: dt.datetime | None = None
) -> Restriction | None:
    """`restriction_for` of a non-moderator, by ids (the comment path has no Broadcast loaded)."""
    now = now or utcnow()
    switch = switch_restriction(await db.get(RoomControls, broadcast_id))
    if switch is not None:
        return switch
    return sanction_restriction(
        list((await db.execute(_sanctions_query(member_id, broadcast_id, program_id, now))).unique().scalars())
    )


async def restrictions_in_room(
    db: AsyncSession, broadcast_id: int, program_id: int | None
) -> tuple[Restriction | None, dict[int, Restriction]]:
    """What `restriction_of` says of every non-moderator at once: (the room's switch, {member id: ban or timeout})."""
    switch = switch_restriction(await db.get(RoomControls, broadcast_id))
    query = select(Sanction).where(_in_force(broadcast_id, program_id, utcnow())).order_by(Sanction.until.desc())
    by_member: dict[int, list[Sanction]] = {}
    for sanction in (await db.execute(query)).unique().scalars():
        by_member.setdefault(sanction.member_id, []).append(sanction)
    found = {member_id: sanction_restriction(rows) for member_id, rows in by_member.items()}
    return switch, {member_id: r for member_id, r in found.items() if r is not None}


def switch_restriction(room: RoomControls | None) -> Restriction | None:
    """Comments off or a locked room restrict every non-moderator."""
    if room is not None and room.comments_off:
        return Restriction("comments_off", "この放送ではコメントが停止されています。")
    if room is not None and room.locked:
        return Restriction("room_locked", "ルームはロック中です（閲覧のみ）。")
    return None


def sanction_restriction(sanctions: list[Sanction]) -> Restriction | None:
    """A member's sanctions in force (latest end first): a ban outranks a timeout."""
    bans = [s for s in sanctions if s.kind is SanctionKind.BAN]
    if bans:
        where = "すべての放送" if bans[0].scope is SanctionScope.SITE else "この番組"
        return Restriction("banned", f"{where}でのコメントが禁止されています。", bans[0].until)
    if sanctions:
        return Restriction("timed_out", "タイムアウト中のためコメントできません。", sanctions[0].until)
    return None


async def active_sanctions(db: AsyncSession, broadcast: Broadcast) -> list[Sanction]:
    """Timeouts and bans in force for this broadcast (any member), newest first."""
    now = utcnow()
    scope = [Sanction.scope == SanctionScope.SITE, Sanction.broadcast_id == broadcast.id]
    if broadcast.program_id is not None:
        scope.append(and_(Sanction.scope == SanctionScope.PROGRAM, Sanction.program_id == broadcast.program_id))
    rows = await db.execute(
        select(Sanction)
        .where(Sanction.lifted_at.is_(None), or_(Sanction.until.is_(None), Sanction.until > now), or_(*scope))
        .order_by(Sanction.created_at.desc())
        .limit(200)
    )
    return list(rows.unique().scalars())


# --- actions ----------------------------------------------------------------------------


async def _sanctionable(db: AsyncSession, broadcast: Broadcast, member_id: int, refusal: str) -> Member:
    """The member to sanction; moderators of the broadcast cannot be (`refusal` says so)."""
    target = await db.get(Member, member_id)
    if target is None:
        raise ModerationError("unknown_member", "対象のメンバーが見つかりません。", 404)
    if await can_moderate(db, target, broadcast):
        raise ModerationError("target_is_moderator", refusal)
    return target


async def _impose(
    db: AsyncSession, actor: Member, broadcast: Broadcast, sanction: Sanction, detail: dict[str, Any], reason: str
) -> Sanction:
    """Store the sanction with its audit row in one commit."""
    db.add(sanction)
    action = "timeout" if sanction.kind is SanctionKind.TIMEOUT else "ban"
    audit.record(db, broadcast.id, actor, action, target_member_id=sanction.member_id, detail=detail, reason=reason)
    await db.commit()
    return sanction


async def timeout(
    db: AsyncSession, actor: Member, broadcast: Broadcast, member_id: int, seconds: int, reason: str = ""
) -> Sanction:
    await require_moderator(db, actor, broadcast)
    if not TIMEOUT_MIN <= seconds <= TIMEOUT_MAX:
        raise ModerationError("invalid_duration", f"タイムアウトは{TIMEOUT_MIN}秒〜24時間の範囲で指定してください。")
    target = await _sanctionable(db, broadcast, member_id, "モデレーターをタイムアウトすることはできません。")
    sanction = Sanction(
        member_id=target.id,
        kind=SanctionKind.TIMEOUT,
        scope=SanctionScope.PROGRAM,
        program_id=broadcast.program_id,
        broadcast_id=broadcast.id,
        until=utcnow() + dt.timedelta(seconds=seconds),
        reason=clean_line(reason)[:500],
        created_by_id=actor.id,
    )
    return await _impose(db, actor, broadcast, sanction, {"seconds": seconds}, reason)


async def ban(
    db: AsyncSession, actor: Member, broadcast: Broadcast, member_id: int, scope: str, reason: str = ""
) -> Sanction:
    await require_moderator(db, actor, broadcast)
    if scope not in {s.value for s in SanctionScope}:
        raise ModerationError("invalid_scope", "禁止の範囲は「この番組」か「すべての放送」を選んでください。")
    if scope == SanctionScope.SITE and not actor.has_role(Role.MODERATOR):
        raise ModerationError("forbidden", "すべての放送での禁止はサイトのモデレーターと運営だけが行えます。", 403)
    target = await _sanctionable(db, broadcast, member_id, "モデレーターを禁止することはできません。")
    sanction = Sanction(
        member_id=target.id,
        kind=SanctionKind.BAN,
        scope=SanctionScope(scope),
        program_id=broadcast.program_id if scope == SanctionScope.PROGRAM else None,
        broadcast_id=broadcast.id,
        reason=clean_line(reason)[:500],
        created_by_id=actor.id,
    )
    return await _impose(db, actor, broadcast, sanction, {"scope": scope}, reason)


async def lift(db: AsyncSession, actor: Member, broadcast: Broadcast, member_id: int, reason: str = "") -> int:
    """Lift every active timeout and ban of the member that applies to this broadcast."""
    await require_moderator(db, actor, broadcast)
    query = _sanctions_query(member_id, broadcast.id, broadcast.program_id, utcnow())
    active = list((await db.execute(query)).unique().scalars())
    if any(s.scope is SanctionScope.SITE for s in active) and not actor.has_role(Role.MODERATOR):
        raise ModerationError(
            "forbidden", "すべての放送での禁止を解除できるのはサイトのモデレーターと運営だけです。", 403
        )
    now = utcnow()
    for sanction in active:
        sanction.lifted_at = now
        sanction.lifted_by_id = actor.id
    detail = {"count": len(active)}
    audit.record(db, broadcast.id, actor, "lift", target_member_id=member_id, detail=detail, reason=reason)
    await db.commit()
    return len(active)
