"""The archived chat: replay feed for members, CSV/JSON exports and statistics for hosts."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from live.rooms.models import RoomComment, RoomVisit
from tests.factories import add_chat, member_id
from tests.helpers import login

HTML = {"accept": "text/html"}


@pytest.fixture
async def chat(db, past):
    """Comments on broadcast a: three members from two municipalities and a ministry."""
    b = past["a"]
    rows = [
        ("member@example.jp", 5_000, "こんにちは、豊中市です"),
        ("naha@example.jp", 65_000, "接種券の発送はいつ頃ですか？"),
        ("mhlw@example.jp", 125_000, '=HYPERLINK("http://evil.example")'),
        ("member@example.jp", 3_725_000, "ありがとうございました"),
    ]
    add_chat(db, b.id, b.starts_at, [(await member_id(db, email), offset_ms, text) for email, offset_ms, text in rows])
    db.add(RoomVisit(broadcast_id=b.id, member_id=await member_id(db, "kochi@example.jp")))  # watched only
    await db.commit()
    return b


async def test_replay_feed_is_for_members_in_order(client, chat):
    assert (await client.get(f"/archive/{chat.id}/replay.json")).status_code == 401
    await login(client, "member@example.jp")
    feed = (await client.get(f"/archive/{chat.id}/replay.json")).json()
    assert [c["position"] for c in feed["comments"]] == [1, 2, 3, 4]
    second = feed["comments"][1]
    assert second["author"] == "比嘉 翔太" and second["organisation"] == "那覇市 健康部 ワクチン接種推進室"
    assert second["offset_ms"] == 65_000 and second["text"] == "接種券の発送はいつ頃ですか？"


async def test_replay_of_a_broadcast_that_did_not_happen_is_404(client, past):
    await login(client, "member@example.jp")
    assert (await client.get(f"/archive/{past['future'].id}/replay.json")).status_code == 404


async def test_csv_export_for_host_opens_in_excel(client, chat):
    await login(client, "host@example.jp")
    response = await client.get(f"/archive/{chat.id}/chat.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["番号", "投稿者", "所属", "投稿日時（日本時間）", "放送開始からの経過", "コメント"]
    assert rows[2][1:] == [
        "比嘉 翔太",
        "那覇市 健康部 ワクチン接種推進室",
        "2026-10-05 12:01:05",
        "0:01:05",
        "接種券の発送はいつ頃ですか？",
    ]
    assert rows[3][5].startswith("'=")  # a formula is neutralised
    assert rows[4][4] == "1:02:05"


async def test_json_export_and_stats(client, chat):
    await login(client, "host@example.jp")
    data = (await client.get(f"/archive/{chat.id}/chat.json")).json()
    assert data["broadcast"]["title"] == "動画のつくりかた 第1回" and len(data["comments"]) == 4
    page = await client.get(f"/archive/{chat.id}/stats", headers=HTML)
    text = page.text
    assert page.status_code == 200
    assert 'id="stat-comments">4<' in text and 'id="stat-commenters">3<' in text
    # Reach: 3 commenters + 1 viewer; municipalities 豊中市, 那覇市, 四万十町 (the ministry is not one).
    assert 'id="stat-members">4<' in text and 'id="stat-municipalities">3<' in text


async def test_exports_refused_to_non_hosts(client, chat):
    await login(client, "member@example.jp")
    for path in ("chat.csv", "chat.json", "stats"):
        response = await client.get(f"/archive/{chat.id}/{path}", headers=HTML)
        assert response.status_code == 403, path
        assert "パーソナリティと運営だけ" in response.text
    api = await client.get(f"/archive/{chat.id}/chat.json", headers={"accept": "application/json"})
    assert api.json()["error"]["code"] == "not_host"


async def test_hidden_comments_never_reach_the_archive(client, chat, db):
    from sqlalchemy import update

    await db.execute(
        update(RoomComment)
        .where(RoomComment.broadcast_id == chat.id, RoomComment.position == 2)
        .values(hidden_at=dt.datetime.now(dt.UTC))
    )
    await db.commit()
    await login(client, "host@example.jp")
    feed = (await client.get(f"/archive/{chat.id}/replay.json")).json()
    assert [c["position"] for c in feed["comments"]] == [1, 3, 4]
    exported = (await client.get(f"/archive/{chat.id}/chat.csv")).content.decode("utf-8-sig")
    assert "接種券の発送" not in exported
    stats = (await client.get(f"/archive/{chat.id}/stats", headers=HTML)).text
    assert 'id="stat-comments">3<' in stats
