"""In Chromium: an organiser and two members run a live Q&A, publish its FAQ, and a member finds and downloads it."""

from __future__ import annotations

import subprocess

import pytest
from playwright.sync_api import expect

from tests.browser import chromium, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT = 15_000


def _login(browser, url, email):
    page = browser.new_context(
        locale="ja-JP", viewport={"width": 1000, "height": 900}, accept_downloads=True
    ).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
    log_in(page, url, email)
    page.set_default_timeout(TIMEOUT)
    return page, errors


def _card(page, text):
    # By the question's own text (a moderator's merge menus list the other questions too).
    return page.locator("#questions > li", has=page.locator(".q-body", has_text=text))


def _ask(page, text, category=""):
    page.fill("#ask-body", text)
    if category:
        page.select_option("#ask-category", category)
    page.get_by_role("button", name="送信").click()
    expect(page.locator("#ask-body")).to_have_value("", timeout=TIMEOUT)


def test_live_qa_to_published_faq(demo_server, tmp_path):
    url = demo_server.url
    with chromium() as browser:
        organiser, e1 = _login(browser, url, "naha@example.jp")
        alice, e2 = _login(browser, url, "member@example.jp")
        bob, e3 = _login(browser, url, "kochi@example.jp")

        organiser.goto(url + "/faq")
        organiser.get_by_role("link", name="ワクチン接種体制 情報交換会", exact=True).click()
        organiser.get_by_role("link", name="第3回 職員体制とシステム").click()
        session_url = organiser.url
        for page in (alice, bob):
            page.goto(session_url)
        for page in (organiser, alice, bob):
            page.wait_for_selector("#board[data-connected=true]")

        # Questions arrive live on every screen; similar answered FAQ entries are suggested while typing.
        alice.fill("#ask-body", "接種券の再発行")
        alice.wait_for_selector("#suggestions:not([hidden]) li")
        assert "再発行" in alice.inner_text("#suggestions")
        _ask(alice, "会場の受付で本人確認はどのようにしていますか？", "会場運営")
        _ask(bob, "受付での本人確認の方法を教えてください")
        _ask(bob, "送迎バスの費用はどこから出していますか？")
        for page in (organiser, alice, bob):
            _card(page, "送迎バスの費用").wait_for()
            _card(page, "会場の受付で本人確認").wait_for()

        # Votes reorder the board.
        _card(alice, "送迎バスの費用").locator("button.vote").click()
        _card(bob, "会場の受付で本人確認").locator("button.vote").click()
        _card(organiser, "会場の受付で本人確認").locator("button.vote").click()
        expect(bob.locator("#questions > li").first).to_contain_text("会場の受付で本人確認", timeout=TIMEOUT)
        expect(bob.locator("#questions > li").nth(1)).to_contain_text("送迎バスの費用", timeout=TIMEOUT)
        assert _card(alice, "会場の受付で本人確認").locator("button.vote").is_disabled()  # not on one's own question

        # The organiser merges the duplicate: it disappears, askers combine.
        target_id = _card(organiser, "会場の受付で本人確認").get_attribute("data-id")
        duplicate = _card(organiser, "受付での本人確認の方法")
        duplicate.locator(".mod-more > summary").click()
        duplicate.locator("select[data-role=merge-target]").select_option(target_id)
        duplicate.get_by_role("button", name="この質問を統合").click()
        _card(alice, "受付での本人確認の方法").wait_for(state="detached")
        _card(alice, "会場の受付で本人確認").get_by_text("同じ質問 2人").wait_for()

        # "Answering now" shows on every screen, then a written answer.
        _card(organiser, "会場の受付で本人確認").get_by_role("button", name="回答中にする").click()
        bob.wait_for_selector("#answering-now:not([hidden])")
        assert "会場の受付で本人確認" in bob.inner_text("#answering-now")
        card = _card(organiser, "会場の受付で本人確認")
        card.locator(".mod-more > summary").click()
        card.locator("textarea[data-role=answer]").fill(
            "受付で**マイナンバーカード**か保険証を確認し、予約番号と照合しています。"
        )
        card.get_by_role("button", name="回答を送信").click()
        _card(alice, "会場の受付で本人確認").get_by_text("予約番号と照合").wait_for()
        # The board shows the answer rendered (server-side, sanitised), not as raw Markdown.
        assert _card(alice, "会場の受付で本人確認").locator(".q-answer .md strong").inner_text() == "マイナンバーカード"
        bob.wait_for_selector("#answering-now", state="hidden")

        # One is dismissed with a reason its asker sees; others no longer see it.
        card = _card(organiser, "送迎バスの費用")
        card.locator(".mod-more > summary").click()
        card.locator("input[data-role=reason]").fill("次回のテーマで扱います")
        card.get_by_role("button", name="見送る").click()
        _card(bob, "送迎バスの費用").get_by_text("見送りの理由: 次回のテーマで扱います").wait_for()
        _card(alice, "送迎バスの費用").wait_for(state="detached")
        screenshot(organiser, "faq-board-organiser")
        screenshot(bob, "faq-board-member")

        # Ending the session yields a draft, which the organiser publishes.
        organiser.get_by_role("button", name="終了してFAQ下書きを作成").click()
        organiser.wait_for_url("**/edit")
        assert "会場の受付で本人確認" in organiser.input_value("#q-0")
        assert "送迎バス" not in organiser.content()
        organiser.get_by_role("button", name="公開する").click()
        organiser.wait_for_url("**/faq/documents/*")
        assert "v1" in organiser.inner_text("main")
        alice.wait_for_selector("#session-state:has-text('終了')")

        # A member finds the entry with a two-character word and downloads the PDF.
        alice.goto(url + "/faq")
        alice.fill("#faq-q", "受付")
        alice.get_by_role("button", name="検索").click()
        hit = alice.locator(".search-hit", has_text="本人確認")
        hit.wait_for()
        assert hit.locator("mark").first.inner_text() == "受付"
        screenshot(alice, "faq-search")
        hit.locator("a.hit-question").click()
        alice.get_by_role("link", name="第3回 FAQ資料", exact=False).first.click()
        # Printing the page keeps the document's structure and drops the site's chrome.
        alice.emulate_media(media="print")
        assert alice.locator(".site-header").is_hidden() and alice.locator(".downloads").is_hidden()
        assert alice.locator(".faq-toc").is_visible() and alice.locator(".print-meta").is_visible()
        assert "/faq/documents/" in alice.inner_text(".print-meta")
        alice.emulate_media(media="screen")
        with alice.expect_download() as info:
            alice.click("#download-pdf")
        pdf = tmp_path / "faq.pdf"
        info.value.save_as(pdf)
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert "予約番号と照合" in text.replace("\n", "")
        assert e1 == [] and e2 == [] and e3 == [], (e1, e2, e3)
