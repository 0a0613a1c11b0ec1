"""The one place that tells people a 課 was founded (mail today; the notifications engine at merge)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core.mail import send_mail
from core.members.models import Member
from core.sections.models import Section
from core.settings import Settings

log = logging.getLogger("chonai.sections")


async def section_founded(settings: Settings, section: Section, involved: Sequence[Member]) -> None:
    """Tell the founder (now 課長) and every supporter (now a member); a mail failure never undoes the 課."""
    link = f"{settings.base_url}/sections/{section.id}"
    for person in involved:
        role = "課長" if person.id == section.leader_id else "メンバー"
        body = (
            f"{person.name} 様\n\n"
            f"設立提案「{section.name}」に必要な賛同が集まり、課が設立されました。\n"
            f"あなたはこの課の{role}です。\n\n課のページ: {link}\n"
        )
        try:
            await send_mail(settings, person.email, f"【Chonai】「{section.name}」が設立されました", body)
        except Exception:
            log.warning("founding notice not sent", extra={"section": section.id, "member": person.id}, exc_info=True)
