"""Names handlers use to ask Litestar for the request's database session, the settings, the bus and the
approved member making the request (`me`, refused as `core.access.active_member` refuses)."""

from __future__ import annotations

from typing import TypeAlias

from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import EventBus
from core.members.models import Member
from core.settings import Settings

DbSession: TypeAlias = NamedDependency[AsyncSession]
AppSettings: TypeAlias = NamedDependency[Settings]
Bus: TypeAlias = NamedDependency[EventBus]
Me: TypeAlias = NamedDependency[Member]
