"""Route handlers of the live domain (schedule and comment rooms); `web.app` mounts them."""

from __future__ import annotations

from typing import Any

from live.moderation import routes as moderation
from live.rooms import routes as rooms
from live.schedule import routes as schedule

route_handlers: list[Any] = [*schedule.route_handlers, *rooms.route_handlers, *moderation.route_handlers]
