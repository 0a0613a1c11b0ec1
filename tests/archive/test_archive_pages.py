"""Archive list, filters and search; linking recordings; members-only media with ranges."""

from __future__ import annotations

import pytest

from tests.helpers import login, post_form

HTML = {"accept": "text/html"}


pytestmark = pytest.mark.sqlite_only


def listed(page) -> str:
    """Only the result list (the filter dropdowns also name programs)."""
    return page.text.split('class="archive-list"', 1)[1]


async def test_archive_lists_past_broadcasts_newest_first(client, past):
    await login(client, "member@example.jp")
    page = await client.get("/archive", headers=HTML)
    text = listed(page)
    assert page.status_code == 200 and "件の放送" in page.text  # demo data adds its own past broadcasts
    assert text.index("動画のつくりかた 第2回") < text.index("財政のきほん") < text.index("動画のつくりかた 第1回")
    assert "未来の放送" not in text


@pytest.mark.both_databases
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "財政"}, ["財政のきほん 予算編成"]),
        ({"q": "放送 さくら"}, ["動画のつくりかた 第2回", "動画のつくりかた 第1回"]),  # personality name
        ({"q": "スマホ"}, ["動画のつくりかた 第1回"]),  # description
        ({"q": "ＳＭＡＨＯ"}, []),
        ({"month": "2026-10"}, ["動画のつくりかた 第1回"]),
        ({"q": "%"}, []),  # LIKE wildcards are literal
    ],
)
async def test_filters_and_search(client, past, query, expected):
    await login(client, "member@example.jp")
    page = await client.get("/archive", params=query, headers=HTML)
    titles = [
        t for t in ("動画のつくりかた 第2回", "財政のきほん 予算編成", "動画のつくりかた 第1回") if t in listed(page)
    ]
    assert titles == expected


@pytest.mark.both_databases
async def test_filter_by_section_and_personality(client, past, db):
    await login(client, "member@example.jp")
    from live.models import Program

    section_id = (await db.get(Program, past["b"].program_id)).section_id
    page = await client.get("/archive", params={"section": str(section_id)}, headers=HTML)
    assert "財政のきほん" in listed(page) and "動画のつくりかた" not in listed(page)
    page = await client.get("/archive", params={"personality": str(past["a"].personality_id)}, headers=HTML)
    assert "動画のつくりかた 第1回" in listed(page) and "財政のきほん" not in listed(page)


@pytest.mark.parametrize("query", [{"month": "2026-13"}, {"month": "last month"}, {"program": "abc"}, {"page": "-1"}])
async def test_bad_filters_get_a_japanese_message(client, past, query):
    await login(client, "member@example.jp")
    page = await client.get("/archive", params=query, headers=HTML)
    assert page.status_code == 400
    assert "正しくありません" in page.text or "形式で指定" in page.text


