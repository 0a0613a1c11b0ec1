"""Every table of every domain, gathered for Alembic (migrations sit above the domains)."""

from archive import models as archive_models
from core import sections, site_settings
from core.db import Base
from core.members import models as member_models
from core.notify import models as notify_models
from core.search import models as search_models
from core.sections import models as section_models
from faq import models as faq_models
from live import models as live_models
from live.moderation import models as moderation_models
from live.rooms import models as room_models

#: Importing these registers their tables on Base.metadata (listed so the imports are used).
MODEL_MODULES = (
    archive_models,
    member_models,
    search_models,
    notify_models,
    sections,
    section_models,
    site_settings,
    faq_models,
    live_models,
    moderation_models,
    room_models,
)
metadata = Base.metadata
