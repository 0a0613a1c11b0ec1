"""A new public servant signs up in Chromium, the demo operator approves, the member logs in."""

from __future__ import annotations

import pytest

from tests.browser import chromium, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_signup_approve_login(demo_server):
    with chromium() as browser:
        phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="ja-JP")
        page = phone.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        # The deliberate form mistake answers 400; anything else logged as an error is a bug.
        page.on(
            "console", lambda m: errors.append(m.text) if m.type == "error" and "status of 400" not in m.text else None
        )

        page.goto(demo_server.url + "/")
        page.get_by_role("link", name="新規登録（公務員の方）").click()
        # First a mistake: the form comes back with a Japanese message and the typed values kept.
        page.fill("#f-name", "浜名 湖太郎")
        page.check("input[value=municipality]")
        page.select_option("#f-prefecture", "静岡県")
        page.fill("#f-organisation", "浜松市")
        page.fill("#f-department", "健康福祉部 保健総務課")
        page.fill("#f-email", "hamana@example.jp")
        page.fill("#f-password", "short")
        page.fill("#f-password_confirm", "short")
        page.get_by_role("button", name="登録を申請する").click()
        assert "パスワードは10文字以上にしてください。" in page.inner_text("#e-password")
        assert page.input_value("#f-organisation") == "浜松市"
        screenshot(page, "signup-error-phone")
        page.fill("#f-password", "hamamatsu-gyoza-2026")
        page.fill("#f-password_confirm", "hamamatsu-gyoza-2026")
        page.get_by_role("button", name="登録を申請する").click()
        # Sign-up answers the same for every address and logs nobody in: the applicant logs in.
        page.wait_for_url("**/signup/sent")
        assert "登録申請を受け付けました" in page.inner_text("h1")
        log_in(page, demo_server.url, "hamana@example.jp", "hamamatsu-gyoza-2026", lands="/pending")
        assert "承認をお待ちください" in page.inner_text("h1")
        page.goto(demo_server.url + "/profile")
        page.wait_for_url("**/pending")

        operator = browser.new_context(locale="ja-JP").new_page()
        log_in(operator, demo_server.url, "operator@example.jp")
        operator.get_by_role("link", name="メンバー承認").click()
        card = operator.locator("article[data-email='hamana@example.jp']")
        assert "浜松市" in card.inner_text()
        screenshot(operator, "admin-approval")
        card.get_by_role("button", name="承認する").click()
        assert "承認しました" in operator.inner_text(".notice")

        # The member logs out of the pending session and logs in as an approved member.
        page.get_by_role("button", name="ログアウト").click()
        page.wait_for_url("**/login?msg=logged_out")
        page.fill("#f-email", "hamana@example.jp")
        page.fill("#f-password", "hamamatsu-gyoza-2026")
        page.get_by_role("button", name="ログイン").click()
        page.wait_for_url(demo_server.url + "/")
        assert "ようこそ、浜名 湖太郎 さん" in page.inner_text("h1")
        page.goto(demo_server.url + "/profile")
        assert "浜松市" in page.inner_text("main")
        screenshot(page, "profile-phone")
        # Nothing overflows sideways on a phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert errors == []
