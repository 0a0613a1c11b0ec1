"""The comment batch's resend lookup is a key lookup, whatever the room's size (SQLite's plan)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from live.rooms.drafts import stored_query as _stored_query

pytestmark = pytest.mark.sqlite_only


async def test_the_resend_lookup_uses_the_member_and_ref_key(db) -> None:
    if db.bind.dialect.name != "sqlite":
        pytest.skip("the plan checked is SQLite's (PostgreSQL's depends on its statistics)")
    query = _stored_query(1, {(1, "ref-a"), (2, "ref-b")})
    sql = str(query.compile(dialect=db.bind.dialect, compile_kwargs={"literal_binds": True}))
    plan = " | ".join(str(row[-1]) for row in await db.execute(text("EXPLAIN QUERY PLAN " + sql)))
    # The unique (broadcast_id, member_id, ref) index, searched on all three columns: no scan of the room.
    assert "broadcast_id=? AND member_id=? AND ref=?" in plan, plan
