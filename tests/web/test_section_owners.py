"""課 as owners everywhere: forms offer one's own 課, filters share one list, a rotation is one filter entry."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.sections import Section, SectionStatus
from faq.models import StudySeries
from live.schedule.demo import ROTATION
from tests.helpers import login, post_form
from tests.web.sections_support import section_id

pytestmark = [pytest.mark.usefixtures("demo"), pytest.mark.sqlite_only]


def _options(html: str, select_id: str) -> list[str]:
    block = html.split(f'id="{select_id}"')[1].split("</select>")[0]
    return [part.split(">", 1)[1].split("<", 1)[0] for part in block.split("<option")[1:]]


async def test_series_form_offers_only_the_hosts_sections(client, db):
    await login(client, "host@example.jp")  # 放送 さくら: 課長 of 動画課, member of ワクチン接種情報交換課
    page = await client.get("/faq/series/new")
    assert _options(page.text, "f-section") == ["（なし）", "ワクチン接種情報交換課", "動画課"]
    law = await section_id(db, "法規課")
    refused = await post_form(client, "/faq/series", {"title": "例規審査勉強会", "section_id": str(law)})
    assert refused.status_code == 400 and "所属している課から選んでください" in refused.text
    assert (await db.execute(select(func.count()).where(StudySeries.title == "例規審査勉強会"))).scalar_one() == 0
    video = await section_id(db, "動画課")
    made = await post_form(
        client, "/faq/series", {"title": "動画編集勉強会", "section_id": str(video)}, follow_redirects=False
    )
    assert made.status_code == 303


async def test_operators_are_offered_every_active_section(client, db):
    runners = await db.get(Section, await section_id(db, "公務員ランナー課"))
    runners.status = SectionStatus.ARCHIVED
    await db.commit()
    await login(client, "operator@example.jp")
    offered = _options((await client.get("/faq/series/new")).text, "f-section")
    assert len(offered) == 1 + 4 and "公務員ランナー課" not in offered
    # The schedule and archive filters offer the same list.
    week = _options((await client.get("/schedule")).text, "f-section")
    archive = _options((await client.get("/archive")).text, "f-section")
    assert [o.split("（")[0] for o in week[1:]] == archive[1:] == offered[1:]


async def test_a_weekday_rotation_is_one_entry_in_the_program_filter(client):
    await login(client, "member@example.jp")
    page = await client.get("/archive")
    programs = _options(page.text, "f-program")
    assert programs.count(f"{ROTATION}（日替わり）") == 1 and ROTATION not in programs
    assert len(programs) == len(set(programs))
    filtered = await client.get("/archive", params={"program": f"rotation:{ROTATION}"})
    assert filtered.status_code == 200 and "件の放送" in filtered.text
    assert f'value="rotation:{ROTATION}" selected' in filtered.text
