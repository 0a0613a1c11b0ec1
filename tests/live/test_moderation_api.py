"""Moderation API: only moderators of the broadcast act; typed errors; events reach the bus."""

from __future__ import annotations

import msgspec
import pytest

from live.events import broadcast_channel
from live.moderation.events import ModerationEvent
from tests.factories import live_show, member_id
from tests.helpers import csrf, login

pytestmark = pytest.mark.usefixtures("demo")


@pytest.fixture
async def show(db):
    return await live_show(db)


async def _post(client, url, body):
    return await client.post(url, json=body, headers={"x-csrftoken": await csrf(client)})


async def test_only_moderators_of_the_broadcast_may_act(client, db, show):
    target = await member_id(db, "fukuoka@example.jp")
    base = f"/api/broadcasts/{show.id}/moderation"
    await login(client, "member@example.jp")
    refused = await _post(client, f"{base}/timeout", {"member_id": target, "seconds": 60})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert (await client.get(f"{base}/audit")).status_code == 403
    missing = await _post(client, "/api/broadcasts/999999/moderation/timeout", {"member_id": target, "seconds": 60})
    assert missing.status_code == 404


async def test_host_times_out_and_event_is_published(client, app, db, show):
    received: list = []
    await app.state.bus.subscribe(
        broadcast_channel(show.id), lambda ch, data: received.append(msgspec.json.decode(data, type=ModerationEvent))
    )
    target = await member_id(db, "fukuoka@example.jp")
    base = f"/api/broadcasts/{show.id}/moderation"
    await login(client, "host@example.jp")
    for seconds in (5, 100000):
        bad = await _post(client, f"{base}/timeout", {"member_id": target, "seconds": seconds})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_duration"
        assert "24時間" in bad.json()["error"]["message"]
    ok = await _post(client, f"{base}/timeout", {"member_id": target, "seconds": 600, "reason": "連投"})
    assert ok.status_code == 200
    assert [(e.member_id, e.code) for e in received] == [(target, "timed_out")]
    audit = (await client.get(f"{base}/audit")).json()
    assert audit[0]["action"] == "timeout" and audit[0]["label"] == "タイムアウト" and audit[0]["reason"] == "連投"
    assert audit[0]["actor"] == "放送 さくら" and audit[0]["target"] == "博多 美咲"
    banned = await member_id(db, "naha@example.jp")
    assert (await _post(client, f"{base}/ban", {"member_id": banned, "scope": "program"})).status_code == 200
    sanctions = (await client.get(f"{base}/sanctions")).json()
    assert sorted((s["member_id"], s["kind"], s["label"]) for s in sanctions) == sorted(
        [(target, "timeout", "タイムアウト"), (banned, "ban", "禁止（この番組）")]
    )


async def test_controls_words_and_reports(client, db, show, app):
    from litestar.testing import AsyncTestClient

    base = f"/api/broadcasts/{show.id}/moderation"
    await login(client, "host@example.jp")
    slow = await _post(client, f"{base}/controls", {"slow_mode_seconds": 30, "pinned_text": "資料は概要欄に"})
    assert slow.json()["slow_mode_seconds"] == 30 and slow.json()["pinned_text"] == "資料は概要欄に"
    assert (await _post(client, f"{base}/controls", {})).json()["error"]["code"] == "no_change"
    assert (await _post(client, f"{base}/controls", {"slow_mode_seconds": -3})).status_code == 400
    assert (await _post(client, f"{base}/controls", {"position": 3})).status_code == 400  # unknown field
    empty = await _post(client, f"{base}/words", {"word": "   ", "action": "hold"})
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "empty_word"
    site = await _post(client, f"{base}/words", {"word": "スパム", "site_wide": True})
    assert site.status_code == 403
    added = await _post(client, f"{base}/words", {"word": "FX投資", "action": "hold"})
    assert added.status_code == 201
    from live.moderation.demo import HELD_WORD

    # Site-wide words first: the demo data's site-wide 儲かる, then this program's word.
    assert [w["word"] for w in (await client.get(f"{base}/words")).json()] == [HELD_WORD, "FX投資"]
    from live.rooms import posting
    from tests.live.rooms_support import member

    author = await member(db, "fukuoka@example.jp")
    bid = show.id
    for i in range(4):
        await posting.post_comment(db, bid, author, f"コメント{i}", None, moderator=True)  # slow mode is on
    await db.refresh(show)
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as viewer:
        await login(viewer, "member@example.jp")
        elsewhere = await viewer.post(
            f"/api/broadcasts/{show.id}/reports", json={"position": 5}, headers={"x-csrftoken": await csrf(viewer)}
        )
        assert elsewhere.status_code == 404 and elsewhere.json()["error"]["code"] == "comment_not_found"
        reported = await viewer.post(
            f"/api/broadcasts/{show.id}/reports",
            json={"position": 4, "reason": "個人情報"},
            headers={"x-csrftoken": await csrf(viewer)},
        )
        assert reported.status_code == 201
        bad = await viewer.post(
            f"/api/broadcasts/{show.id}/reports", json={"position": -1}, headers={"x-csrftoken": await csrf(viewer)}
        )
        assert bad.status_code == 400
    reports = (await client.get(f"{base}/reports")).json()
    assert [(r["position"], r["reporter"]) for r in reports] == [(4, "市民 一郎")]
