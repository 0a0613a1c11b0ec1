"""The XSS corpus, written where members write, then rendered in Chromium: nothing runs, nothing injected."""

from __future__ import annotations

import asyncio
import datetime as dt
from urllib.parse import urlencode

import httpx
import pytest

from tests.browser import chromium
from tests.security.xss_corpus import DETECTOR, PAYLOADS, injected
from tests.servers import ServerProcess, prepare_database

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("xss")
    env = {"VAR_DIR": str(tmp), "SECRET_KEY": "x" * 48, "LOG_LEVEL": "WARNING"}
    prepare_database(env)
    asyncio.run(_ended_broadcast(f"sqlite+aiosqlite:///{tmp / 'chonai.db'}"))
    proc = ServerProcess(env, tmp / "server.log").start()
    yield proc
    proc.stop()


async def _ended_broadcast(url: str) -> None:
    from sqlalchemy import select

    from core.db import Database
    from core.members.models import Member
    from live.models import Broadcast, BroadcastState

    db = Database(url, pool_size=0)
    async with db.session() as s:
        host = (await s.execute(select(Member).where(Member.email == "host@example.jp"))).scalar_one()
        start = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)
        s.add(
            Broadcast(
                title="XSS の検証",
                personality_id=host.id,
                starts_at=start,
                ends_at=start + dt.timedelta(hours=1),
                opens_at=start,
                state=BroadcastState.ENDED,
            )
        )
        await s.commit()
    await db.dispose()


def _client(server, email: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url, follow_redirects=False)
    client.get("/login")
    client.post(
        "/login", data={"email": email, "password": "chonai-demo-2026", "_csrf_token": client.cookies["chonai_csrf"]}
    )
    return client


def _browser_page(browser, server, email: str):
    context = browser.new_context()
    context.add_init_script(DETECTOR)
    page = context.new_page()
    page.goto(server.url + "/login")
    page.fill("#f-email", email)
    page.fill("#f-password", "chonai-demo-2026")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def test_recording_titles_and_search_reflections(server):
    host = _client(server, "host@example.jp")
    for payload in PAYLOADS:
        response = host.post(
            "/archive/1/recordings",
            data={"url": "https://example.jp/rec", "title": payload, "_csrf_token": host.cookies["chonai_csrf"]},
        )
        assert response.status_code == 303, response.text[:300]
    with chromium() as browser:
        page = _browser_page(browser, server, "host@example.jp")
        page.goto(server.url + "/archive/1")
        assert page.locator("#recordings-admin tbody tr").count() == len(PAYLOADS)
        assert injected(page) == ([], 0)
        for payload in PAYLOADS:
            page.goto(server.url + "/archive?" + urlencode({"q": payload}))
            # The search box shows the query back as text (inputs drop line breaks).
            assert page.input_value("#f-q") == payload[:100].replace("\n", "").replace("\x00", "\ufffd")
            assert injected(page) == ([], 0), payload


def test_signup_reflections_of_names_and_organisations(server):
    fill_and_submit = """([name, org, dept, email]) => {
        const f = document.querySelector("form.form");
        f.querySelector("#f-name").value = name;
        f.querySelector("input[value=municipality]").checked = true;
        f.querySelector("#f-prefecture").value = "東京都";
        f.querySelector("#f-organisation").value = org;
        f.querySelector("#f-department").value = dept;
        f.querySelector("#f-email").value = email;
        f.querySelector("#f-password").value = "short";
        f.submit();
    }"""
    with chromium() as browser:
        context = browser.new_context()
        context.add_init_script(DETECTOR)
        page = context.new_page()
        # Three payloads per submission (name, organisation, department), each re-rendered by the server.
        for i in range(0, len(PAYLOADS), 3):
            trio = (PAYLOADS[i : i + 3] * 3)[:3]
            page.goto(server.url + "/signup")
            with page.expect_navigation():
                page.evaluate(fill_and_submit, [trio[0][:50], trio[1][:60], trio[2][:60], f"xss{i}@example.jp"])
            assert "入力内容を確認してください" in page.inner_text("main")
            assert injected(page) == ([], 0), trio
