"""Route handlers of the live domain; `web.app` mounts them (a domain never imports `web`)."""

from __future__ import annotations

from typing import Any

route_handlers: list[Any] = []
