"""Every limit holds over HTTP: bounds on ids, positions and dates, deep JSON, Range, NUL paths,
the comments endpoint under a display delay, reset links, no-store, session-bound CSRF, media types.

Each test attacks the app through its HTTP interface (SQLite and PostgreSQL where the
database matters) and asserts the exact refusal.
"""

from __future__ import annotations

import datetime as dt
import email
import re
import time

import pytest
from sqlalchemy import select, update

from core.db import utcnow
from live.models import Program
from live.rooms import posting
from live.rooms import service as rooms
from live.rooms.models import RoomComment
from live.schedule import recurrence
from tests.factories import live_show
from tests.helpers import csrf, login, post_form
from tests.live.rooms_support import member as detached_member

pytestmark = [pytest.mark.usefixtures("demo"), pytest.mark.sqlite_only]
BIG = "9" * 20
HUGE_POSITION = 2**63


@pytest.fixture
async def show(db):
    return await live_show(db)


def _typed(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = response.json()["error"]
    assert body["status"] == status and body["code"] and body["message"]
    return dict(body)


async def test_every_integer_path_parameter_is_bounded(client, app):
    """Every route with an {x:int} segment, read from the app itself, with a 20-digit id: 400, never 5xx."""
    await login(client, "operator@example.jp")
    token = await csrf(client)
    tried = 0
    for route in app.routes:
        if ":int}" not in route.path or route.path.startswith("/ws/"):
            continue
        path = re.sub(r"\{[a-z_]+:int\}", BIG, route.path)
        path = re.sub(r"\{[a-z_]+:str\}", "csv", path)
        for method in sorted(getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}):
            response = await client.request(
                method, path, headers={"x-csrftoken": token, "accept": "application/json"}, json={}
            )
            tried += 1
            assert response.status_code in {400, 404, 405}, (method, path, response.status_code, response.text[:200])
    assert tried >= 60


async def test_huge_positions_and_ids_in_json_and_queries(client, db, show):
    await login(client, "host@example.jp")
    headers = {"x-csrftoken": await csrf(client)}
    base = f"/api/broadcasts/{show.id}"
    cases = [
        ("post", f"{base}/moderation/controls", {"picked_position": HUGE_POSITION}),
        ("post", f"{base}/moderation/controls", {"picked_position": -5}),
        ("post", f"{base}/moderation/controls", {"delay_seconds": HUGE_POSITION}),
        ("post", f"{base}/moderation/timeout", {"member_id": HUGE_POSITION, "seconds": 60}),
        ("post", f"{base}/moderation/ban", {"member_id": HUGE_POSITION, "scope": "program"}),
        ("post", f"{base}/reports", {"position": HUGE_POSITION, "reason": "x"}),
        ("post", "/api/faq/questions/1/merge", {"into": HUGE_POSITION}),
    ]
    for method, url, body in cases:
        _typed(await client.request(method, url, json=body, headers=headers), 400)
    for url in (
        f"{base}/comments?after={HUGE_POSITION}",
        f"{base}/comments?after=-1",
        f"{base}/moderation/audit?limit={HUGE_POSITION}",
        f"/api/faq/sessions/1/board?since={HUGE_POSITION}",
        f"/api/schedule?section={HUGE_POSITION}",
        f"/api/schedule?personality={BIG}",
    ):
        _typed(await client.get(url), 400)


