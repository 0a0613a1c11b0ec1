"""What the subcommands share: one database session for a command, and asking for a missing option."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from core.db import Database
from core.settings import Settings


def run_db(settings: Settings, fn: Callable[[Any], Coroutine[Any, Any, Any]]) -> Any:
    async def go() -> Any:
        db = Database(settings.database_url)
        try:
            async with db.session() as session:
                return await fn(session)
        finally:
            await db.dispose()

    return asyncio.run(go())


def ask(value: str | None, prompt: str, secret: bool = False) -> str:
    if value:
        return value
    if not sys.stdin.isatty():
        raise SystemExit(f"chonai: {prompt} is required (give it as an option)")
    return getpass.getpass(f"{prompt}: ") if secret else input(f"{prompt}: ")
