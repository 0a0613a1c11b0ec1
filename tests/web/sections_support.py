"""Helpers for 課 and profile tests: per-member API tokens and the mail outbox."""

from __future__ import annotations

import email
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.members.models import Member
from core.members.service import create_api_token
from core.sections import Section

#: The approved demo members besides the founder used in founding tests.
SUPPORTERS = ["moderator@example.jp", "host@example.jp", "fukuoka@example.jp", "naha@example.jp", "kochi@example.jp"]


async def bearer(db: Any, address: str) -> dict[str, str]:
    member = (await db.execute(select(Member).where(Member.email == address))).scalar_one()
    _, raw = await create_api_token(db, member, "test")
    return {"authorization": f"Bearer {raw}"}


async def section_id(db: Any, name: str) -> int:
    return int((await db.execute(select(Section.id).where(Section.name == name))).scalar_one())


def mails(outbox: Path) -> list[tuple[str, str, str]]:
    """(to, subject, body) of every mail written to the outbox."""
    out = []
    for path in sorted(outbox.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes())
        body = msg.get_payload(decode=True).decode()  # type: ignore[union-attr]
        subject = str(email.header.make_header(email.header.decode_header(msg["Subject"])))
        out.append((str(msg["To"]), subject, body))
    return out