async def test_host_links_recordings_with_validation(client, past):
    b = past["a"]
    await login(client, "host@example.jp")
    bad = await post_form(client, f"/archive/{b.id}/recordings", {"url": "javascript:alert(1)"}, headers=HTML)
    assert bad.status_code == 400 and "http:// または https://" in bad.text
    assert 'value="javascript:alert(1)"' in bad.text  # kept (escaped) for correction
    far = await post_form(
        client,
        f"/archive/{b.id}/recordings",
        {"url": "https://youtu.be/dQw4w9WgXcQ", "duration": "60", "offset": "-90"},
    )
    assert far.status_code == 400 and "録画の長さを超えています" in far.text
    ok = await post_form(
        client,
        f"/archive/{b.id}/recordings",
        {"url": "https://youtu.be/dQw4w9WgXcQ", "title": "本編", "duration": "３６００", "offset": "-90"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    page = await client.get(ok.headers["location"], headers=HTML)
    assert 'data-video-id="dQw4w9WgXcQ"' in page.text and "録画を登録しました" in page.text


async def test_only_host_or_operator_may_link_and_only_after_the_broadcast(client, past, app):
    from litestar.testing import AsyncTestClient

    await login(client, "member@example.jp")
    refused = await post_form(
        client, f"/archive/{past['a'].id}/recordings", {"url": "https://youtu.be/dQw4w9WgXcQ"}, headers=HTML
    )
    assert refused.status_code == 403 and "パーソナリティと運営だけ" in refused.text
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as operator:
        await login(operator, "operator@example.jp")
        future = await post_form(
            operator, f"/archive/{past['future'].id}/recordings", {"url": "https://youtu.be/dQw4w9WgXcQ"}, headers=HTML
        )
        assert future.status_code == 409 and "終了した放送のみ" in future.text
        missing = await post_form(
            operator, "/archive/999999/recordings", {"url": "https://youtu.be/dQw4w9WgXcQ"}, headers=HTML
        )
        assert missing.status_code == 404
        ok = await post_form(
            operator,
            f"/archive/{past['a'].id}/recordings",
            {"url": "https://vimeo.com/123456789"},
            follow_redirects=False,
        )
        assert ok.status_code == 303


async def test_archive_page_of_a_broadcast_that_did_not_happen_is_404(client, past):
    await login(client, "member@example.jp")
    page = await client.get(f"/archive/{past['future'].id}", headers=HTML)
    assert page.status_code == 404 and "見つかりません" in page.text


async def test_media_files_members_only_with_ranges(client, past, settings):
    settings.media_dir.mkdir(parents=True)
    (settings.media_dir / "rec.webm").write_bytes(bytes(range(256)) * 4)
    anonymous = await client.get("/archive/media/rec.webm")
    assert anonymous.status_code == 401
    await login(client, "member@example.jp")
    whole = await client.get("/archive/media/rec.webm")
    assert whole.status_code == 200 and len(whole.content) == 1024 and whole.headers["accept-ranges"] == "bytes"
    part = await client.get("/archive/media/rec.webm", headers={"range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == bytes(range(10, 20))
    assert part.headers["content-range"] == "bytes 10-19/1024"
    tail = await client.get("/archive/media/rec.webm", headers={"range": "bytes=-4"})
    assert tail.content == bytes(range(252, 256))
    bad = await client.get("/archive/media/rec.webm", headers={"range": "bytes=5000-"})
    assert bad.status_code == 416
    for name in ("..%2Fsecret_key", ".hidden", "nope.webm"):
        assert (await client.get(f"/archive/media/{name}")).status_code == 404


@pytest.mark.both_databases
async def test_search_finds_guests_members_and_outsiders(client, past, db):
    from live.models import ProgramGuest
    from live.search_feed import sync_program
    from tests.factories import member_id

    db.add(ProgramGuest(program_id=past["b"].program_id, name="外部 講師"))
    db.add(ProgramGuest(program_id=past["c"].program_id, member_id=await member_id(db, "mhlw@example.jp")))
    await db.commit()
    for program_id in (past["b"].program_id, past["c"].program_id):  # what saving the program does
        await sync_program(db, program_id)
    await db.commit()
    await login(client, "member@example.jp")
    outsider = await client.get("/archive", params={"q": "講師"}, headers=HTML)
    assert "財政のきほん" in listed(outsider) and "動画のつくりかた" not in listed(outsider)
    member = await client.get("/archive", params={"q": "霞"}, headers=HTML)
    assert "動画のつくりかた 第2回" in listed(member) and "財政のきほん" not in listed(member)


async def test_a_weekday_rotation_is_one_program_choice_that_finds_all_its_days(client, db, past):
    import datetime as dt

    from sqlalchemy import select

    from live.models import Broadcast, BroadcastState, Program
    from live.schedule.demo import ROTATION

    days = (await db.execute(select(Program).where(Program.rotation == ROTATION).order_by(Program.id))).scalars().all()
    assert len(days) == 5
    for n, program in enumerate(days[:2]):  # an ended broadcast on Monday's and on Tuesday's program
        start = dt.datetime(2026, 9, 7 + n, 3, 10, tzinfo=dt.UTC)
        db.add(
            Broadcast(
                program_id=program.id,
                title=f"ローテーション回{n}",
                personality_id=program.personality_id,
                starts_at=start,
                ends_at=start + dt.timedelta(minutes=30),
                opens_at=start,
                state=BroadcastState.ENDED,
                live_at=start,
                ended_at=start + dt.timedelta(minutes=30),
            )
        )
    await db.commit()
    await login(client, "member@example.jp")
    page = await client.get("/archive", headers=HTML)
    dropdown = page.text.split('id="f-program"', 1)[1].split("</select>", 1)[0]
    assert dropdown.count(f">{ROTATION}（日替わり）</option>") == 1 and dropdown.count(f">{ROTATION}</option>") == 0
    value = dropdown.split(f">{ROTATION}（日替わり）</option>")[0].rsplit('value="', 1)[1].split('"')[0]
    text = listed(await client.get("/archive", params={"program": value}, headers=HTML))
    assert "ローテーション回0" in text and "ローテーション回1" in text and "財政のきほん" not in text
