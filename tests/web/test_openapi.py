"""The OpenAPI document describes every response, the two ways to authenticate and the real error body."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from tests.conftest import make_settings


@pytest.fixture(scope="module")
def document(tmp_path_factory):
    from web.app import create_app

    tmp = tmp_path_factory.mktemp("openapi")
    app = create_app(make_settings(tmp, f"sqlite+aiosqlite:///{tmp / 'x.db'}"))
    with TestClient(app=app) as client:
        yield client.get("/schema/openapi.json").json()


def _operations(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_security_schemes_are_declared(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["session"] == {
        "type": "apiKey",
        "name": "chonai_session",
        "in": "cookie",
        "description": schemes["session"]["description"],
    }
    assert schemes["bearer"]["type"] == "http" and schemes["bearer"]["scheme"] == "bearer"
    assert document["security"] == [{"session": []}, {"bearer": []}]


def test_every_success_response_has_a_typed_schema(document):
    untyped = []
    for path, method, operation in _operations(document):
        for status, response in operation["responses"].items():
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if status.startswith("2") and schema and schema.get("type") == "object" and "properties" not in schema:
                untyped.append((method, path))
    assert untyped == []


def test_the_notification_settings_name_every_kind(document):
    from core.notify.models import Kind

    schemas = document["components"]["schemas"]
    ref = document["paths"]["/api/notifications/settings"]["get"]["responses"]["200"]["content"]["application/json"]
    out = schemas[ref["schema"]["$ref"].rsplit("/", 1)[1]]
    assert set(out["properties"]) == {k.value for k in Kind} | {"kinds", "lead_minutes", "digest", "quiet_hours"}
    assert set(out["required"]) == set(out["properties"])


def test_every_error_response_is_the_error_body(document):
    assert document["components"]["schemas"]["Error"]["required"] == ["error"]
    errors = {
        (method, path, status): response["content"]["application/json"]["schema"]
        for path, method, operation in _operations(document)
        for status, response in operation["responses"].items()
        if status[0] in "45"
    }
    assert errors, "no error responses documented"
    assert {schema["$ref"] for schema in errors.values()} == {"#/components/schemas/Error"}
    ban = document["paths"]["/api/broadcasts/{broadcast_id}/moderation/ban"]["post"]["responses"]
    assert {"400", "401", "403", "503"} <= set(ban)


def test_the_documented_error_matches_a_real_refusal(document, tmp_path):
    from web.app import create_app

    app = create_app(make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'y.db'}"))
    with TestClient(app=app) as client:
        body = client.get("/api/me").json()
    required = document["components"]["schemas"]["Error"]["properties"]["error"]["required"]
    assert set(body) == {"error"} and set(required) <= set(body["error"])
    assert body["error"]["code"] == "login_required" and body["error"]["status"] == 401
