"""Notification mails: Japanese, text and HTML parts, one-click unsubscribe (RFC 8058) per member and kind."""

from __future__ import annotations

import hashlib
import hmac
from email.message import EmailMessage
from email.utils import formatdate
from html import escape
from urllib.parse import urlencode

from core.settings import Settings

#: The kind an unsubscribe link turns off; "all" (digest mails) turns every mail off.
ALL = "all"


def unsubscribe_signature(secret_key: str, member_id: int, kind: str) -> str:
    mac = hmac.new(secret_key.encode(), f"unsubscribe:{member_id}:{kind}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def check_unsubscribe(secret_key: str, member_id: int, kind: str, signature: str) -> bool:
    return hmac.compare_digest(unsubscribe_signature(secret_key, member_id, kind), signature or "")


def unsubscribe_url(settings: Settings, member_id: int, kind: str) -> str:
    query = urlencode({"m": member_id, "k": kind, "s": unsubscribe_signature(settings.secret_key, member_id, kind)})
    return f"{settings.base_url}/notifications/unsubscribe?{query}"


def message_id(settings: Settings, delivery_id: int) -> str:
    """Stable per delivery: a resend after a crash carries the same Message-ID, so mailboxes keep one copy."""
    tag = hmac.new(settings.secret_key.encode(), f"delivery:{delivery_id}".encode(), hashlib.sha256).hexdigest()[:12]
    return f"<chonai.notify.{delivery_id}.{tag}@chonai.example.jp>"


def absolute(settings: Settings, url: str) -> str:
    return url if not url or url.startswith(("http://", "https://")) else f"{settings.base_url}{url}"


def build(
    settings: Settings,
    *,
    to: str,
    name: str,
    subject: str,
    lines: list[str],
    url: str,
    member_id: int,
    kind: str,
    delivery_id: int,
) -> EmailMessage:
    """One notification mail; `lines` are plain text paragraphs (URLs in them become links in HTML)."""
    unsubscribe = unsubscribe_url(settings, member_id, kind)
    link = absolute(settings, url)
    what = "すべての通知メール" if kind == ALL else "この種類の通知メール"
    lines = [_absolute_paths(settings, line) for line in lines]
    footer = [
        "――",
        f"{what}の配信停止: {unsubscribe}",
        f"通知の設定: {settings.base_url}/settings/notifications",
    ]
    text = "\n\n".join([f"{name} 様", *lines, *([f"詳しくはこちら: {link}"] if link else []), *footer])
    html_lines = "".join(f"<p>{_linkify(line)}</p>" for line in lines)
    html = (
        '<!doctype html><html lang="ja"><body>'
        f"<p>{escape(name)} 様</p>{html_lines}"
        + (f'<p><a href="{escape(link)}">詳しくはこちら</a></p>' if link else "")
        + f'<hr><p><a href="{escape(unsubscribe)}">{what}の配信停止</a> ・ '
        f'<a href="{escape(settings.base_url)}/settings/notifications">通知の設定</a></p></body></html>'
    )
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id(settings, delivery_id)
    msg["List-Unsubscribe"] = f"<{unsubscribe}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text + "\n", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


def _absolute_paths(settings: Settings, line: str) -> str:
    """Site paths in a notification's text ("PDF: /faq/…") become full URLs for the mail."""
    return "\n".join(
        " ".join(absolute(settings, w) if w.startswith("/") and len(w) > 1 else w for w in part.split(" "))
        for part in line.split("\n")
    )


def _linkify(line: str) -> str:
    parts = []
    for part in line.split("\n"):
        words = [
            f'<a href="{escape(w)}">{escape(w)}</a>' if w.startswith(("http://", "https://")) else escape(w)
            for w in part.split(" ")
        ]
        parts.append(" ".join(words))
    return "<br>".join(parts)
