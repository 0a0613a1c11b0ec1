"""Route handlers of live.moderation."""

from __future__ import annotations

from typing import Any

from live.moderation.api import ModerationController
from live.moderation.pages import control_page

route_handlers: list[Any] = [ModerationController, control_page]
