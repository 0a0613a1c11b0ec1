"""axe-core on every page as anonymous, pending, member, host, moderator and operator, on a desktop and a phone.

Zero serious or critical violations. One Chromium, one context per role and viewport, one login per
context. To cover a new page, add it to PAGES (placeholders in braces are filled from the demo data).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from tests.browser import chromium, log_in
from tests.conftest import require
from tests.servers import serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = Path(
    os.environ.get("AXE_PATH", Path(__file__).resolve().parents[2] / ".tools/node/node_modules/axe-core/axe.min.js")
)
BLOCKING = {"serious", "critical"}
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

#: (role, path, CSS selector to wait for before scanning, or None). Other features add their pages here.
PAGES: list[tuple[str, str, str | None]] = [
    ("anonymous", "/", None),
    ("anonymous", "/login", None),
    ("anonymous", "/signup", None),
    ("anonymous", "/password/forgot", None),
    ("pending", "/pending", None),
    ("member", "/", None),
    ("member", "/schedule", None),
    ("member", "/schedule?week=2027-05-03", None),
    ("member", "/schedule/programs", None),
    ("member", "/schedule/programs/{program}", None),
    ("member", "/schedule/personalities/{host}", None),
    ("member", "/schedule/calendars", None),
    ("member", "/broadcasts/{live}", "#room[data-connected='1'] li"),
    ("member", "/archive", None),
    ("member", "/archive/{archived}", None),
    ("member", "/faq", None),
    ("member", "/faq/search?q=接種", None),
    ("member", "/faq/series/{series}", None),
    ("member", "/faq/sessions/{board}", "#board[data-connected='true']"),
    ("member", "/faq/documents/{document}", None),
    ("member", "/profile", None),
    ("member", "/profile/edit", None),
    ("member", "/search?q=せっしゅけん", None),
    ("member", "/notifications", None),
    ("member", "/settings/notifications", None),
    ("member", "/sections", None),
    ("member", "/sections/1", None),
    ("member", "/members", None),
    ("member", "/faq/series/new", None),  # the refusal page
    ("host", "/broadcasts/{live}/control", "#c-feed li"),
    ("host", "/faq/series/new", None),
    ("moderator", "/broadcasts/{live}/control", "#c-feed li"),
    ("operator", "/admin/members", None),
    ("operator", "/schedule/programs/new", None),
    ("operator", "/schedule/programs/{program}/edit", None),
    ("operator", "/schedule/rotation/new", None),
    ("operator", "/faq/documents/{document}/edit", None),
    ("operator", "/search/glossary", None),
    ("operator", "/admin/settings", None),
]
LOGINS = {
    "pending": "pending@example.jp",
    "member": "member@example.jp",
    "host": "host@example.jp",
    "moderator": "moderator@example.jp",
    "operator": "operator@example.jp",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("a11y")
    with serve(tmp) as proc:
        yield proc, tmp / "chonai.db"


def _ids(db_path: Path) -> dict[str, int]:
    from live.moderation.demo import DEMO_LIVE_TITLE

    one = sqlite3.connect(db_path).execute
    return {
        "live": one("SELECT id FROM broadcasts WHERE title = ?", (DEMO_LIVE_TITLE,)).fetchone()[0],
        "archived": one("SELECT broadcast_id FROM recordings ORDER BY id LIMIT 1").fetchone()[0],
        "program": one("SELECT id FROM programs WHERE rotation != '' ORDER BY id LIMIT 1").fetchone()[0],
        "host": one("SELECT id FROM members WHERE email = 'host@example.jp'").fetchone()[0],
        "series": one("SELECT id FROM faq_series ORDER BY id LIMIT 1").fetchone()[0],
        "board": one("SELECT id FROM faq_sessions WHERE state = 'live' ORDER BY number DESC LIMIT 1").fetchone()[0],
        "document": one("SELECT id FROM faq_documents WHERE current_version > 0 ORDER BY id LIMIT 1").fetchone()[0],
    }


def _scan(page) -> list[dict]:
    result = page.evaluate("async () => JSON.stringify(await axe.run(document, {resultTypes: ['violations']}))")
    return [v for v in json.loads(result)["violations"] if v["impact"] in BLOCKING]


@pytest.mark.timeout(900)
def test_every_page_has_no_serious_accessibility_violation(server):
    require(AXE.exists(), f"axe-core ({AXE}; `make test` installs it with npm)")
    proc, db_path = server
    ids = _ids(db_path)
    source = AXE.read_text()
    found: list[str] = []
    scanned = 0
    with chromium() as browser:
        for viewport_name, viewport in VIEWPORTS.items():
            for role in dict.fromkeys(role for role, _, _ in PAGES):
                context = browser.new_context(viewport=viewport, locale="ja-JP")
                # An init script is injected by the browser itself: the pages keep their strict CSP.
                context.add_init_script(script=source)
                page = context.new_page()
                if role in LOGINS:
                    log_in(page, proc.url, LOGINS[role], lands=None)
                for _, path, ready in (p for p in PAGES if p[0] == role):
                    url = proc.url + path.format(**ids)
                    page.goto(url, wait_until="load")
                    if ready:
                        page.wait_for_selector(ready, timeout=15_000)
                    scanned += 1
                    for v in _scan(page):
                        targets = ", ".join(" ".join(n["target"]) for n in v["nodes"][:3])
                        found.append(
                            f"{viewport_name} {role} {path}: {v['impact']} {v['id']} ({v['help']}) at {targets}"
                        )
                context.close()
    assert scanned == 2 * len(PAGES)
    assert found == [], "\n".join(found)


def test_skip_link_visible_focus_and_a_quiet_comment_log(server):
    proc, db_path = server
    ids = _ids(db_path)
    with chromium() as browser:
        page = browser.new_context(viewport=VIEWPORTS["phone"], locale="ja-JP").new_page()
        log_in(page, proc.url, "member@example.jp", lands=None)
        page.goto(proc.url + f"/broadcasts/{ids['live']}")
        page.wait_for_selector("#room[data-connected='1'] li", timeout=15_000)
        # The first Tab reaches the skip link, which becomes visible and moves focus to the content.
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const el = document.activeElement; const r = el.getBoundingClientRect();"
            " return {text: el.textContent, top: r.top, outline: getComputedStyle(el).outlineStyle}; }"
        )
        assert focused["text"] == "本文へスキップ" and focused["top"] >= 0 and focused["outline"] != "none"
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.id") == "main"
        # Every focusable control shows where focus is.
        page.focus("#room-text")
        assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"
        # The comment feed is a log that stays silent until asked, so a busy room does not drown a reader.
        feed = page.locator("#room-log")
        assert feed.get_attribute("role") == "log" and feed.get_attribute("aria-live") == "off"
        assert page.locator("#room-log > ol#room-comments > li").count() >= 8  # still a list inside the log
        page.check("#room-announce")
        assert feed.get_attribute("aria-live") == "polite"
        # On a phone the sticky header is one line.
        height = page.evaluate("() => document.querySelector('.site-header').getBoundingClientRect().height")
        assert height <= 56, f"header is {height}px high on a phone"
