"""Fixtures shared by the room tests."""

from __future__ import annotations

import pytest

from core.db import Database
from core.events import InProcessBus
from live.rooms.hub import Hub


@pytest.fixture
async def hub(settings):
    database = Database(settings.database_url)
    hub = Hub(database, InProcessBus(), window=0.01)
    yield hub
    await hub.close()
    await database.dispose()
