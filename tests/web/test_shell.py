"""The shell: health, readiness, Japanese error pages, typed API errors, security headers, logs."""

from __future__ import annotations

import logging

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import REDIS_TEST_URL, make_settings, redis_available, require
from tests.helpers import csrf as csrf_token
from tests.helpers import login

HTML = {"accept": "text/html"}


pytestmark = pytest.mark.sqlite_only


async def test_health_and_ready(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok"}


async def test_not_found_is_japanese_page_and_typed_json(client):
    page = await client.get("/no/such/page", headers=HTML)
    assert page.status_code == 404 and "ページが見つかりません" in page.text and 'lang="ja"' in page.text
    api = await client.get("/api/no/such")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


async def test_members_only_pages_redirect_anonymous_to_login(client):
    response = await client.get("/profile?tab=tokens", headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/profile%3Ftab%3Dtokens"
    api = await client.get("/api/me")
    assert api.status_code == 401 and api.json()["error"]["code"] == "login_required"


async def test_security_headers_and_request_id(client):
    response = await client.get("/login", headers={**HTML, "x-request-id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    hostile = await client.get("/login", headers={"x-request-id": "<script>" + "x" * 100})
    assert hostile.headers["x-request-id"] != "<script>" + "x" * 100


@pytest.mark.usefixtures("demo")
async def test_hostile_cookies_and_tokens_are_just_anonymous(client):
    for headers in (
        {"cookie": "chonai_session=\x00\x01; bad"},
        {"cookie": "chonai_session=" + "x" * 5000},
        {"authorization": "Bearer chn_" + "x" * 3000},
        {"authorization": "Bearer"},
    ):
        response = await client.get("/api/me", headers=headers)
        assert response.status_code == 401


@pytest.mark.usefixtures("demo")
async def test_malformed_json_and_oversized_bodies_get_typed_errors(client):
    await login(client, "member@example.jp")
    csrf = await csrf_token(client)
    broken = await client.post(
        "/api/tokens", content=b"{not json", headers={"x-csrftoken": csrf, "content-type": "application/json"}
    )
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "bad_request"
    huge = await client.post(
        "/api/tokens",
        content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"x-csrftoken": csrf, "content-type": "application/json"},
    )
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "too_large"


async def test_access_log_carries_request_id(client, caplog):
    with caplog.at_level(logging.INFO, logger="chonai.access"):
        await client.get("/healthz", headers={"x-request-id": "trace-42"})
    record = next(r for r in caplog.records if r.name == "chonai.access")
    assert record.request_id == "trace-42" and record.status == 200


@pytest.mark.redis
async def test_readyz_reports_redis(tmp_path, database_url):
    require(redis_available(), "Redis")
    from web.app import create_app

    good = create_app(make_settings(tmp_path, database_url, REDIS_URL=REDIS_TEST_URL))
    async with AsyncTestClient(app=good) as client:
        ready = await client.get("/readyz")
        assert ready.json()["checks"]["redis"] == "ok"
    bad = create_app(make_settings(tmp_path, database_url, REDIS_URL="redis://127.0.0.1:1/0"))
    async with AsyncTestClient(app=bad) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["redis"].startswith("error")


def test_openapi_document(tmp_path):
    from litestar.testing import TestClient

    from web.app import create_app

    app = create_app(make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"))
    with TestClient(app=app) as client:
        doc = client.get("/schema/openapi.json").json()
    assert "/api/me" in doc["paths"] and "/api/tokens" in doc["paths"]


@pytest.mark.usefixtures("demo")
async def test_unexpected_error_is_a_japanese_500_page_not_a_trace(client, monkeypatch, caplog):
    from core.members import service

    async def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    await login(client, "member@example.jp")
    monkeypatch.setattr(service, "list_api_tokens", broken)
    with caplog.at_level(logging.ERROR, logger="chonai.errors"):
        page = await client.get("/profile", headers=HTML)
        api = await client.get("/api/tokens")
    assert page.status_code == 500 and "エラーが発生しました" in page.text
    assert "secret internal detail" not in page.text and "Traceback" not in page.text
    assert api.status_code == 500 and api.json()["error"]["code"] == "internal_error"
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


@pytest.mark.usefixtures("demo")
async def test_cookies_are_secure_behind_https(tmp_path, database_url):
    from web.app import create_app

    app = create_app(make_settings(tmp_path, database_url, BASE_URL="https://chonai.example.jp"))
    async with AsyncTestClient(app=app, base_url="https://chonai.example.jp") as client:
        response = await login(client, "member@example.jp")
        session_cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("chonai_session="))
        assert "Secure" in session_cookie and "HttpOnly" in session_cookie
        assert "samesite=lax" in session_cookie.lower() or "samesite=strict" in session_cookie.lower()
        # The CSRF cookie is read by our own JavaScript (double submit), so not HttpOnly, but Secure and SameSite.
        client.cookies.clear()
        first = await client.get("/login", headers=HTML)
        csrf_cookie = next(c for c in first.headers.get_list("set-cookie") if c.startswith("__Host-chonai_csrf="))
        assert "Secure" in csrf_cookie and "samesite=lax" in csrf_cookie.lower()
        page = await client.get("/login", headers=HTML)
        assert page.headers["strict-transport-security"].startswith("max-age=")
