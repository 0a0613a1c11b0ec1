"""Mails members receive about their account."""

from __future__ import annotations

from core.mail import send_mail
from core.members.models import Member, Status
from core.settings import Settings


async def notify_review(settings: Settings, member: Member) -> None:
    if member.status is Status.APPROVED:
        subject = "【Chonai】登録が承認されました"
        body = (
            f"{member.name} 様\n\nChonai への登録が承認されました。\n{settings.base_url}/login からログインできます。\n"
        )
    else:
        subject = "【Chonai】登録申請について"
        body = (
            f"{member.name} 様\n\n申し訳ありませんが、今回の登録申請は承認されませんでした。\n\n"
            f"理由: {member.review_reason}\n\nご不明な点は運営までお問い合わせください。\n"
        )
    await send_mail(settings, member.email, subject, body)
