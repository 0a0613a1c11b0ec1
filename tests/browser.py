"""Playwright driving Debian's Chromium (never a downloaded browser)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import CHROMIUM, chromium_available, require
from web.demo import DEMO_PASSWORD

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@contextmanager
def chromium() -> Iterator[object]:
    require(chromium_available(), "Chromium (/usr/bin/chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


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
