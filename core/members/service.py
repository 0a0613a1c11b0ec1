"""What can happen to a member: sign-up, review, login, sessions, tokens (passwords: core.members.passwords)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.errors import Refusal, found
from core.events import EventBus
from core.members import throttle
from core.members.models import ApiToken, AuthAttempt, LoginSession, Member, Role, Status
from core.members.validation import SignupData, normalise_email
from core.sockets import Revoked, publish_member_changed, publish_revoked

SESSION_LIFETIME = dt.timedelta(days=14)
API_TOKEN_PREFIX = "chn_"


def _password_hasher() -> PasswordHasher:
    # The test suite logs in thousands of times: CHONAI_FAST_PASSWORD_HASH=1 (set by tests/conftest.py
    # only) picks argon2's cheapest parameters. Hashes carry their parameters, so nothing else changes.
    if os.environ.get("CHONAI_FAST_PASSWORD_HASH") == "1":
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return PasswordHasher()


_hasher = _password_hasher()
# Verifying against this keeps the timing of "no such member" equal to "wrong password".
_DUMMY_HASH = _hasher.hash("chonai-dummy-password")


_MEMBER_STATUS = {"not_found": 404, "already_reviewed": 409, "rate_limited": 429}


class MemberError(Refusal):
    """A refusal the caller shows to the user; `code` is stable for the API, the status follows from it."""

    def __init__(self, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(code, message, _MEMBER_STATUS.get(code, 400))
        self.retry_after = retry_after


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


_SIGNUP_COLUMNS = ("email", "name", "org_kind", "organisation", "department", "prefecture")


def member_row(source: object, password_hash: str, role: Role, status: Status, **more: object) -> Member:
    """A new member row with what sign-up asks copied from `source` (sign-up data, a demo member)."""
    signup = {f: getattr(source, f) for f in _SIGNUP_COLUMNS}
    return Member(**signup, password_hash=password_hash, role=role, status=status, **more)


async def register(db: AsyncSession, data: SignupData, *, announce: bool = True) -> Member:
    """Create a pending member (operators are notified in the same transaction); refuse a duplicate e-mail.

    The password is hashed first either way, so a taken address answers in the same time.
    """
    password_hash = await hash_password(data.password)
    if await get_by_email(db, data.email):
        raise MemberError("email_taken", "このメールアドレスは既に登録されています。")
    member = member_row(data, password_hash, Role.MEMBER, Status.PENDING)
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
    return found(await db.get(Member, member_id), MemberError("not_found", "該当するメンバーが見つかりません。"))


async def set_role(db: AsyncSession, member_id: int, role: Role, *, bus: EventBus | None = None) -> Member:
    """A new role; every process forgets the member's cached sessions (a demoted moderator reconnects as one no more)."""
    member = await _get(db, member_id)
    member.role = role
    await db.commit()
    await publish_member_changed(bus, member_id)
    return member


async def set_status(
    db: AsyncSession, member_id: int, status: Status, reason: str = "", *, bus: EventBus | None = None
) -> Member:
    """Suspending also ends every session, revokes every token and closes every open socket at once."""
    member = await _get(db, member_id)
    member.status = status
    member.review_reason = reason or member.review_reason
    if status is not Status.APPROVED:
        await _end_credentials(db, member.id)
    await db.commit()
    if status is not Status.APPROVED and bus is not None:
        await publish_revoked(bus, Revoked(member_id=member.id, every=True, inactive=True))
    return member


async def _end_credentials(db: AsyncSession, member_id: int) -> None:
    """Every session and API token of the member (in the caller's transaction)."""
    await db.execute(delete(LoginSession).where(LoginSession.member_id == member_id))
    await db.execute(
        update(ApiToken)
        .where(ApiToken.member_id == member_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def _recent_attempts(db: AsyncSession, kind: str, key: str, window: dt.timedelta) -> int:
    since = utcnow() - window
    query = select(func.count()).where(AuthAttempt.kind == kind, AuthAttempt.key == key, AuthAttempt.at > since)
    return int((await db.execute(query)).scalar_one())


async def _record_attempt(db: AsyncSession, kind: str, key: str) -> None:
    db.add(AuthAttempt(kind=kind, key=key[:300]))
    await db.commit()


async def authenticate(db: AsyncSession, email: str, password: str, ip: str, device: str | None = None) -> Member:
    """Check a password login under the throttle (core.members.throttle): atomic, across processes.

    `device` is the nonce of a valid device cookie for this address (`throttle.trusted_device`).
    """
    email = normalise_email(email)
    keys = throttle.keys_for(email, ip, device)
    wait = await throttle.charge(db, keys)
    if wait is not None:
        raise MemberError(
            "rate_limited",
            f"ログインの失敗が続いたため、{int(wait)}秒ほど待ってから再度お試しください。",
            retry_after=wait,
        )
    member = await get_by_email(db, email)
    ok = await verify_password(member.password_hash if member else _DUMMY_HASH, password)
    if member is None or not ok:
        raise MemberError("bad_credentials", "メールアドレスまたはパスワードが正しくありません。")
    await throttle.succeeded(db, keys)
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
    return (await session_member(db, raw))[0]


async def session_member(db: AsyncSession, raw: str) -> tuple[Member | None, dt.datetime | None]:
    """The member of a live session and when the session ends; (None, None) for none."""
    row = await db.get(LoginSession, hash_token(raw))
    if row is None or row.expires_at <= utcnow():
        return None, None
    return row.member, row.expires_at


async def member_for_credential(db: AsyncSession, credential: str | None) -> Member | None:
    """The member a socket's recorded credential still belongs to (None once it ended)."""
    kind, _, token_hash = (credential or "").partition(":")
    if kind == "session":
        row = await db.get(LoginSession, token_hash)
        return row.member if row is not None and row.expires_at > utcnow() else None
    if kind == "token":
        query = select(ApiToken).where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
        token = (await db.execute(query)).scalar_one_or_none()
        return token.member if token is not None else None
    return None


async def end_session(db: AsyncSession, raw: str, *, bus: EventBus | None = None) -> None:
    """Log out: the session row goes, then every socket it opened closes (on every process)."""
    token_hash = hash_token(raw)
    result = await db.execute(
        delete(LoginSession).where(LoginSession.token_hash == token_hash).returning(LoginSession.member_id)
    )
    member_id = result.scalar_one_or_none()
    await db.commit()
    if member_id is not None and bus is not None:
        await publish_revoked(bus, Revoked(member_id=int(member_id), session=token_hash))


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


async def revoke_api_token(db: AsyncSession, member: Member, token_id: int, *, bus: EventBus | None = None) -> None:
    token = await db.get(ApiToken, token_id)
    if token is None or token.member_id != member.id or token.revoked_at is not None:
        raise MemberError("not_found", "該当するトークンが見つかりません。")
    token.revoked_at = utcnow()
    token_hash = token.token_hash
    await db.commit()
    if bus is not None:
        await publish_revoked(bus, Revoked(member_id=member.id, token=token_hash))


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
