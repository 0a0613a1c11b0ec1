"""The demo data brings the control page to life: a held comment, a report, a restricted member, a pinned note."""

from __future__ import annotations

from sqlalchemy import select

from live.models import Broadcast, BroadcastState
from live.moderation.demo import DEMO_LIVE_TITLE, HELD_WORD, PINNED
from tests.live.rooms_support import token_for
from tests.live.test_rooms_socket import bearer, connect, join


async def test_demo_broadcast_is_live_with_work_for_its_moderators(client, db, demo):
    broadcast = (await db.execute(select(Broadcast).where(Broadcast.title == DEMO_LIVE_TITLE))).unique().scalar_one()
    assert broadcast.state is BroadcastState.LIVE
    host = bearer(await token_for(db, "host@example.jp"))
    base = f"/api/broadcasts/{broadcast.id}/moderation"
    held = (await client.get(base + "/held", headers=host)).json()
    assert len(held) == 1 and HELD_WORD in held[0]["text"]
    reports = (await client.get(base + "/reports", headers=host)).json()
    assert len(reports) == 1 and reports[0]["reason"] == "個人名が書かれています"
    sanctions = (await client.get(base + "/sanctions", headers=host)).json()
    assert [(s["kind"], s["label"]) for s in sanctions] == [("timeout", "タイムアウト")]
    assert (await client.get(base + "/controls", headers=host)).json()["pinned_text"] == PINNED
    audit = [a["action"] for a in (await client.get(base + "/audit", headers=host)).json()]
    assert {"timeout", "pin"} <= set(audit)
    page = await client.get(f"/broadcasts/{broadcast.id}/control", headers=host)
    assert page.status_code == 200
    # Viewers see the comments (and the question) and the pinned announcement.
    async with connect(client, "/ws/rooms", headers=bearer(await token_for(db, "member@example.jp"))) as ws:
        welcome, items = join(ws, broadcast.id)
    assert welcome["controls"]["pinned_text"] == PINNED
    assert len(items) == 8 and sum(1 for i in items if i.get("question")) == 1
    # The restricted member is told so when joining.
    async with connect(client, "/ws/rooms", headers=bearer(await token_for(db, "kochi@example.jp"))) as ws:
        welcome, _ = join(ws, broadcast.id)
    assert welcome["restriction"]["code"] == "timed_out"


def test_sanction_and_word_labels_come_from_the_models():
    from live.moderation.models import Sanction, SanctionKind, SanctionScope, WordAction

    labels = [Sanction(kind=SanctionKind.BAN, scope=scope).label for scope in SanctionScope]
    assert labels == ["禁止（この番組）", "禁止（全放送）"]
    assert Sanction(kind=SanctionKind.TIMEOUT, scope=SanctionScope.PROGRAM).label == "タイムアウト"
    assert [a.label for a in WordAction] == ["拒否", "保留して確認"]
