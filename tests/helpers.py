"""Helpers that make tests read like what a member does."""

from __future__ import annotations

from typing import Any

from httpx import Response

from web.demo import DEMO_PASSWORD

SIGNUP = {
    "name": "新規 登録子",
    "org_kind": "municipality",
    "prefecture": "静岡県",
    "organisation": "浜松市",
    "department": "健康福祉部 保健総務課",
    "email": "new.member@example.jp",
    "password": "correct-horse-battery",
    "password_confirm": "correct-horse-battery",
}


async def csrf(client: Any) -> str:
    """The double-submit token: the CSRF cookie a first GET sets."""
    for _ in range(2):
        for name in ("chonai_csrf", "__Host-chonai_csrf"):  # __Host- behind HTTPS
            if name in client.cookies:
                return str(client.cookies[name])
        await client.get("/login")  # none yet, or dropped at login: the next page mints one
    raise AssertionError("no CSRF cookie")


async def post_form(client: Any, url: str, data: dict[str, str], **kwargs: Any) -> Response:
    return await client.post(url, data={**data, "_csrf_token": await csrf(client)}, **kwargs)  # type: ignore[no-any-return]


async def login(client: Any, email: str, password: str = DEMO_PASSWORD) -> Response:
    response = await post_form(client, "/login", {"email": email, "password": password}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response


async def signup(client: Any, **overrides: str) -> Response:
    """Sign up; when accepted, log in as the applicant (sign-up itself never logs anyone in)."""
    data = {**SIGNUP, **overrides}
    response = await post_form(client, "/signup", data, follow_redirects=False)
    if response.status_code == 303 and response.headers["location"] == "/signup/sent":
        await post_form(client, "/login", {"email": data["email"], "password": data["password"]})
    return response


async def until_subscribed(redis_url: str, channel: str, within: float = 10) -> None:
    """Wait until Redis reports a subscriber on `channel` (SUBSCRIBE is acknowledged asynchronously)."""
    import asyncio

    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        async with asyncio.timeout(within):
            while True:
                [(_, count)] = await client.pubsub_numsub(channel)
                if count:
                    return
                await asyncio.sleep(0.02)
    finally:
        await client.aclose()
