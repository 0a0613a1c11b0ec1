"""Route handlers of live.schedule: pages, JSON API, calendar feeds and the live state socket."""

from __future__ import annotations

from typing import Any

from live.schedule import api, feeds, pages

route_handlers: list[Any] = [
    pages.SchedulePages,
    pages.ProgramAdminPages,
    pages.BroadcastPages,
    api.ScheduleApi,
    *feeds.route_handlers,
]
