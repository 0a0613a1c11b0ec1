"""Playwright driving Debian's Chromium (never a downloaded browser)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import CHROMIUM, chromium_available, require
from web.demo import DEMO_PASSWORD

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


class _Shared:
    """This process's one Playwright driver and Chromium, started by the first browser test and kept
    for the next ones (a launch costs about 5 s on the test machine); stopped at the end of the session."""

    playwright: Any = None
    browser: Any = None
    loop: asyncio.AbstractEventLoop | None = None


def _browser() -> Any:
    if _Shared.browser is not None and _Shared.browser.is_connected():
        return _Shared.browser
    shutdown()  # never started, or Chromium went away: start again
    from playwright.sync_api import sync_playwright

    _Shared.playwright = sync_playwright().start()
    _Shared.loop = asyncio.get_running_loop()  # the driver's loop, marked running between sync calls
    _Shared.browser = _Shared.playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
    return _Shared.browser


def shutdown() -> None:
    """Stop the shared Chromium and driver (tests/conftest.py calls this at the end of the session)."""
    playwright, browser, loop = _Shared.playwright, _Shared.browser, _Shared.loop
    _Shared.playwright = _Shared.browser = _Shared.loop = None
    if playwright is None:
        return
    asyncio._set_running_loop(loop)  # as between the driver's own sync calls
    try:
        with contextlib.suppress(Exception):
            if browser is not None:
                browser.close()
        playwright.stop()
    finally:
        asyncio._set_running_loop(None)


class _Lease:
    """The shared browser for one `with chromium()` block: what the block opens (contexts, and the
    pages with their own context) is closed when it ends, so no test sees another's cookies or pages."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser
        self._contexts: list[Any] = []

    def new_context(self, **options: Any) -> Any:
        context = self._browser.new_context(**options)
        self._contexts.append(context)
        return context

    def new_page(self, **options: Any) -> Any:
        page = self._browser.new_page(**options)
        self._contexts.append(page.context)
        return page

    def close(self) -> None:
        for context in self._contexts:
            context.close()
        self._contexts.clear()


@contextmanager
def chromium() -> Iterator[Any]:
    """Chromium for one block of a test: fresh contexts in a browser the process keeps between tests.

    Between two sync calls Playwright marks its own event loop as running in this thread; outside the
    block it is not, so asyncio.run and async tests that come after work as without a browser.
    """
    require(chromium_available(), "Chromium (/usr/bin/chromium)")
    if _Shared.loop is not None:
        asyncio._set_running_loop(_Shared.loop)
    lease = _Lease(_browser())
    try:
        yield lease
    finally:
        try:
            lease.close()
        except Exception:
            shutdown()  # a browser in an unknown state is not handed to the next test
            raise
        finally:
            asyncio._set_running_loop(None)


def screenshot(page: object, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


def log_in(page: Any, base: str, email: str, password: str = DEMO_PASSWORD, *, lands: str | None = "/") -> None:
    """Log in through the login form; then wait until the browser is at `base + lands`, or with
    `lands=None` only for the load state (for logins that end on another page)."""
    page.goto(base + "/login")
    page.fill("#f-email", email)
    page.fill("#f-password", password)
    page.get_by_role("button", name="ログイン").click()
    if lands is None:
        page.wait_for_load_state("load")
    else:
        page.wait_for_url(base + lands)
