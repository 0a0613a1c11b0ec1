"""The one refusal type reaches API clients as a typed body; Redis outages become typed 503s."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar, Request, get
from litestar.testing import AsyncTestClient
from redis.exceptions import ConnectionError as RedisConnectionError

from core.errors import Conflict, Invalid, NotFound, Refusal
from web.errors import EXCEPTION_HANDLERS
from web.templating import template_config


@get("/api/refuse/{kind:str}", sync_to_thread=False)
def refuse(request: Request[Any, Any, Any]) -> None:
    raise {
        "plain": Refusal("slow_down", "少し待ってください。", 429),
        "missing": NotFound(),
        "conflict": Conflict(code="already_live"),
        "invalid": Invalid("入力を確認してください。", fields={"title": "タイトルを入力してください。"}),
        "redis": RedisConnectionError("down"),
    }[request.path_params["kind"]]


@pytest.fixture
async def client() -> AsyncTestClient[Litestar]:
    app = Litestar([refuse], exception_handlers=EXCEPTION_HANDLERS, template_config=template_config())
    async with AsyncTestClient(app) as c:
        yield c


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("plain", 429, "slow_down"),
        ("missing", 404, "not_found"),
        ("conflict", 409, "already_live"),
        ("invalid", 400, "invalid_input"),
        ("redis", 503, "unavailable"),
    ],
)
async def test_refusals_are_typed_json(client: AsyncTestClient[Litestar], kind: str, status: int, code: str) -> None:
    r = await client.get(f"/api/refuse/{kind}")
    assert r.status_code == status
    error = r.json()["error"]
    assert error["code"] == code
    assert error["status"] == status
    assert any(ord(ch) > 0x3000 for ch in error["message"])


async def test_field_errors_travel_with_the_refusal(client: AsyncTestClient[Litestar]) -> None:
    r = await client.get("/api/refuse/invalid")
    assert r.json()["error"]["fields"] == {"title": "タイトルを入力してください。"}
