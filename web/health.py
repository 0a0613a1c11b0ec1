"""Liveness and readiness for load balancers and operators."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import MediaType, Request, Response, get

from core.db import Database
from core.deps import AppSettings


@get("/healthz", media_type=MediaType.JSON, include_in_schema=False)
async def healthz() -> dict[str, str]:
    """The process is up (no dependencies checked)."""
    return {"status": "ok"}


@get("/readyz", media_type=MediaType.JSON, include_in_schema=False)
async def readyz(request: Request[Any, Any, Any], settings: AppSettings) -> Response[dict[str, Any]]:
    """The database and, when configured, Redis answer within two seconds."""
    db: Database = request.app.state.db
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(db.ping(), 2)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {exc.__class__.__name__}"
    if settings.redis_url:
        checks["redis"] = await _redis_check(settings.redis_url)
        if not request.app.state.bus.healthy:
            checks["event_bus"] = "error: not subscribed to Redis"
    ok = all(v == "ok" for v in checks.values())
    return Response({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


async def _redis_check(url: str) -> str:
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
        return "ok"
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"
    finally:
        await client.aclose()
