"""Every table of every domain, gathered for Alembic (migrations sit above the domains)."""

# Each import registers its tables on Base.metadata.
import archive.models  # noqa: F401
import core.members.models  # noqa: F401
import core.sections  # noqa: F401
import live.models  # noqa: F401
import live.moderation.models  # noqa: F401
import live.rooms.models  # noqa: F401
from core.db import Base

metadata = Base.metadata
