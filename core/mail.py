"""Outgoing mail: SMTP when SMTP_URL is set, otherwise .eml files in var/outbox/."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from core.settings import Settings

log = logging.getLogger("chonai.mail")


def build_message(settings: Settings, to: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="chonai.example.jp")
    msg.set_content(body, charset="utf-8")
    return msg


def _write_outbox(outbox: Path, msg: EmailMessage) -> Path:
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / f"{msg['Date'].replace(' ', '_').replace(',', '').replace(':', '')}-{uuid.uuid4().hex[:8]}.eml"
    path.write_bytes(bytes(msg))
    return path


def _send_smtp(url: str, msg: EmailMessage) -> None:
    parts = urlsplit(url)
    cls = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
    with cls(parts.hostname or "localhost", parts.port or (465 if parts.scheme == "smtps" else 25), timeout=15) as smtp:
        if parts.scheme == "smtp" and parts.port == 587:
            smtp.starttls()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(msg)


def _write_named(outbox: Path, name: str, msg: EmailMessage) -> Path:
    """Write atomically under a fixed name: writing the same message again replaces it (exactly one file)."""
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / name
    tmp = outbox / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.write_bytes(bytes(msg))
    tmp.replace(path)
    return path


async def deliver(settings: Settings, msg: EmailMessage, outbox_name: str) -> None:
    """Send a prepared message through SMTP_URL, or write it to var/outbox/ as `outbox_name`; raises on failure."""
    if settings.smtp_url:
        await asyncio.to_thread(_send_smtp, settings.smtp_url, msg)
    else:
        await asyncio.to_thread(_write_named, settings.outbox_dir, outbox_name, msg)


async def send_mail(settings: Settings, to: str, subject: str, body: str) -> None:
    msg = build_message(settings, to, subject, body)
    if settings.smtp_url:
        await asyncio.to_thread(_send_smtp, settings.smtp_url, msg)
        log.info("mail sent", extra={"to": to, "subject": subject})
    else:
        path = await asyncio.to_thread(_write_outbox, settings.outbox_dir, msg)
        log.info("mail written to outbox", extra={"to": to, "path": str(path)})
