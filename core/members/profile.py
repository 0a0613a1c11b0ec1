"""Profile self-service: validated edits, the change log operators read, and confirmed e-mail changes."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import save_unique, utcnow
from core.errors import Invalid
from core.events import EventBus
from core.members.inputs import ProfileInput
from core.members.models import EmailChange, Member, MemberChange, OrgKind, Status
from core.members.service import get_by_email, hash_token
from core.members.validation import FieldErrors, check_affiliation, check_email
from core.sockets import publish_member_changed
from core.text import clean_block, clean_line

EMAIL_CHANGE_LIFETIME = dt.timedelta(hours=24)
INTERESTS_MAX = 500
#: Fields whose old and new values are logged for operators.
LOGGED = {"name": "氏名", "organisation": "所属団体名", "department": "部署名", "prefecture": "都道府県"}
#: A change of these sends the member back to 承認待ち when operators turned re-approval on.
REAPPROVAL_FIELDS = ("name", "organisation")
_READING = re.compile(r"^[\u3041-\u3096\u30fc\s]+$")


def to_hiragana(text: str) -> str:
    """Katakana → hiragana (ー kept), so ふりがな in either script compares equal."""
    return "".join(chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" else c for c in text)


@dataclass(frozen=True, slots=True)
class ProfileData:
    name: str
    reading: str
    org_kind: OrgKind
    organisation: str
    department: str
    prefecture: str
    interests: str


def validate_profile(data: ProfileInput) -> ProfileData:
    """The validate step of a ProfileInput: clean data, or `Invalid` with a Japanese message for every bad field."""
    errors: FieldErrors = {}
    who = check_affiliation(data, errors)
    reading = to_hiragana(clean_line(data.reading))
    if reading and (len(reading) > 60 or not _READING.match(reading)):
        errors["reading"] = "ふりがなはひらがな（またはカタカナ）60文字以内で入力してください。"
    interests = clean_block(data.interests)
    if len(interests) > INTERESTS_MAX:
        errors["interests"] = f"関心のあることは{INTERESTS_MAX}文字以内で入力してください。"
    elif re.search(r"<\s*/?\s*[a-zA-Z!]", interests):
        errors["interests"] = "関心のあることにHTMLタグは使えません。"
    if errors or who.org_kind is None:
        raise Invalid("入力内容を確認してください。", fields=errors)
    return ProfileData(
        who.name, " ".join(reading.split()), who.org_kind, who.organisation, who.department, who.prefecture, interests
    )


async def update_profile(
    db: AsyncSession, member: Member, data: ProfileData, *, reapproval: bool, bus: EventBus | None = None
) -> list[MemberChange]:
    """Apply the edit, log the changes of the logged fields, and (if set) ask for re-approval. Commits.

    Then every process forgets the member's cached sessions: new sockets carry the new name
    (and a member back in review is not let in from the cache).
    """
    changes = []
    for field in LOGGED:
        old, new = getattr(member, field), getattr(data, field)
        if old != new:
            changes.append(
                MemberChange(member_id=member.id, field=field, old_value=old, new_value=new, changed_by_id=member.id)
            )
    if reapproval and any(c.field in REAPPROVAL_FIELDS for c in changes):
        member.status, member.reviewed_at, member.reviewed_by_id = Status.PENDING, None, None
        member.review_reason = "氏名または所属の変更による再承認待ち"
    for field in ("name", "reading", "org_kind", "organisation", "department", "prefecture", "interests"):
        setattr(member, field, getattr(data, field))
    db.add_all(changes)
    member_id = member.id
    await db.commit()
    await publish_member_changed(bus, member_id)
    return changes


async def changes_of(db: AsyncSession, member_id: int) -> list[MemberChange]:
    query = select(MemberChange).where(MemberChange.member_id == member_id).order_by(MemberChange.id.desc())
    return list((await db.execute(query)).scalars())


async def check_new_email(db: AsyncSession, member: Member, raw_email: str) -> str:
    """The normalised new address, or `Invalid` (bad, unchanged or already someone's)."""
    email, problem = check_email(raw_email)
    if problem is None and email == member.email:
        problem = "現在と同じメールアドレスです。"
    if problem is None and await get_by_email(db, email) is not None:
        problem = "このメールアドレスは既に使われています。"
    if problem:
        raise Invalid(problem, fields={"email": problem})
    return email


async def request_email_change(db: AsyncSession, member: Member, raw_email: str) -> tuple[str, str]:
    """Return (new address, raw token) for the confirmation link; refuse a bad or taken address."""
    email = await check_new_email(db, member, raw_email)
    raw = secrets.token_urlsafe(32)
    expires = utcnow() + EMAIL_CHANGE_LIFETIME
    db.add(EmailChange(token_hash=hash_token(raw), member_id=member.id, new_email=email, expires_at=expires))
    await db.commit()
    return email, raw


async def confirm_email_change(db: AsyncSession, raw: str, member_id: int) -> tuple[Member, str]:
    """Switch to the confirmed address; return the member and the old address (to tell it)."""
    row = await db.get(EmailChange, hash_token(raw[:200]))
    invalid = Invalid("このリンクは無効か期限切れです。もう一度お手続きください。", code="link_invalid")
    if row is None or row.used_at is not None or row.expires_at <= utcnow() or row.member_id != member_id:
        raise invalid
    member = await db.get_one(Member, row.member_id)
    if await get_by_email(db, row.new_email) is not None:
        raise Invalid(
            "このメールアドレスは既に使われています。", fields={"email": "このメールアドレスは既に使われています。"}
        )
    old = member.email
    member.email, row.used_at = row.new_email, utcnow()
    db.add(
        MemberChange(
            member_id=member.id, field="email", old_value=old, new_value=row.new_email, changed_by_id=member.id
        )
    )
    await save_unique(
        db,
        Invalid(
            "このメールアドレスは既に使われています。", fields={"email": "このメールアドレスは既に使われています。"}
        ),
    )
    return member, old
