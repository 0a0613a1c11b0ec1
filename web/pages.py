"""The shell's own pages: home and the Japanese error page preview."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Redirect, Template

from core.access import current_member
from core.deps import DbSession
from live.schedule.service import lineup


@get("/", include_in_schema=False)
async def home(request: Request[Any, Any, Any], db: DbSession) -> Template | Redirect:
    member = current_member(request)
    if member is None:
        return Template("landing.html")
    if not member.is_active:  # pending, rejected or suspended: their status, not the sign-up pitch
        return Redirect("/pending", status_code=303)
    return Template("home.html", context={"member": member, "lineup": await lineup(db)})


@get("/favicon.ico", include_in_schema=False)
async def favicon() -> Redirect:
    return Redirect("/static/favicon.svg", status_code=301)
