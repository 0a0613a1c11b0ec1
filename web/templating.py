"""Jinja environment shared by every domain's templates (autoescaped, Japanese helpers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from core.members.models import Member, Role
from core.members.prefectures import PREFECTURES
from core.timefmt import format_jst

ROOT = Path(__file__).resolve().parent.parent
# Each domain keeps its own templates beside its code; `web` only assembles them.
TEMPLATE_DIRS = [ROOT / pkg / "templates" for pkg in ("web", "live", "archive", "faq")]


@pass_context
def _me(context: Any) -> Member | None:
    request = context.get("request")
    user = request.scope.get("user") if request is not None else None
    return user if isinstance(user, Member) else None


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader([str(d) for d in TEMPLATE_DIRS if d.exists()]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with the code: no stat() of every file on every render
    )
    env.globals.update(me=_me, PREFECTURES=PREFECTURES, Role=Role)
    env.filters["jst"] = format_jst
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(build_environment()))
