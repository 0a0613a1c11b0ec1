"""Passwords: changing one, and recovering an account by a reset link that works once."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.events import EventBus
from core.members.models import LoginSession, Member, PasswordReset, Status
from core.members.service import (
    MemberError,
    _end_credentials,
    _get,
    _recent_attempts,
    _record_attempt,
    get_by_email,
    hash_password,
    hash_token,
)
from core.members.validation import normalise_email
from core.sockets import Revoked, publish_revoked

RESET_LIFETIME = dt.timedelta(hours=1)
RESET_MAX_PER_EMAIL = 3


async def change_password(
    db: AsyncSession, member_id: int, new_password: str, *, keep_session: str | None, bus: EventBus | None = None
) -> None:
    """A new password ends every other session (and its sockets) and every unused reset link.

    API tokens stay: the member is logged in and revokes them on the same profile page.
    `keep_session` is the raw session token of the browser that changed it.
    """
    member = await _get(db, member_id)
    member.password_hash = await hash_password(new_password)
    kept = hash_token(keep_session) if keep_session else None
    ended = delete(LoginSession).where(LoginSession.member_id == member_id)
    if kept is not None:
        ended = ended.where(LoginSession.token_hash != kept)
    await db.execute(ended)
    await _expire_resets(db, member_id)
    await db.commit()
    if bus is not None:
        await publish_revoked(bus, Revoked(member_id=member_id, sessions=True, keep_session=kept))


async def _expire_resets(db: AsyncSession, member_id: int) -> None:
    await db.execute(
        update(PasswordReset)
        .where(PasswordReset.member_id == member_id, PasswordReset.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def request_password_reset(db: AsyncSession, email: str) -> tuple[str, str] | None:
    """(raw reset token, the member's stored address) for an existing member, or None.

    Callers never reveal which, and mail the stored address, never the raw input.
    """
    email = normalise_email(email)
    if await _recent_attempts(db, "reset", email, dt.timedelta(hours=1)) >= RESET_MAX_PER_EMAIL:
        return None
    await _record_attempt(db, "reset", email)
    member = await get_by_email(db, email)
    if member is None or member.status in {Status.REJECTED, Status.SUSPENDED}:
        return None
    raw = secrets.token_urlsafe(32)
    stored = member.email
    db.add(PasswordReset(token_hash=hash_token(raw), member_id=member.id, expires_at=utcnow() + RESET_LIFETIME))
    await db.commit()
    return raw, stored


async def reset_password(db: AsyncSession, raw: str, new_password: str, *, bus: EventBus | None = None) -> Member:
    """Recover an account: the link is used exactly once, and everything else ends with it.

    Whoever reset the password may be recovering from a compromise, so every session, every
    API token, every other reset link and every open socket of the member ends.
    """
    password_hash = await hash_password(new_password)
    now = utcnow()
    claimed = await db.execute(
        update(PasswordReset)
        .where(
            PasswordReset.token_hash == hash_token(raw), PasswordReset.used_at.is_(None), PasswordReset.expires_at > now
        )
        .values(used_at=now)
        .returning(PasswordReset.member_id)
        .execution_options(synchronize_session=False)
    )
    member_id = claimed.scalar_one_or_none()
    member = await db.get(Member, member_id) if member_id is not None else None
    if member is None:
        await db.rollback()
        raise MemberError("reset_invalid", "このリンクは無効か期限切れです。もう一度お手続きください。")
    member.password_hash = password_hash
    await _end_credentials(db, member.id)
    await _expire_resets(db, member.id)
    await db.commit()
    if bus is not None:
        await publish_revoked(bus, Revoked(member_id=member.id, every=True))
    return member
