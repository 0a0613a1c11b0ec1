"""Sign-up, review, login and what pending or suspended accounts can see — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.members.models import Member, Status
from tests.helpers import SIGNUP, csrf, login, post_form, signup

pytestmark = [pytest.mark.usefixtures("demo"), pytest.mark.sqlite_only]


async def test_signup_creates_pending_member_who_sees_nothing(client, db):
    response = await signup(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/signup/sent"
    page = await client.get("/pending")
    assert "承認をお待ちください" in page.text
    member = (await db.execute(select(Member).where(Member.email == SIGNUP["email"]))).scalar_one()
    assert member.status is Status.PENDING
    # Members-only pages send a pending account back to the notice; the API refuses with a typed error.
    profile = await client.get("/profile", follow_redirects=False, headers={"accept": "text/html"})
    assert profile.status_code == 303 and profile.headers["location"] == "/pending"
    api = await client.get("/api/me")
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "account_inactive"
    # Home is their status too, not the sign-up landing page.
    home = await client.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/pending"
    assert "新規登録" not in (await client.get("/")).text.split("</header>")[1]


async def test_operator_approves_then_member_logs_in(client, db, app):
    from litestar.testing import AsyncTestClient

    await signup(client)
    member = (await db.execute(select(Member).where(Member.email == SIGNUP["email"]))).scalar_one()
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as operator:
        await login(operator, "operator@example.jp")
        page = await operator.get("/admin/members", headers={"accept": "text/html"})
        assert SIGNUP["name"] in page.text
        done = await post_form(operator, f"/admin/members/{member.id}/review", {"decision": "approve"})
        assert done.status_code == 200 and "承認しました" in done.text
    fresh = await client.get("/api/me")
    assert fresh.status_code == 200
    assert fresh.json()["status"] == "approved"
    assert fresh.json()["organisation"] == "浜松市"


async def test_reject_needs_reason_and_applicant_sees_it(client, db, app):
    from litestar.testing import AsyncTestClient

    await signup(client)
    member = (await db.execute(select(Member).where(Member.email == SIGNUP["email"]))).scalar_one()
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as operator:
        await login(operator, "operator@example.jp")
        refused = await post_form(operator, f"/admin/members/{member.id}/review", {"decision": "reject"})
        assert refused.status_code == 400 and "却下の理由を入力してください" in refused.text
        ok = await post_form(
            operator,
            f"/admin/members/{member.id}/review",
            {"decision": "reject", "reason": "在職確認ができませんでした"},
        )
        assert "却下しました" in ok.text
        again = await post_form(operator, f"/admin/members/{member.id}/review", {"decision": "approve"})
        assert again.status_code == 400 and "既に処理済み" in again.text
    page = await client.get("/pending")
    assert "在職確認ができませんでした" in page.text
    assert (await client.get("/api/me")).status_code == 403


async def test_non_operator_cannot_review(client, db):
    await signup(client, email="x@example.jp")
    target = (await db.execute(select(Member).where(Member.email == "x@example.jp"))).scalar_one()
    await client.post("/logout", data={"_csrf_token": await csrf(client)})
    client.cookies.clear()
    await login(client, "moderator@example.jp")
    page = await client.get("/admin/members", headers={"accept": "text/html"})
    assert page.status_code == 403 and "権限" in page.text
    action = await post_form(client, f"/admin/members/{target.id}/review", {"decision": "approve"})
    assert action.status_code == 403
    api = await client.post(f"/api/members/{target.id}/approve", headers={"x-csrftoken": await csrf(client)})
    assert api.status_code == 403 and api.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "氏名を入力してください"),
        ("name", "あ" * 51, "氏名は50文字以内"),
        ("name", "<script>alert(1)</script>", "&lt; や &gt; は使えません"),
        ("email", "not-an-address", "メールアドレスの形式が正しくありません"),
        ("email", "a" * 300 + "@example.jp", "メールアドレスの形式が正しくありません"),
        ("prefecture", "ニューヨーク州", "都道府県を一覧から選んでください"),
        ("org_kind", "company", "所属の種別"),
        ("password", "short", "10文字以上"),
        ("password_confirm", "different-password", "確認用パスワードが一致しません"),
        ("department", "\x00\x01", "部署名を入力してください"),
    ],
)
async def test_signup_bad_input_rerenders_with_message_and_values(client, field, value, message):
    response = await signup(client, **{field: value})
    assert response.status_code == 400
    assert message in response.text
    # The other values the user typed are kept (escaped), passwords are not echoed.
    if field != "organisation":
        assert 'value="浜松市"' in response.text
    assert SIGNUP["password"] not in response.text
    if field == "name" and "<" in value:
        assert "<script>alert(1)</script>" not in response.text
        assert "&lt;script&gt;" in response.text


async def test_signup_missing_everything_gives_one_message_per_field(client):
    response = await post_form(client, "/signup", {})
    assert response.status_code == 400
    for message in (
        "氏名を入力",
        "所属団体名を入力",
        "部署名を入力",
        "メールアドレスを入力",
        "パスワードを入力",
        "都道府県を",
    ):
        assert message in response.text


async def test_signup_answers_the_same_for_a_taken_address_and_mails_its_owner(client, settings):
    outbox = settings.outbox_dir
    fresh = await post_form(client, "/signup", {**SIGNUP, "email": "brand.new@example.jp"}, follow_redirects=False)
    client.cookies.clear()
    taken = await post_form(client, "/signup", {**SIGNUP, "email": "MEMBER@example.jp"}, follow_redirects=False)
    assert (fresh.status_code, fresh.headers["location"]) == (taken.status_code, taken.headers["location"])
    assert (fresh.status_code, fresh.headers["location"]) == (303, "/signup/sent")
    assert "chonai_session" not in fresh.headers.get("set-cookie", "")
    page = await client.get("/signup/sent")
    assert "登録申請を受け付けました" in page.text and "既に登録" not in page.text
    import email

    mails = [email.message_from_bytes(p.read_bytes()) for p in outbox.glob("*.eml")]
    to_owner = [m for m in mails if m["To"] == "member@example.jp"]
    assert len(to_owner) == 1
    assert "既に登録されています" in to_owner[0].get_payload(decode=True).decode()
    assert [m["To"] for m in mails if m["To"] == "brand.new@example.jp"] == ["brand.new@example.jp"]


async def test_forms_need_csrf_token(client):
    await client.get("/login")
    response = await client.post("/signup", data=SIGNUP, headers={"accept": "text/html"})
    assert response.status_code == 403
    assert "フォームの有効期限が切れました" in response.text


@pytest.mark.both_databases
async def test_login_errors_and_rate_limit(client, monkeypatch):
    from core.members import throttle

    monkeypatch.setattr(throttle, "PAIR", throttle.Rule(free=5, cap=900, base=60))  # a wait this test can see
    wrong = await post_form(client, "/login", {"email": "member@example.jp", "password": "wrong-password!"})
    assert wrong.status_code == 400 and "正しくありません" in wrong.text
    assert 'value="member@example.jp"' in wrong.text
    for _ in range(4):
        await post_form(client, "/login", {"email": "member@example.jp", "password": "wrong-password!"})
    limited = await post_form(client, "/login", {"email": "member@example.jp", "password": "chonai-demo-2026"})
    assert limited.status_code == 429 and "待ってから" in limited.text
    assert 55 <= int(limited.headers["retry-after"]) <= 60


async def test_login_next_is_same_site_only(client):
    response = await post_form(
        client,
        "/login",
        {"email": "member@example.jp", "password": "chonai-demo-2026", "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")


async def test_logout_ends_session(client):
    await login(client, "member@example.jp")
    assert (await client.get("/api/me")).status_code == 200
    await post_form(client, "/logout", {})
    assert (await client.get("/api/me")).status_code == 401


async def test_password_reset_through_outbox(client, settings):
    await post_form(client, "/password/forgot", {"email": "member@example.jp"})
    await post_form(client, "/password/forgot", {"email": "nobody@example.jp"})  # same answer, no mail
    mails = sorted(settings.outbox_dir.glob("*.eml"))
    assert len(mails) == 1
    import email

    body = email.message_from_bytes(mails[0].read_bytes()).get_payload(decode=True).decode()
    token = body.split("token=")[1].split()[0]
    bad = await post_form(
        client, "/password/reset", {"token": "forged", "password": "n" * 12, "password_confirm": "n" * 12}
    )
    assert bad.status_code == 400 and "無効か期限切れ" in bad.text
    ok = await post_form(
        client,
        "/password/reset",
        {"token": token, "password": "brand-new-pass", "password_confirm": "brand-new-pass"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    reused = await post_form(
        client, "/password/reset", {"token": token, "password": "x" * 12, "password_confirm": "x" * 12}
    )
    assert reused.status_code == 400
    await login(client, "member@example.jp", "brand-new-pass")


async def test_api_token_lifecycle(client, app):
    from litestar.testing import AsyncTestClient

    await login(client, "member@example.jp")
    page = await post_form(client, "/profile/tokens", {"name": "集計スクリプト"})
    assert page.status_code == 200 and "新しいトークンを作成しました" in page.text
    raw = page.text.split('id="new-token">')[1].split("<")[0]
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as script:
        me = await script.get("/api/me", headers={"authorization": f"Bearer {raw}"})
        assert me.status_code == 200 and me.json()["name"] == "市民 一郎"
        # Bearer-only requests need no CSRF token (they cannot be forged by a browser).
        made = await script.post("/api/tokens", json={"name": "second"}, headers={"authorization": f"Bearer {raw}"})
        assert made.status_code == 201 and made.json()["token"].startswith("chn_")
    tokens = (await client.get("/api/tokens")).json()
    first = next(t for t in tokens if t["name"] == "集計スクリプト")
    revoked = await post_form(client, f"/profile/tokens/{first['id']}/revoke", {}, follow_redirects=False)
    assert revoked.status_code == 303
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as script:
        gone = await script.get("/api/me", headers={"authorization": f"Bearer {raw}"})
        assert gone.status_code == 401


async def test_suspension_ends_sessions_and_tokens(client, app, db):
    from litestar.testing import AsyncTestClient

    await login(client, "member@example.jp")
    member = (await db.execute(select(Member).where(Member.email == "member@example.jp"))).scalar_one()
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as operator:
        await login(operator, "operator@example.jp")
        done = await post_form(operator, f"/admin/members/{member.id}/status", {"status": "suspended"})
        assert "利用状態を変更しました" in done.text
    assert (await client.get("/api/me")).status_code == 401


async def test_profile_page_and_password_change(client):
    await login(client, "host@example.jp")
    page = await client.get("/profile", headers={"accept": "text/html"})
    assert "放送 さくら" in page.text and "札幌市" in page.text and "ホスト" in page.text
    wrong = await post_form(client, "/profile/password", {"current_password": "nope", "password": "another-password"})
    assert wrong.status_code == 400 and "現在のパスワードが正しくありません" in wrong.text
    ok = await post_form(
        client,
        "/profile/password",
        {"current_password": "chonai-demo-2026", "password": "another-password"},
        follow_redirects=False,
    )
    assert ok.status_code == 303


async def test_operator_api_review_and_roles(client, db):
    await signup(client, email="api.applicant@example.jp")
    target = (await db.execute(select(Member).where(Member.email == "api.applicant@example.jp"))).scalar_one()
    client.cookies.clear()
    await login(client, "operator@example.jp")
    headers = {"x-csrftoken": await csrf(client)}
    pending = (await client.get("/api/members", params={"status": "pending"})).json()
    assert [m["email"] for m in pending] == ["pending@example.jp", "api.applicant@example.jp"]
    empty_reason = await client.post(f"/api/members/{target.id}/reject", json={"reason": " "}, headers=headers)
    assert (
        empty_reason.status_code == 400 and empty_reason.json()["error"]["message"] == "却下の理由を入力してください。"
    )
    approved = await client.post(f"/api/members/{target.id}/approve", headers=headers)
    assert approved.status_code == 201 and approved.json()["status"] == "approved"
    twice = await client.post(f"/api/members/{target.id}/approve", headers=headers)
    assert twice.status_code == 409
    role = await client.post(f"/api/members/{target.id}/role", json={"role": "host"}, headers=headers)
    assert role.json()["role"] == "host"
    bad_role = await client.post(f"/api/members/{target.id}/role", json={"role": "emperor"}, headers=headers)
    assert bad_role.status_code == 400 and bad_role.json()["error"]["code"] == "bad_request"
    missing = await client.post("/api/members/999999/approve", headers=headers)
    assert missing.status_code == 404
    me = (await client.get("/api/me")).json()["id"]
    own = await client.post(f"/api/members/{me}/role", json={"role": "member"}, headers=headers)
    assert own.status_code == 400 and own.json()["error"] == {
        "code": "own_account",
        "message": "自分自身の権限は変更できません。",
        "status": 400,
    }
    too_long = await client.post("/api/members/1/reject", json={"reason": "x" * 1001}, headers=headers)
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "bad_request"


async def test_operator_forms_refuse_a_bad_choice_and_their_own_account(client, db):
    await login(client, "operator@example.jp")
    me = (await client.get("/api/me")).json()["id"]
    other = (await db.execute(select(Member).where(Member.email == "member@example.jp"))).scalar_one()
    bad_role = await post_form(client, f"/admin/members/{other.id}/role", {"role": "emperor"})
    assert bad_role.status_code == 400 and "権限を一覧から選んでください。" in bad_role.text
    own_role = await post_form(client, f"/admin/members/{me}/role", {"role": "member"})
    assert own_role.status_code == 400 and "自分自身の権限は変更できません。" in own_role.text
    bad_status = await post_form(client, f"/admin/members/{other.id}/status", {"status": "rejected"})
    assert bad_status.status_code == 400 and "利用状態を一覧から選んでください。" in bad_status.text
    own_status = await post_form(client, f"/admin/members/{me}/status", {"status": "suspended"})
    assert own_status.status_code == 400 and "自分自身を利用停止にはできません。" in own_status.text
    missing = await post_form(client, "/admin/members/999999/role", {"role": "host"})
    assert missing.status_code == 404
    assert (await db.get(Member, me, populate_existing=True)).role.value == "operator"


@pytest.mark.parametrize(
    "form",
    [
        {"email": "x" * 20000, "password": "y" * 20000},
        {"email": "<script>alert(1)</script>", "password": "' OR 1=1 --"},
        {},
    ],
)
async def test_hostile_login_input_is_a_clear_400(client, form):
    response = await post_form(client, "/login", form)
    assert response.status_code == 400
    assert "メールアドレスまたはパスワードが正しくありません" in response.text
    assert "<script>alert(1)</script>" not in response.text


async def test_invalid_utf8_form_is_not_a_500(client):
    token = await csrf(client)
    response = await client.post(
        "/login",
        content=b"email=%FF%FE%80&password=%C3&_csrf_token=" + token.encode(),
        headers={"content-type": "application/x-www-form-urlencoded", "accept": "text/html"},
    )
    assert response.status_code == 400
