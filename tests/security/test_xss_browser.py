"""The XSS corpus, written where members write, then rendered in Chromium: nothing runs, nothing injected."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from tests.browser import chromium, log_in
from tests.factories import add_chat, make_broadcast, member_id, session_at
from tests.security.xss_corpus import DETECTOR, PAYLOADS, injected
from tests.servers import serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("xss")
    with serve(tmp, seed=lambda url: asyncio.run(_ended_broadcast(url))) as proc:
        proc.broadcast_id = proc.seeded  # type: ignore[attr-defined]
        yield proc


async def _ended_broadcast(url: str) -> int:
    async with session_at(url) as s:
        host = await member_id(s, "host@example.jp")
        start = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)
        return (await make_broadcast(s, title="XSS の検証", start=start, personality_id=host)).id


@contextlib.contextmanager
def _client(server, email: str) -> Iterator[httpx.Client]:
    """A logged-in HTTP client, closed on the way out (also when the test fails inside)."""
    with httpx.Client(base_url=server.url, follow_redirects=False) as client:
        client.get("/login")
        client.post(
            "/login",
            data={"email": email, "password": "chonai-demo-2026", "_csrf_token": client.cookies["chonai_csrf"]},
        )
        client.get("/login")  # a new session gets a new CSRF token (bound to the session)
        yield client


def _browser_page(browser, server, email: str):
    context = browser.new_context()
    context.add_init_script(DETECTOR)
    page = context.new_page()
    log_in(page, server.url, email, lands=None)
    return page


def test_recording_titles_and_search_reflections(server):
    with _client(server, "host@example.jp") as host:
        for payload in PAYLOADS:
            response = host.post(
                f"/archive/{server.broadcast_id}/recordings",
                data={"url": "https://example.jp/rec", "title": payload, "_csrf_token": host.cookies["chonai_csrf"]},
            )
            assert response.status_code == 303, response.text[:300]
    with chromium() as browser:
        page = _browser_page(browser, server, "host@example.jp")
        page.goto(server.url + f"/archive/{server.broadcast_id}")
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


async def _seed_comments_and_titles(url: str) -> dict[str, int]:
    """The corpus as room comments (live room and archive replay) and as program/broadcast titles."""
    from sqlalchemy import select

    from core.db import Database
    from core.members.models import Member
    from live.models import Broadcast, BroadcastState, Program
    from live.rooms.models import CommentRoom

    db = Database(url, pool_size=0)
    ids: dict[str, int] = {}
    async with db.session() as s:
        naha = (await s.execute(select(Member).where(Member.email == "naha@example.jp"))).scalar_one()
        now = dt.datetime.now(dt.UTC)
        for key, state in (("live", BroadcastState.LIVE), ("ended", BroadcastState.ENDED)):
            start = now - dt.timedelta(minutes=30) if key == "live" else now - dt.timedelta(days=3)
            b = Broadcast(
                title=f"XSS {key}",
                personality_id=naha.id,
                starts_at=start,
                ends_at=start + dt.timedelta(hours=1),
                opens_at=start,
                live_at=start,
                state=state,
            )
            s.add(b)
            await s.flush()
            s.add(CommentRoom(broadcast_id=b.id, last_position=len(PAYLOADS)))
            add_chat(
                s, b.id, start, [(naha.id, n * 1000, payload[:200]) for n, payload in enumerate(PAYLOADS, start=1)]
            )
            ids[key] = b.id
        # Program and broadcast titles, all in the coming days so the week view lists them.
        for i, payload in enumerate(PAYLOADS):
            start = now + dt.timedelta(hours=1 + i)
            program = Program(title=payload[:100], description=payload, personality_id=naha.id, dtstart=start)
            s.add(program)
            await s.flush()
            s.add(
                Broadcast(
                    program_id=program.id,
                    title=payload[:100],
                    description=payload,
                    personality_id=naha.id,
                    starts_at=start,
                    ends_at=start + dt.timedelta(minutes=30),
                    opens_at=start,
                )
            )
        await s.commit()
    await db.dispose()
    return ids


def test_comments_questions_answers_and_titles(server, tmp_path_factory):
    db_url = f"sqlite+aiosqlite:///{server.env['VAR_DIR']}/chonai.db"
    ids = asyncio.run(_seed_comments_and_titles(db_url))
    session_id = asyncio.run(_live_faq_session(db_url))
    with _client(server, "member@example.jp") as asker, _client(server, "naha@example.jp") as organiser:
        for payload in PAYLOADS:
            asked = asker.post(
                f"/api/faq/sessions/{session_id}/questions",
                json={"body": payload[:300] or "x", "category": ""},
                headers={"x-csrftoken": asker.cookies["chonai_csrf"]},
            )
            assert asked.status_code in (201, 400), asked.text[:300]  # 400: empty after cleaning
            if asked.status_code == 201:
                answered = organiser.post(
                    f"/api/faq/questions/{asked.json()['id']}/answer",
                    json={"answer": payload},
                    headers={"x-csrftoken": organiser.cookies["chonai_csrf"]},
                )
                assert answered.status_code == 201, answered.text[:300]
    with chromium() as browser:
        for email in ("member@example.jp", "naha@example.jp"):
            page = _browser_page(browser, server, email)
            for path in (
                f"/broadcasts/{ids['live']}",  # live room history (most recent comments)
                f"/archive/{ids['ended']}",  # archive replay (every comment)
                "/schedule",  # week view with the program/broadcast titles
                "/schedule/programs",
                f"/faq/sessions/{session_id}",  # live Q&A board with questions and answers
            ):
                page.goto(server.url + path)
                page.wait_for_load_state("networkidle")
                assert injected(page) == ([], 0), (email, path)
            # The comments really rendered (as text), so the check above saw them.
            page.goto(server.url + f"/archive/{ids['ended']}")
            page.wait_for_selector("#replay[data-ready=true]")
            assert page.locator(".replay-item").count() == len(PAYLOADS)
            assert page.locator(".replay-text").first.inner_text() == PAYLOADS[0]


async def _live_faq_session(url: str) -> int:
    from sqlalchemy import select

    from core.db import Database
    from faq.models import SessionState, StudySession

    db = Database(url, pool_size=0)
    async with db.session() as s:
        session_id = (
            await s.execute(select(StudySession.id).where(StudySession.state == SessionState.LIVE).limit(1))
        ).scalar_one()
    await db.dispose()
    return int(session_id)
