"""Formula injection through the chat CSV: every cell (names, organisations, text) is neutralised."""

from __future__ import annotations

import csv
import io

from sqlalchemy import update

from core.members.models import Member
from tests.factories import add_chat, member_id
from tests.helpers import login

HOSTILE = ["=1+2", "+81-3", "-2+3", "@SUM(A1)", "\t=cmd", "\r=cmd"]


async def test_names_and_organisations_cannot_start_a_formula(client, db, past):
    b = past["a"]
    author = await member_id(db, "member@example.jp")
    await db.execute(
        update(Member)
        .where(Member.id == author)
        .values(name='=HYPERLINK("http://evil.example","x")', organisation="+81-3", department="@cmd")
    )
    add_chat(db, b.id, b.starts_at, [(author, position * 1000, text) for position, text in enumerate(HOSTILE, start=1)])
    await db.commit()
    await login(client, "host@example.jp")
    exported = (await client.get(f"/archive/{b.id}/chat.csv")).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(exported)))[1:]
    assert len(rows) == len(HOSTILE)
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
        assert row[1] == '\'=HYPERLINK("http://evil.example","x")' and row[2] == "'+81-3 @cmd"
    assert [r[5] for r in rows] == ["'" + t for t in HOSTILE]
