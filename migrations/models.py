"""Every table of every domain, gathered for Alembic (migrations sit above the domains)."""

# Each import registers its tables on Base.metadata.
import archive.models  # noqa: F401
import core.members.models
import core.sections  # noqa: F401
import live.models
import live.moderation.models
import live.rooms.models  # noqa: F401
from core.db import Base

metadata = Base.metadata
