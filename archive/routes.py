"""Route handlers of the archive domain; `web.app` mounts them (a domain never imports `web`)."""

from __future__ import annotations

from typing import Any

from archive.pages import ArchiveController

route_handlers: list[Any] = [ArchiveController]
