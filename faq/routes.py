"""Route handlers of the faq domain, pages (faq/pages.py) and JSON API (faq/api.py); `web.app` mounts them.

A domain never imports `web`. Inputs are in faq/inputs.py, shared by the forms and the API.
"""

from __future__ import annotations

from typing import Any

from faq import attendance_routes
from faq.api import FaqApi
from faq.pages import FaqPages
from faq.ws import board_socket

route_handlers: list[Any] = [FaqPages, FaqApi, board_socket, *attendance_routes.route_handlers]
