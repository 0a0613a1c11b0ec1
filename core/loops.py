"""The one background loop shape (the mail worker, the scheduler): a step per interval until stopped.

A failing step is logged and tried again next round (the database or Redis may be restarting);
stopping waits for the current step, then cancels after a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol


class Stoppable(Protocol):
    def stop(self) -> None: ...


async def repeat(
    step: Callable[[], Awaitable[object]], stopped: asyncio.Event, interval: float, log: logging.Logger, what: str
) -> None:
    """Run `step` every `interval` seconds until `stopped` is set; log (as `what` failed) and go on on errors."""
    while not stopped.is_set():
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed", what)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopped.wait(), interval)


async def stop_running(running: tuple[Stoppable, asyncio.Task[None]] | None, grace: float) -> None:
    """Ask the loop to stop, give its task `grace` seconds to finish, then cancel it."""
    if running is None:
        return
    loop, task = running
    loop.stop()
    try:
        await asyncio.wait_for(task, grace)
    except (TimeoutError, asyncio.CancelledError):
        task.cancel()
