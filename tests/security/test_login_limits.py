"""The login throttle against a real server process on PostgreSQL, client IPs set by X-Forwarded-For.

Parallel guesses are counted atomically; growing delays slow a guesser; nobody can lock out
a colleague's browser, another office, or an office's other members.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import _truncate_postgres
from tests.factories import SERVER_PASSWORD, approved_member_at, session_at
from tests.servers import ServerProcess, prepare_database

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]
PASSWORD = SERVER_PASSWORD


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Any:
    tmp = tmp_path_factory.mktemp("login_limits")
    env = {"VAR_DIR": str(tmp), "SECRET_KEY": "s" * 48, "LOG_LEVEL": "WARNING", "DATABASE_URL": postgres_url}
    asyncio.run(_truncate_postgres(postgres_url))
    prepare_database(env, demo=False)
    proc = ServerProcess(env, tmp / "server.log").start(timeout=120)
    yield proc, postgres_url
    proc.stop()


async def new_member(url: str) -> str:
    return (await approved_member_at(url, "試行 確認"))[1]


class Browser:
    """One browser behind one address (X-Forwarded-For), with its own cookies; closed when the test ends."""

    opened: list[Browser] = []

    def __init__(self, server: ServerProcess, ip: str) -> None:
        self.http = httpx.AsyncClient(base_url=server.url, headers={"x-forwarded-for": ip}, timeout=60)
        Browser.opened.append(self)

    async def login(self, email: str, password: str) -> httpx.Response:
        if "chonai_csrf" not in self.http.cookies:
            await self.http.get("/login")
        data = {"email": email, "password": password, "_csrf_token": self.http.cookies["chonai_csrf"]}
        response = await self.http.post("/login", data=data)
        if response.status_code == 303:  # logged in: start over as a visitor, keeping the device cookie
            self.http.cookies.delete("chonai_session")
        return response

    async def close(self) -> None:
        await self.http.aclose()


@pytest.fixture(autouse=True)
async def closes_its_browsers() -> AsyncIterator[None]:
    """Every Browser a test opened is closed, also after a failed assertion: none is left to the GC."""
    yield
    while Browser.opened:
        await Browser.opened.pop().close()


async def test_parallel_guesses_are_counted_atomically(server: Any) -> None:
    proc, url = server
    email = await new_member(url)
    browsers = [Browser(proc, "10.1.0.1") for _ in range(25)]
    for b in browsers:
        await b.http.get("/login")
    answers = await asyncio.gather(*(b.login(email, "wrong-password-x") for b in browsers))
    codes = sorted(r.status_code for r in answers)
    assert codes == [400] * 5 + [429] * 20, codes
    assert all(int(r.headers["retry-after"]) >= 1 for r in answers if r.status_code == 429)


async def test_delays_grow_with_every_further_failure(server: Any) -> None:
    """After 5 free failures the wait doubles: 1, 2, 4, 8 s (read from the stored state, not guessed)."""
    proc, url = server
    email = await new_member(url)
    guesser = Browser(proc, "10.2.0.1")
    waits = []
    for _ in range(9):
        while (answer := await guesser.login(email, "wrong-password-x")).status_code == 429:  # noqa: ASYNC110
            await asyncio.sleep(int(answer.headers["retry-after"]))  # the wait the server asked for
        assert answer.status_code == 400
        waits.append(await stored_wait(url, f"pair:{email}|10.2.0.1"))
    assert waits == [0, 0, 0, 0, 1, 2, 4, 8, 16], waits
    # Right after a failure with a 16 s wait, even the right password waits: decided before it is checked.
    refused = await guesser.login(email, PASSWORD)
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 16


async def stored_wait(url: str, key: str) -> float:
    from core.members.models import LoginThrottle

    async with session_at(url) as s:
        row = await s.get(LoginThrottle, key)
        assert row is not None
        return max(0.0, round((row.next_at - row.last_at).total_seconds()))


async def test_nobody_can_lock_out_a_colleague_or_an_office(server: Any) -> None:
    proc, url = server
    victim = await new_member(url)
    office = "10.3.0.1"
    own_browser = Browser(proc, office)
    assert (await own_browser.login(victim, PASSWORD)).status_code == 303  # this browser is now known
    # An attacker elsewhere and a colleague in the same office (same IP) guess 12 times each.
    attacker, colleague = Browser(proc, "203.0.113.9"), Browser(proc, office)
    for _ in range(12):
        await attacker.login(victim, "wrong-password-x")
        await colleague.login(victim, "wrong-password-x")
    # The victim's own browser is untouched, and so is a new browser of theirs at home.
    assert (await own_browser.login(victim, PASSWORD)).status_code == 303
    at_home = Browser(proc, "198.51.100.4")
    assert (await at_home.login(victim, PASSWORD)).status_code == 303
    # 30 failures from the office against many addresses do not lock the office's other members out.
    sprayer = Browser(proc, office)
    for n in range(30):
        await sprayer.login(f"nobody{n}.{victim}", "wrong-password-x")
    someone_else = await new_member(url)
    other_member = Browser(proc, office)
    assert (await other_member.login(someone_else, PASSWORD)).status_code == 303
