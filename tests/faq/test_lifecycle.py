"""A study session linked to a broadcast ends, and gets its FAQ draft, when the broadcast ends."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from faq.models import FaqDocument, SessionState, StudySession
from tests.factories import live_show
from tests.faq.test_board import api, live_session
from tests.helpers import csrf, login


async def test_session_ends_with_its_broadcast(client, demo, db):
    show = await live_show(
        db,
        title="ワクチン接種 情報交換会 第3回",
        host_email="naha@example.jp",
        section="ワクチン接種情報交換課",
        start=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20),
    )
    session = await live_session(db)
    session.broadcast_id = show.id
    await db.commit()
    session_id = session.id
    await login(client, "naha@example.jp")  # organiser of the series and the broadcast's personality
    asked = await api(client, f"/sessions/{session_id}/questions", {"body": "予約枠の配分はどう決めましたか？"})
    assert asked.status_code == 201, asked.text
    answered = await api(client, f"/questions/{asked.json()['id']}/answer", {"answer": "人口比で配分しました。"})
    assert answered.status_code == 201, answered.text

    ended = await client.post(f"/api/schedule/broadcasts/{show.id}/end", headers={"x-csrftoken": await csrf(client)})
    assert ended.status_code == 200, ended.text

    async with asyncio.timeout(10):
        while True:
            db.expire_all()
            row = (await db.execute(select(StudySession).where(StudySession.id == session_id))).scalar_one()
            doc = (
                await db.execute(select(FaqDocument).where(FaqDocument.session_id == session_id))
            ).scalar_one_or_none()
            if row.state is SessionState.ENDED and doc is not None:
                break
            await asyncio.sleep(0.05)
    assert row.ended_at is not None
