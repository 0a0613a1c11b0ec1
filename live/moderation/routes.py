"""Route handlers of live.moderation."""

from __future__ import annotations

from typing import Any

from live.moderation.api import ModerationController, ReportController

route_handlers: list[Any] = [ModerationController, ReportController]