async def test_extreme_dates_in_queries_and_forms(client, db):
    await login(client, "operator@example.jp")
    for start in ("0001-01-01", "9999-12-31", "1999-12-31"):
        _typed(await client.get(f"/api/schedule?start={start}&days=62"), 400)
    for week in ("0001-01-01", "9999-12-31"):
        page = await client.get(f"/schedule?week={week}", headers={"accept": "text/html"})
        assert page.status_code == 200 and "週の指定が正しくありません" in page.text
    for month in ("0001-01", "9999-12"):
        page = await client.get(f"/archive?month={month}", headers={"accept": "text/html"})
        assert page.status_code == 400 and "YYYY-MM" in page.text
    form = {
        "title": "遠い未来",
        "start_date": "9999-12-31",
        "start_time": "21:00",
        "end_time": "22:00",
        "rrule": "FREQ=DAILY",
    }
    refused = await post_form(client, "/schedule/programs/new", form, headers={"accept": "text/html"})
    assert refused.status_code == 400, refused.text[:300]
    # An exception may not move an occurrence to year 9999 (or more than a year away).
    program = (await db.execute(select(Program).where(Program.rrule != "").limit(1))).scalar_one()
    occurrence = recurrence.next_rule_starts(program, utcnow() + dt.timedelta(days=2), 1)[0]
    local = occurrence.astimezone(recurrence.zone(program.timezone)).replace(tzinfo=None).isoformat()
    headers = {"x-csrftoken": await csrf(client)}
    for far in ("9999-12-31T21:00", (occurrence + dt.timedelta(days=400)).isoformat()):
        body = {"occurrence": local, "kind": "move", "new_start": far}
        moved = await client.post(f"/api/schedule/programs/{program.id}/exceptions", json=body, headers=headers)
        assert moved.status_code == 400, moved.text[:300]
        assert "new_start" in moved.text, moved.text[:300]
    body = {"occurrence": local, "kind": "move", "new_start": (occurrence + dt.timedelta(days=1)).isoformat()}
    ok = await client.post(f"/api/schedule/programs/{program.id}/exceptions", json=body, headers=headers)
    assert ok.status_code == 201, ok.text[:300]


async def test_deep_json_bodies_get_a_typed_400(client, caplog):
    await login(client, "member@example.jp")
    deep = b"[" * 5000 + b"]" * 5000
    response = await client.post(
        "/api/tokens", content=deep, headers={"x-csrftoken": await csrf(client), "content-type": "application/json"}
    )
    assert _typed(response, 400)["code"] in {"invalid_input", "bad_request"}
    assert not [r for r in caplog.records if r.levelname in {"ERROR", "CRITICAL"}]


async def test_range_with_thousands_of_digits_and_nul_paths(client, settings):
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    (settings.media_dir / "rec.mp4").write_bytes(b"\x00" * 1000)
    (settings.media_dir / "page.html").write_bytes(b"<script>alert(document.cookie)</script>")
    (settings.media_dir / "pic.svg").write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'><script>1</script></svg>")
    await login(client, "member@example.jp")
    ok = await client.get("/archive/media/rec.mp4", headers={"range": "bytes=0-9"})
    assert ok.status_code == 206 and ok.headers["content-type"].startswith("video/")
    for header in ("bytes=" + "9" * 4400 + "-", "bytes=-" + "9" * 4400, "bytes=0-" + "1" * 5000):
        assert (await client.get("/archive/media/rec.mp4", headers={"range": header})).status_code == 416
    assert (await client.get("/static/app.css%00")).status_code == 404
    assert (await client.get("/archive/media/rec.mp4%00")).status_code == 404
    # HTML and SVG on our own origin would run as our pages: they download instead.
    for name in ("page.html", "pic.svg"):
        served = await client.get(f"/archive/media/{name}")
        assert served.status_code == 200
        assert served.headers["content-type"] == "application/octet-stream"
        assert served.headers["content-disposition"] == f'attachment; filename="{name}"'
        assert served.headers["content-security-policy"].startswith("sandbox")


async def test_http_comments_see_what_the_socket_sees(client, db, show):
    """Display delay 30 s: a viewer reads nothing younger; a comment hidden meanwhile never appears."""
    await login(client, "host@example.jp")
    headers = {"x-csrftoken": await csrf(client)}
    base = f"/api/broadcasts/{show.id}"
    assert (await client.post(f"{base}/moderation/controls", json={"delay_seconds": 30}, headers=headers)).is_success
    author = await detached_member(db, "fukuoka@example.jp")
    await rooms.room_info(db, show.id)
    first = await posting.post_comment(db, show.id, author, "まもなく見える", None)
    second = await posting.post_comment(db, show.id, author, "隠される", None)
    # The host (a moderator) reads at once, like the control feed.
    assert [i["position"] for i in (await client.get(f"{base}/comments")).json()["items"]] == [1, 2]
    client.cookies.clear()
    await login(client, "member@example.jp")
    early = (await client.get(f"{base}/comments")).json()
    assert early == {"items": [], "last_position": 0}
    hidden = await client.get(f"{base}/comments?after=1")
    assert hidden.json()["items"] == []
    # The moderator hides the second one during the delay; then the delay passes.
    async with db.begin():
        await db.execute(
            update(RoomComment)
            .where(RoomComment.broadcast_id == show.id, RoomComment.position == second.position)
            .values(hidden_at=utcnow())
        )
        await db.execute(
            update(RoomComment)
            .where(RoomComment.broadcast_id == show.id)
            .values(created_at=utcnow() - dt.timedelta(seconds=31))
        )
    late = (await client.get(f"{base}/comments")).json()
    assert [i["position"] for i in late["items"]] == [first.position]
    assert late["last_position"] == 2


