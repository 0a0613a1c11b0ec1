"""Route handlers of live.rooms."""

from __future__ import annotations

from typing import Any

route_handlers: list[Any] = []
