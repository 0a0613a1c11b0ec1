"""Profile self-service, the change log operators read, confirmed e-mail changes, and the directory."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core import site_settings
from core.members.models import Member, MemberChange, Status
from tests.factories import new_member
from tests.helpers import login, post_form
from tests.web.sections_support import bearer, mails, section_id

pytestmark = [pytest.mark.usefixtures("demo"), pytest.mark.sqlite_only]


async def _member(db, address: str) -> Member:
    db.expire_all()
    return (await db.execute(select(Member).where(Member.email == address))).scalar_one()


async def test_transfer_is_saved_and_logged_for_operators_only(client, db):
    me = await bearer(db, "member@example.jp")
    patched = await client.patch(
        "/api/me",
        json={"organisation": "吹田市", "department": "総務部 契約検査室", "reading": "シミン イチロウ"},
        headers=me,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["organisation"] == "吹田市" and body["reading"] == "しみん いちろう" and body["status"] == "approved"
    member_id = body["id"]
    assert (await _member(db, "member@example.jp")).organisation == "吹田市"
    log = await client.get(f"/api/members/{member_id}/changes", headers=await bearer(db, "operator@example.jp"))
    assert log.status_code == 200
    changes = {c["field"]: (c["old"], c["new"]) for c in log.json()}
    assert changes == {
        "organisation": ("豊中市", "吹田市"),
        "department": ("市民協働部 くらし支援課", "総務部 契約検査室"),
    }
    assert (await client.get(f"/api/members/{member_id}/changes", headers=me)).status_code == 403


async def test_editing_someone_elses_profile_is_forbidden(client, db):
    other = (await _member(db, "fukuoka@example.jp")).id
    refused = await client.patch(
        f"/api/members/{other}", json={"organisation": "乗っ取り市"}, headers=await bearer(db, "member@example.jp")
    )
    assert refused.status_code == 403
    assert (await _member(db, "fukuoka@example.jp")).organisation == "福岡市"


async def test_bad_fields_are_refused_and_nothing_is_half_written(client, db):
    me = await bearer(db, "member@example.jp")
    bad = await client.patch(
        "/api/me",
        json={"organisation": "吹田市", "name": "<script>x</script>", "reading": "abc", "prefecture": "架空県"},
        headers=me,
    )
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"name", "reading", "prefecture"}
    taken = await client.patch("/api/me", json={"organisation": "吹田市", "email": "host@example.jp"}, headers=me)
    assert (
        taken.status_code == 400
        and taken.json()["error"]["fields"]["email"] == "このメールアドレスは既に使われています。"
    )
    member = await _member(db, "member@example.jp")
    assert member.organisation == "豊中市" and member.name == "市民 一郎"
    assert (await db.execute(select(func.count()).select_from(MemberChange))).scalar_one() == 0


async def test_reapproval_after_a_change_is_an_operator_setting(client, db):
    me = await bearer(db, "member@example.jp")
    await client.patch("/api/me", json={"department": "新しい部署"}, headers=me)
    assert (await _member(db, "member@example.jp")).status is Status.APPROVED  # off by default
    await site_settings.save(db, site_settings.CommunitySettings(reapproval_on_change=True))
    await client.patch("/api/me", json={"department": "さらに別の部署"}, headers=me)
    assert (await _member(db, "member@example.jp")).status is Status.APPROVED  # department alone: no review
    moved = await client.patch("/api/me", json={"organisation": "吹田市"}, headers=me)
    assert moved.status_code == 200 and moved.json()["status"] == "pending"
    assert (await client.get("/api/me", headers=me)).json()["error"]["code"] == "account_inactive"


async def test_email_change_is_confirmed_by_a_link_to_the_new_address(client, db, settings, app):
    from litestar.testing import AsyncTestClient

    me = await bearer(db, "member@example.jp")
    started = await client.patch("/api/me", json={"email": "Ichiro.Shimin@City.Suita.example.jp"}, headers=me)
    assert started.status_code == 200 and started.json()["email_pending"] == "ichiro.shimin@city.suita.example.jp"
    assert (await _member(db, "member@example.jp")).email == "member@example.jp"  # not yet
    sent = {to: body for to, _, body in mails(settings.outbox_dir)}
    assert set(sent) == {"ichiro.shimin@city.suita.example.jp", "member@example.jp"}
    assert "token=" not in sent["member@example.jp"]  # the old address is told, not given the link
    token = sent["ichiro.shimin@city.suita.example.jp"].split("token=")[1].split()[0]
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as someone_else:
        await login(someone_else, "fukuoka@example.jp")
        stolen = await post_form(someone_else, "/profile/email/confirm", {"token": token})
        assert stolen.status_code == 400 and "無効か期限切れ" in stolen.text
    await login(client, "member@example.jp")
    forged = await post_form(client, "/profile/email/confirm", {"token": "forged"})
    assert forged.status_code == 400 and "無効か期限切れ" in forged.text
    done = await post_form(client, "/profile/email/confirm", {"token": token})
    assert done.status_code == 200 and "メールアドレスを変更しました" in done.text
    db.expire_all()
    member = (await db.execute(select(Member).where(Member.name == "市民 一郎"))).scalar_one()
    assert member.email == "ichiro.shimin@city.suita.example.jp"
    reused = await post_form(client, "/profile/email/confirm", {"token": token})
    assert reused.status_code == 400
    told = [m for m in mails(settings.outbox_dir) if m[0] == "member@example.jp"]
    assert any("変更が完了しました" in body for _, _, body in told)


async def test_profile_edit_form_shows_field_errors_in_japanese(client):
    await login(client, "member@example.jp")
    page = await client.get("/profile/edit")
    assert page.status_code == 200 and 'value="豊中市"' in page.text
    form = {
        "name": "市民 一郎",
        "org_kind": "municipality",
        "prefecture": "大阪府",
        "organisation": "x" * 61,
        "department": "総務部",
        "reading": "",
        "interests": "",
    }
    bad = await post_form(client, "/profile/edit", form)
    assert bad.status_code == 400 and "所属団体名は60文字以内で入力してください。" in bad.text
    ok = await post_form(client, "/profile/edit", {**form, "organisation": "吹田市"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/profile/edit?msg=saved"


@pytest.mark.both_databases
async def test_directory_finds_colleagues_and_never_shows_inactive_accounts_or_emails(client, db):
    member = await bearer(db, "member@example.jp")
    finance = await section_id(db, "みんなの財政課")
    found = await client.get("/api/directory", params={"organisation": "福岡", "section": finance}, headers=member)
    assert found.status_code == 200
    body = found.json()
    assert [m["name"] for m in body["items"]] == ["博多 美咲"] and body["total"] == 1
    assert {s["name"] for s in body["items"][0]["sections"]} >= {"みんなの財政課"}
    assert "@" not in found.text
    by_reading = await client.get("/api/directory", params={"q": "ヒガ"}, headers=member)
    assert [m["name"] for m in by_reading.json()["items"]] == ["比嘉 翔太"]
    by_prefecture = await client.get("/api/directory", params={"prefecture": "国"}, headers=member)
    assert [m["name"] for m in by_prefecture.json()["items"]] == ["霞 直子"]
    for status in (Status.PENDING, Status.REJECTED, Status.SUSPENDED):
        pending = await _member(db, "pending@example.jp")
        pending.status = status
        await db.commit()
        hidden = await client.get("/api/directory", params={"q": "申請"}, headers=member)
        assert hidden.json()["total"] == 0
    bad = await client.get("/api/directory", params={"prefecture": "架空県"}, headers=member)
    assert bad.status_code == 400 and bad.json()["error"]["fields"]["prefecture"]


async def test_directory_pages_through_many_members(client, db):
    for i in range(25):
        db.add(
            new_member(
                f"hamamatsu{i}@example.jp",
                f"浜松 職員{i:02d}",
                organisation="浜松市",
                department="公用車管理室",
                prefecture="静岡県",
            )
        )
    await db.commit()
    member = await bearer(db, "member@example.jp")
    first = (await client.get("/api/directory", params={"organisation": "浜松市"}, headers=member)).json()
    second = (await client.get("/api/directory", params={"organisation": "浜松市", "page": 2}, headers=member)).json()
    assert (first["total"], first["pages"], len(first["items"]), len(second["items"])) == (25, 2, 20, 5)
    assert not {m["id"] for m in first["items"]} & {m["id"] for m in second["items"]}


async def test_member_page_shows_sections_and_work_but_never_the_email(client, db):
    await login(client, "member@example.jp")
    host = await _member(db, "host@example.jp")
    page = await client.get(f"/members/{host.id}")
    assert page.status_code == 200
    assert "放送 さくら" in page.text and "動画課" in page.text and "札幌市" in page.text
    assert "host@example.jp" not in page.text and "プロフィールの変更履歴" not in page.text
    pending = await _member(db, "pending@example.jp")
    assert (await client.get(f"/members/{pending.id}")).status_code == 404
    directory = await client.get("/members", params={"q": "さくら"})
    assert "放送 さくら" in directory.text and "@example.jp" not in directory.text.split("<main")[1]
