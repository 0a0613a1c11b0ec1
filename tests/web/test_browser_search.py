"""In Chromium: a member types a reading into the header search box and, on one page, finds the
FAQ entry, the archived broadcast and the answered question it refers to, highlighted."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import chromium, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT = 15_000


def test_header_search_finds_every_kind_highlighted(demo_server):
    url = demo_server.url
    with chromium() as browser:
        page = browser.new_context(locale="ja-JP", viewport={"width": 1100, "height": 900}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_default_timeout(TIMEOUT)
        log_in(page, url, "member@example.jp")

        box = page.get_by_role("searchbox", name="サイト内検索")
        box.fill("せっしゅけん")  # typed as it is read, not as it is written
        box.press("Enter")
        page.wait_for_url("**/search?q=*")

        for kind, title in [
            ("faq_entry", "接種券を紛失した方の再発行はどの窓口で受け付けていますか？"),
            ("question", "接種券を紛失した方の再発行はどの窓口で受け付けていますか？"),
            ("broadcast", "お昼の庁内放送 ― 窓口DXのいま"),
        ]:
            hit = page.locator(f'.search-hit[data-kind="{kind}"]', has_text=title).first
            expect(hit).to_be_visible()
            expect(hit.locator("mark", has_text="接種券").first).to_be_visible()
        expect(page.locator("#search-count")).to_contain_text("件")
        screenshot(page, "search-reading")

        page.locator('.search-hit[data-kind="broadcast"] a.hit-title').first.click()
        page.wait_for_url("**/archive/*")
        assert errors == []
