"""課: founding by proposal and support, duplicates and bad names, join/leave, 課長 and operator changes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core import site_settings
from core.sections import ProposalSupport, Section, SectionMembership, SectionProposal, SectionStatus
from live.models import Program
from tests.web.sections_support import SUPPORTERS, bearer, mails, section_id

pytestmark = [pytest.mark.usefixtures("demo"), pytest.mark.sqlite_only]

PURPOSE = "公用車の予約・点検・事故対応の運用を自治体同士で共有します。"


async def _propose(client, headers, name="公用車管理課", kind="work", purpose=PURPOSE):
    return await client.post(
        "/api/sections/proposals", json={"name": name, "type": kind, "purpose": purpose}, headers=headers
    )


async def test_five_supporters_found_the_section_with_its_founder_as_chief(client, db, settings):
    founder = await bearer(db, "member@example.jp")
    created = await _propose(client, founder)
    assert created.status_code == 201, created.text
    proposal = created.json()
    assert proposal["status"] == "open" and proposal["needed"] == 5 and proposal["supporters"] == []
    own = await client.post(f"/api/sections/proposals/{proposal['id']}/support", headers=founder)
    assert own.status_code == 400 and "ご自身の提案" in own.json()["error"]["fields"]["support"]

    for i, address in enumerate(SUPPORTERS, start=1):
        headers = await bearer(db, address)
        done = await client.post(f"/api/sections/proposals/{proposal['id']}/support", headers=headers)
        assert done.status_code == 201, done.text
        body = done.json()
        assert len(body["proposal"]["supporters"]) == i
        if i < 5:
            assert body["founded"] is None and body["proposal"]["status"] == "open"
            twice = await client.post(f"/api/sections/proposals/{proposal['id']}/support", headers=headers)
            assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_supported"
    founded = body["founded"]
    assert body["proposal"]["status"] == "founded"
    assert founded["name"] == "公用車管理課" and founded["type"] == "work"
    assert founded["chief"]["name"] == "市民 一郎" and founded["member_count"] == 6
    late = await client.post(
        f"/api/sections/proposals/{proposal['id']}/support", headers=await bearer(db, "mhlw@example.jp")
    )
    assert late.status_code == 409 and late.json()["error"]["code"] == "proposal_closed"

    listed = {s["name"]: s for s in (await client.get("/api/sections", headers=founder)).json()}
    assert listed["公用車管理課"]["chief"]["name"] == "市民 一郎"
    assert listed["公用車管理課"]["member_count"] == 6
    detail = (await client.get(f"/api/sections/{founded['id']}", headers=founder)).json()
    roles = {m["name"]: m["role"] for m in detail["members"]}
    assert roles["市民 一郎"] == "chief" and list(roles.values()).count("member") == 5
    assert detail["purpose"] == PURPOSE
    assert "email" not in detail["chief"] and all("email" not in m for m in detail["members"])
    # Everyone involved was told, once each.
    founded_mails = [m for m in mails(settings.outbox_dir) if "設立されました" in m[1]]
    assert sorted(m[0] for m in founded_mails) == sorted(["member@example.jp", *SUPPORTERS])
    chief_mail = next(m for m in founded_mails if m[0] == "member@example.jp")
    assert "課長" in chief_mail[2] and f"/sections/{founded['id']}" in chief_mail[2]


async def test_threshold_is_an_operator_setting(client, db):
    await site_settings.save(db, site_settings.CommunitySettings(founding_supporters=2))
    founder = await bearer(db, "member@example.jp")
    proposal = (await _propose(client, founder, name="窓口改善課", kind="skill")).json()
    assert proposal["needed"] == 2
    first = await client.post(
        f"/api/sections/proposals/{proposal['id']}/support", headers=await bearer(db, "host@example.jp")
    )
    assert first.json()["founded"] is None
    second = await client.post(
        f"/api/sections/proposals/{proposal['id']}/support", headers=await bearer(db, "naha@example.jp")
    )
    assert second.json()["founded"]["member_count"] == 3


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("法規課", "同じ名前の課か設立提案が既にあります。"),  # an existing 課
        ("ほうき課", None),  # different name: accepted
        (
            "庁内ｄｘ推進課",
            "同じ名前の課か設立提案が既にあります。",
        ),  # the open demo proposal 庁内DX推進課, width/case folded
        ("<b>太字課</b>", "課の名前に記号"),
        ("長" * 31, "課の名前は30文字以内で入力してください。"),
        ("", "課の名前を入力してください。"),
    ],
)
async def test_duplicate_or_bad_names_are_refused_and_nothing_is_written(client, db, name, problem):
    before = (await db.execute(select(func.count()).select_from(SectionProposal))).scalar_one()
    response = await _propose(client, await bearer(db, "member@example.jp"), name=name)
    after = (await db.execute(select(func.count()).select_from(SectionProposal))).scalar_one()
    if problem is None:
        assert response.status_code == 201 and after == before + 1
        return
    assert response.status_code == 400
    assert problem in response.json()["error"]["fields"]["name"]
    assert after == before


async def test_every_bad_field_is_reported_at_once(client, db):
    response = await _propose(client, await bearer(db, "member@example.jp"), name="", kind="party", purpose="")
    fields = response.json()["error"]["fields"]
    assert response.status_code == 400 and set(fields) == {"name", "type", "purpose"}
    assert fields["type"].startswith("課の種類")


async def test_a_second_open_proposal_with_the_same_name_is_refused(client, db):
    assert (await _propose(client, await bearer(db, "member@example.jp"))).status_code == 201
    again = await _propose(client, await bearer(db, "host@example.jp"), name="公用車 管理課")
    assert again.status_code == 400 and "既にあります" in again.json()["error"]["fields"]["name"]


async def test_join_leave_and_the_chief_appoints_deputies(client, db):
    video = await section_id(db, "動画課")
    member = await bearer(db, "member@example.jp")
    joined = await client.post(f"/api/sections/{video}/join", headers=member)
    assert joined.status_code == 201 and joined.json()["member_count"] == 4
    again = await client.post(f"/api/sections/{video}/join", headers=member)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_member"
    chief = await bearer(db, "host@example.jp")  # 放送 さくら is 動画課's 課長
    assert (await client.post(f"/api/sections/{video}/leave", headers=chief)).json()["error"][
        "code"
    ] == "chief_cannot_leave"
    member_id = (await client.get("/api/me", headers=member)).json()["id"]
    stranger = await client.put(
        f"/api/sections/{video}/deputies/{member_id}", headers=await bearer(db, "naha@example.jp")
    )
    assert stranger.status_code == 403
    appointed = await client.put(f"/api/sections/{video}/deputies/{member_id}", headers=chief)
    assert appointed.status_code == 200
    detail = (await client.get(f"/api/sections/{video}", headers=member)).json()
    assert [d["name"] for d in detail["deputies"]] == ["市民 一郎"]
    left = await client.post(f"/api/sections/{video}/leave", headers=member)
    assert left.status_code == 201 and left.json()["member_count"] == 3
    assert await db.get(SectionMembership, (video, member_id)) is None


async def test_operators_rename_merge_and_archive(client, db):
    operator = await bearer(db, "operator@example.jp")
    law, video, runners = [await section_id(db, n) for n in ("法規課", "動画課", "公務員ランナー課")]
    taken = await client.post(f"/api/sections/{law}/rename", json={"name": "ＤＯＵＧＡ課"}, headers=operator)
    assert taken.status_code == 201  # no 課 is called that
    dup = await client.post(f"/api/sections/{law}/rename", json={"name": "みんなの 財政課"}, headers=operator)
    assert dup.status_code == 400 and dup.json()["error"]["fields"]["name"] == "同じ名前の課か設立提案が既にあります。"
    proposed = await client.post(f"/api/sections/{law}/rename", json={"name": "庁内DX推進課"}, headers=operator)
    assert proposed.status_code == 400  # an open proposal has that name
    member = await bearer(db, "member@example.jp")
    assert (await client.post(f"/api/sections/{law}/archive", headers=member)).status_code == 403

    programs_before = (await db.execute(select(func.count()).where(Program.section_id == video))).scalar_one()
    assert programs_before > 0
    merged = await client.post(f"/api/sections/{video}/merge", json={"into": law}, headers=operator)
    assert merged.status_code == 201, merged.text
    db.expire_all()
    assert (await db.execute(select(func.count()).where(Program.section_id == law))).scalar_one() == programs_before
    source = await db.get(Section, video)
    assert source is not None and source.status is SectionStatus.MERGED and source.merged_into_id == law
    # 動画課 had 3 members, 法規課 3 (member@ in both): 5 distinct people now.
    assert merged.json()["member_count"] == 5

    archived = await client.post(f"/api/sections/{runners}/archive", headers=operator)
    assert archived.json()["status"] == "archived"
    names = {s["name"] for s in (await client.get("/api/sections", headers=member)).json()}
    assert "公務員ランナー課" not in names and "動画課" not in names and "ＤＯＵＧＡ課" in names
    closed = await client.post(f"/api/sections/{runners}/join", headers=member)
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "section_inactive"


@pytest.mark.both_databases
async def test_supports_are_stored_once_per_member(client, db):
    proposal = (await _propose(client, await bearer(db, "member@example.jp"))).json()
    headers = await bearer(db, "host@example.jp")
    await client.post(f"/api/sections/proposals/{proposal['id']}/support", headers=headers)
    await client.post(f"/api/sections/proposals/{proposal['id']}/support", headers=headers)
    count = (await db.execute(select(func.count()).where(ProposalSupport.proposal_id == proposal["id"]))).scalar_one()
    assert count == 1