async def test_older_reset_links_die_with_the_newer_one_and_sessions_end(client, db, settings):
    from core.members import passwords, service

    elsewhere_sessions = []
    member = await service.get_by_email(db, "member@example.jp")
    assert member is not None
    for _ in range(2):
        elsewhere_sessions.append(await service.start_session(db, member))
    old = await passwords.request_password_reset(db, "member@example.jp")
    new = await passwords.request_password_reset(db, "member@example.jp")
    assert old is not None and new is not None
    done = await post_form(
        client,
        "/password/reset",
        {"token": new[0], "password": "n" * 12, "password_confirm": "n" * 12},
        follow_redirects=False,
    )
    assert done.status_code == 303
    reuse = await post_form(
        client, "/password/reset", {"token": old[0], "password": "m" * 12, "password_confirm": "m" * 12}
    )
    assert reuse.status_code == 400 and "無効か期限切れ" in reuse.text
    for raw in elsewhere_sessions:
        assert await service.member_for_session(db, raw) is None
    # API tokens end with a reset too (account recovery assumes a compromise).
    tokens = await service.list_api_tokens(db, member)
    assert tokens == []


async def test_reset_request_answers_alike_and_mails_the_stored_address(client, settings):
    answers = []
    for typed in ("member@example.jp", "MEMBER@example.jp\u200b", "member@example.jp\x00\x7f", "nobody@example.jp"):
        started = time.perf_counter()
        r = await post_form(client, "/password/forgot", {"email": typed}, follow_redirects=False)
        answers.append((r.status_code, r.headers["location"], time.perf_counter() - started))
    assert {a[:2] for a in answers} == {(303, "/login?msg=reset_sent")}
    mails = [email.message_from_bytes(p.read_bytes()) for p in settings.outbox_dir.glob("*.eml")]
    assert mails and {m["To"] for m in mails} == {"member@example.jp"}


async def test_secrets_are_never_cached(client):
    await login(client, "member@example.jp")
    for url in ("/profile", "/api/tokens"):
        assert "no-store" in (await client.get(url)).headers["cache-control"]
    created = await client.post("/api/tokens", json={"name": "x"}, headers={"x-csrftoken": await csrf(client)})
    assert created.status_code == 201 and "no-store" in created.headers["cache-control"]
    page = await post_form(client, "/profile/tokens", {"name": "ページ"})
    assert "chn_" in page.text and "no-store" in page.headers["cache-control"]


def _use_csrf(client, value: str | None) -> None:
    for cookie in list(client.cookies.jar):
        if cookie.name == "chonai_csrf":
            client.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
    if value is not None:
        client.cookies.set("chonai_csrf", value)


async def test_csrf_token_is_bound_to_the_session_and_renewed_at_login(client, app):
    from litestar.testing import AsyncTestClient

    before = await csrf(client)  # minted for an anonymous visitor
    response = await login(client, "member@example.jp")
    assert any(c.startswith("chonai_csrf=") and "Max-Age=0" in c for c in response.headers.get_list("set-cookie"))
    _use_csrf(client, before)
    stale = await client.post("/api/tokens", json={"name": "x"}, headers={"x-csrftoken": before})
    assert _typed(stale, 403)["code"] == "csrf_failed"
    _use_csrf(client, None)
    fresh = await client.get("/profile")
    assert fresh.status_code == 200
    token = await csrf(client)
    assert token != before
    assert (await client.post("/api/tokens", json={"name": "x"}, headers={"x-csrftoken": token})).status_code == 201
    # Another member's token (their own session) is worthless here.
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as other:
        await login(other, "fukuoka@example.jp")
        theirs = await csrf(other)
    _use_csrf(client, theirs)
    refused = await client.post("/api/tokens", json={"name": "x"}, headers={"x-csrftoken": theirs})
    assert _typed(refused, 403)["code"] == "csrf_failed"
