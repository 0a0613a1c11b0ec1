"""課 pages: the list by type, a 課's page with its content, forms with Japanese field errors, 課長 and operator menus."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.sections import SectionProposal
from tests.helpers import login, post_form
from tests.web.sections_support import section_id

pytestmark = [pytest.mark.usefixtures("demo"), pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


async def test_list_is_grouped_by_type_and_searchable(client):
    await login(client, "member@example.jp")
    page = await client.get("/sections")
    assert page.status_code == 200
    work = page.text.split('data-kind="work"')[1].split("</section>")[0]
    assert "みんなの財政課" in work and "動画課" not in work and '課長: <span class="section-chief">博多 美咲' in work
    assert "庁内DX推進課" in page.text and "賛同 2/5" in page.text
    found = await client.get("/sections", params={"q": "みんなの　財政"})  # a full-width space folds away
    assert "1件の課" in found.text and "みんなの財政課" in found.text
    assert "0件の課" in (await client.get("/sections", params={"q": "存在しない課"})).text
    found = await client.get("/sections", params={"q": "ワクチン"})
    assert "1件の課" in found.text and "ワクチン接種情報交換課" in found.text


async def test_section_page_shows_purpose_chief_members_and_content(client, db):
    await login(client, "member@example.jp")
    vaccine = await section_id(db, "ワクチン接種情報交換課")
    page = await client.get(f"/sections/{vaccine}")
    assert page.status_code == 200
    assert "比嘉 翔太" in page.text.split('id="section-chief"')[1].split("</dd>")[0]
    assert "霞 直子" in page.text.split('id="section-deputies"')[1].split("</dd>")[0]
    assert "ワクチン接種 情報交換勉強会" in page.text  # its program
    assert "@example.jp" not in page.text
    assert "この課に参加する" in page.text and "ページを編集" not in page.text


async def test_proposal_form_keeps_values_and_shows_field_errors(client, db):
    await login(client, "member@example.jp")
    before = (await db.execute(select(func.count()).select_from(SectionProposal))).scalar_one()
    bad = await post_form(client, "/sections/proposals", {"name": "法規課", "type": "", "purpose": "例規の勉強"})
    assert bad.status_code == 400
    assert "同じ名前の課か設立提案が既にあります。" in bad.text and "課の種類" in bad.text and "例規の勉強" in bad.text
    assert (await db.execute(select(func.count()).select_from(SectionProposal))).scalar_one() == before
    ok = await post_form(
        client,
        "/sections/proposals",
        {"name": "公用車管理課", "type": "work", "purpose": "公用車の運用"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"].endswith("?msg=proposed")
    again = await client.get(ok.headers["location"])
    assert "ご自身の提案には賛同できません" in again.text


async def test_chief_edits_the_page_and_others_cannot(client, db, app):
    from litestar.testing import AsyncTestClient

    finance = await section_id(db, "みんなの財政課")
    await login(client, "member@example.jp")  # a deputy, not the 課長
    assert (await client.get(f"/sections/{finance}/edit")).status_code == 403
    refused = await post_form(client, f"/sections/{finance}/edit", {"description": "乗っ取り", "type": "work"})
    assert refused.status_code == 403
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as chief:
        await login(chief, "fukuoka@example.jp")
        form = await chief.get(f"/sections/{finance}/edit")
        assert form.status_code == 200
        bad = await post_form(chief, f"/sections/{finance}/edit", {"description": "<script>x</script>", "type": "work"})
        assert bad.status_code == 400 and "HTMLタグは使えません" in bad.text
        ok = await post_form(
            chief, f"/sections/{finance}/edit", {"description": "決算統計を読む会も始めました", "type": "work"}
        )
        assert ok.status_code == 200 and "課のページを更新しました" in ok.text and "決算統計を読む会" in ok.text


async def test_join_and_leave_by_form_and_refusals_on_the_page(client, db):
    await login(client, "member@example.jp")
    video = await section_id(db, "動画課")
    joined = await post_form(client, f"/sections/{video}/join", {})
    assert joined.status_code == 200 and "課に参加しました" in joined.text and "課を抜ける" in joined.text
    twice = await post_form(client, f"/sections/{video}/join", {})
    assert twice.status_code == 409 and "既にこの課のメンバーです" in twice.text
    left = await post_form(client, f"/sections/{video}/leave", {})
    assert "課から抜けました" in left.text


async def test_operator_merge_form_needs_a_target(client, db):
    await login(client, "operator@example.jp")
    runners = await section_id(db, "公務員ランナー課")
    page = await client.get(f"/sections/{runners}")
    assert "運営メニュー" in page.text
    missing = await post_form(client, f"/sections/{runners}/merge", {"target_id": ""})
    assert missing.status_code == 400 and "統合先の課を選んでください" in missing.text
    finance = await section_id(db, "みんなの財政課")
    merged = await post_form(client, f"/sections/{runners}/merge", {"target_id": str(finance)})
    assert merged.status_code == 200 and "課を統合しました" in merged.text and "みんなの財政課" in merged.text


async def test_operator_settings_form_validates_and_saves(client, db):
    from core import site_settings

    await login(client, "operator@example.jp")
    page = await client.get("/admin/settings")
    assert page.status_code == 200 and 'value="5"' in page.text
    bad = await post_form(client, "/admin/settings", {"founding_supporters": "0"})
    assert bad.status_code == 400 and "1〜50の整数" in bad.text
    ok = await post_form(client, "/admin/settings", {"founding_supporters": "3", "reapproval_on_change": "on"})
    assert ok.status_code == 200 and "設定を保存しました" in ok.text
    saved = await site_settings.load(db)
    assert saved == site_settings.CommunitySettings(founding_supporters=3, reapproval_on_change=True)
    await login(client, "member@example.jp")
    assert (await client.get("/admin/settings")).status_code == 403


async def test_api_contract_is_in_the_openapi_document(client):
    schema = (await client.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    for path, method in [
        ("/api/sections", "get"),
        ("/api/sections/{section_id}", "get"),
        ("/api/sections/proposals", "post"),
        ("/api/sections/proposals/{proposal_id}/support", "post"),
        ("/api/sections/{section_id}/join", "post"),
        ("/api/sections/{section_id}/leave", "post"),
        ("/api/directory", "get"),
        ("/api/me", "get"),
        ("/api/me", "patch"),
        ("/api/members/{member_id}/changes", "get"),
    ]:
        assert method in paths[path], (path, method)
    section = schema["components"]["schemas"]["SectionOut"]["properties"]
    assert {"id", "name", "type", "chief", "member_count"} <= set(section)
    proposal_in = schema["components"]["schemas"]["ProposalInput"]["properties"]  # core/sections/inputs.py
    assert set(proposal_in) == {"name", "type", "purpose"}
    directory_member = schema["components"]["schemas"]["DirectoryMember"]["properties"]
    assert "email" not in directory_member
