"""Names handlers use to ask Litestar for the request's database session and the settings."""

from __future__ import annotations

from typing import TypeAlias

from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import EventBus
from core.settings import Settings

DbSession: TypeAlias = NamedDependency[AsyncSession]
AppSettings: TypeAlias = NamedDependency[Settings]
Bus: TypeAlias = NamedDependency[EventBus]
