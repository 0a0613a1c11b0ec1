"""What can happen to a member: sign-up, review, login, sessions, tokens, password reset."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.errors import Refusal
from core.members.models import ApiToken, AuthAttempt, LoginSession, Member, PasswordReset, Role, Status
from core.members.validation import SignupData, normalise_email

SESSION_LIFETIME = dt.timedelta(days=14)
RESET_LIFETIME = dt.timedelta(hours=1)
LOGIN_WINDOW = dt.timedelta(minutes=15)
LOGIN_MAX_PER_EMAIL = 5
LOGIN_MAX_PER_IP = 30
RESET_MAX_PER_EMAIL = 3
API_TOKEN_PREFIX = "chn_"

_hasher = PasswordHasher()
# Verifying against this keeps the timing of "no such member" equal to "wrong password".
_DUMMY_HASH = _hasher.hash("chonai-dummy-password")


_MEMBER_STATUS = {"not_found": 404, "already_reviewed": 409, "rate_limited": 429}


class MemberError(Refusal):
    """A refusal the caller shows to the user; `code` is stable for the API, the status follows from it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, _MEMBER_STATUS.get(code, 400))


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


async def hash_password(password: str) -> str:
    # Argon2 is deliberately slow; keep it off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    try:
        return await asyncio.to_thread(_hasher.verify, password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def get_by_email(db: AsyncSession, email: str) -> Member | None:
    return (await db.execute(select(Member).where(Member.email == normalise_email(email)))).scalar_one_or_none()


async def register(db: AsyncSession, data: SignupData, *, announce: bool = True) -> Member:
    """Create a pending member (operators are notified in the same transaction); refuse a duplicate e-mail."""
    if await get_by_email(db, data.email):
        raise MemberError("email_taken", "このメールアドレスは既に登録されています。")
    member = Member(
        email=data.email,
        name=data.name,
        org_kind=data.org_kind,
        organisation=data.organisation,
        department=data.department,
        prefecture=data.prefecture,
        password_hash=await hash_password(data.password),
        role=Role.MEMBER,
        status=Status.PENDING,
    )
    db.add(member)
    try:
        await db.flush()
        if announce:
            await _announce_signup(db, member)
        await db.commit()
    except IntegrityError:  # a concurrent sign-up with the same address won the race
        await db.rollback()
        raise MemberError("email_taken", "このメールアドレスは既に登録されています。") from None
    return member


async def _announce_signup(db: AsyncSession, member: Member) -> None:
    from core.notify.models import Kind
    from core.notify.service import notify, operators

    await notify(
        db,
        Kind.SIGNUP_PENDING,
        operators(),
        event_key=f"signup:{member.id}",
        title=f"新しい登録申請: {member.name}（{member.prefecture} {member.affiliation}）",
        body=f"氏名: {member.name}\n所属: {member.prefecture} {member.affiliation}\nメール: {member.email}",
        url="/admin/members",
    )


async def create_operator(db: AsyncSession, data: SignupData) -> Member:
    """An approved operator straight away (CLI bootstrap)."""
    member = await register(db, data, announce=False)
    member.status = Status.APPROVED
    member.role = Role.OPERATOR
    member.reviewed_at = utcnow()
    await db.commit()
    return member


async def members_by_status(db: AsyncSession, status: Status | None = None) -> list[Member]:
    query = select(Member).order_by(Member.created_at)
    if status is not None:
        query = query.where(Member.status == status)
    return list((await db.execute(query)).scalars())


async def review(db: AsyncSession, member_id: int, operator: Member, *, approve: bool, reason: str = "") -> Member:
    """Approve or reject a pending member; rejection needs a reason the applicant will read."""
    member = await _get(db, member_id)
    if member.status is not Status.PENDING:
        raise MemberError("already_reviewed", f"この申請は既に処理済みです（{member.status.label}）。")
    if not approve and not reason.strip():
        raise MemberError("reason_required", "却下の理由を入力してください。")
    member.status = Status.APPROVED if approve else Status.REJECTED
    member.review_reason = reason.strip() or None
    member.reviewed_by_id = operator.id
    member.reviewed_at = utcnow()
    await db.commit()
    return member


async def _get(db: AsyncSession, member_id: int) -> Member:
    member = await db.get(Member, member_id)
    if member is None:
        raise MemberError("not_found", "該当するメンバーが見つかりません。")
    return member


async def set_role(db: AsyncSession, member_id: int, role: Role) -> Member:
    member = await _get(db, member_id)
    member.role = role
    await db.commit()
    return member


async def set_status(db: AsyncSession, member_id: int, status: Status, reason: str = "") -> Member:
    """Suspending also ends every session and revokes every token at once."""
    member = await _get(db, member_id)
    member.status = status
    member.review_reason = reason or member.review_reason
    if status is not Status.APPROVED:
        await db.execute(delete(LoginSession).where(LoginSession.member_id == member.id))
        await db.execute(
            update(ApiToken)
            .where(ApiToken.member_id == member.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    await db.commit()
    return member


async def _recent_attempts(db: AsyncSession, kind: str, key: str, window: dt.timedelta) -> int:
    since = utcnow() - window
    query = select(func.count()).where(AuthAttempt.kind == kind, AuthAttempt.key == key, AuthAttempt.at > since)
    return int((await db.execute(query)).scalar_one())


async def _record_attempt(db: AsyncSession, kind: str, key: str) -> None:
    db.add(AuthAttempt(kind=kind, key=key[:300]))
    await db.commit()


async def authenticate(db: AsyncSession, email: str, password: str, ip: str) -> Member:
    """Check a password login, limited per address and per client IP across processes."""
    email = normalise_email(email)
    if (
        await _recent_attempts(db, "login_email", email, LOGIN_WINDOW) >= LOGIN_MAX_PER_EMAIL
        or await _recent_attempts(db, "login_ip", ip, LOGIN_WINDOW) >= LOGIN_MAX_PER_IP
    ):
        raise MemberError("rate_limited", "ログインの試行回数が多すぎます。15分ほど待ってから再度お試しください。")
    member = await get_by_email(db, email)
    ok = await verify_password(member.password_hash if member else _DUMMY_HASH, password)
    if member is None or not ok:
        await _record_attempt(db, "login_email", email)
        await _record_attempt(db, "login_ip", ip)
        raise MemberError("bad_credentials", "メールアドレスまたはパスワードが正しくありません。")
    if _hasher.check_needs_rehash(member.password_hash):
        member.password_hash = await hash_password(password)
        await db.commit()
    return member


async def start_session(db: AsyncSession, member: Member, user_agent: str = "") -> str:
    raw = secrets.token_urlsafe(32)
    db.add(
        LoginSession(
            token_hash=hash_token(raw),
            member_id=member.id,
            expires_at=utcnow() + SESSION_LIFETIME,
            user_agent=user_agent[:200],
        )
    )
    await db.commit()
    return raw


async def member_for_session(db: AsyncSession, raw: str) -> Member | None:
    row = await db.get(LoginSession, hash_token(raw))
    if row is None or row.expires_at <= utcnow():
        return None
    return row.member


async def end_session(db: AsyncSession, raw: str) -> None:
    await db.execute(delete(LoginSession).where(LoginSession.token_hash == hash_token(raw)))
    await db.commit()


async def create_api_token(db: AsyncSession, member: Member, name: str) -> tuple[ApiToken, str]:
    raw = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(member_id=member.id, name=name[:100] or "API", token_hash=hash_token(raw), prefix=raw[:10])
    db.add(token)
    await db.commit()
    return token, raw


async def list_api_tokens(db: AsyncSession, member: Member) -> list[ApiToken]:
    rows = await db.execute(
        select(ApiToken)
        .where(ApiToken.member_id == member.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc())
    )
    return list(rows.scalars())


async def revoke_api_token(db: AsyncSession, member: Member, token_id: int) -> None:
    token = await db.get(ApiToken, token_id)
    if token is None or token.member_id != member.id or token.revoked_at is not None:
        raise MemberError("not_found", "該当するトークンが見つかりません。")
    token.revoked_at = utcnow()
    await db.commit()


async def member_for_api_token(db: AsyncSession, raw: str) -> Member | None:
    if not raw.startswith(API_TOKEN_PREFIX):
        return None
    token = (await db.execute(select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))).scalar_one_or_none()
    if token is None or token.revoked_at is not None:
        return None
    now = utcnow()
    # Write at most once a minute so busy integrations don't turn reads into writes.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        token.last_used_at = now
        await db.commit()
    return token.member


async def change_password(db: AsyncSession, member_id: int, new_password: str) -> None:
    member = await _get(db, member_id)
    member.password_hash = await hash_password(new_password)
    await db.commit()


async def request_password_reset(db: AsyncSession, email: str) -> str | None:
    """Return a raw reset token for an existing member, or None; callers never reveal which."""
    email = normalise_email(email)
    if await _recent_attempts(db, "reset", email, dt.timedelta(hours=1)) >= RESET_MAX_PER_EMAIL:
        return None
    await _record_attempt(db, "reset", email)
    member = await get_by_email(db, email)
    if member is None or member.status in {Status.REJECTED, Status.SUSPENDED}:
        return None
    raw = secrets.token_urlsafe(32)
    db.add(PasswordReset(token_hash=hash_token(raw), member_id=member.id, expires_at=utcnow() + RESET_LIFETIME))
    await db.commit()
    return raw


async def reset_password(db: AsyncSession, raw: str, new_password: str) -> Member:
    row = await db.get(PasswordReset, hash_token(raw))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise MemberError("reset_invalid", "このリンクは無効か期限切れです。もう一度お手続きください。")
    member = await db.get(Member, row.member_id)
    assert member is not None
    member.password_hash = await hash_password(new_password)
    row.used_at = utcnow()
    # A new password ends every other session, as users expect after a reset.
    await db.execute(delete(LoginSession).where(LoginSession.member_id == member.id))
    await db.commit()
    return member
