"""Every table of every domain, gathered for Alembic (migrations sit above the domains)."""

from core.db import Base

metadata = Base.metadata
