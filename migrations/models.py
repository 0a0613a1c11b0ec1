"""Every table of every domain, gathered for Alembic (migrations sit above the domains)."""

import core.members.models
import core.sections  # noqa: F401
import faq.models  # noqa: F401
import live.models  # noqa: F401
from core.db import Base

metadata = Base.metadata
