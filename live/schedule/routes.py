"""Route handlers of live.schedule."""

from __future__ import annotations

from typing import Any

route_handlers: list[Any] = []
