"""The mail worker: claims each delivery once across processes, sends it, marks it sent; retries with backoff.

Claim: `UPDATE … SET state='sending', claimed_by=me WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`
(PostgreSQL; SQLite serialises writers, so the same conditional UPDATE is enough). After the
SMTP server accepts a mail the row becomes `sent`, only if this worker still holds it. A
worker killed in between leaves the row `sending`; once its claim is older than the claim
timeout (longer than any SMTP exchange) another worker sends it again with the same
Message-ID. A mail whose SMTP exchange was cut before the server's "250 OK" was never
accepted, so it is sent exactly once; see README "Notifications" for the remaining window.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import uuid
from email.message import EmailMessage

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database, utcnow
from core.loops import repeat, stop_running
from core.mail import deliver
from core.members.models import Member, Status
from core.notify import inbox, mail, prefs
from core.notify.models import Delivery, DeliveryState, Kind, MemberSettings, Notification
from core.settings import Settings, seconds_variable

log = logging.getLogger("chonai.notify.worker")

S = DeliveryState
MAX_ATTEMPTS = 12
DIGEST_AT = dt.time(7, 30)
PURGE_EVERY = dt.timedelta(hours=1)


def backoff(attempts: int) -> dt.timedelta:
    """30 s, 1 min, 2 min … at most 1 hour between attempts."""
    return dt.timedelta(seconds=min(30 * 2 ** max(0, attempts - 1), 3600))


def claim_timeout() -> float:
    raw = os.environ.get("CHONAI_NOTIFY_CLAIM_TIMEOUT", "")
    return seconds_variable("CHONAI_NOTIFY_CLAIM_TIMEOUT", raw, 120.0, 1, 86400)


class MailWorker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        interval: float = 1.0,
        batch: int = 20,
        timeout: float | None = None,
        holder: str | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.interval = interval
        self.batch = batch
        self.timeout = dt.timedelta(seconds=timeout if timeout is not None else claim_timeout())
        self.holder = holder or f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._purged_at: dt.datetime | None = None
        self._stop = asyncio.Event()

    async def step(self, now: dt.datetime | None = None) -> int:
        """One round: reclaim dead workers' mails, bundle digests, claim and send a batch; returns mails sent."""
        now = now or utcnow()
        async with self.db.session() as db:
            await db.execute(
                update(Delivery)
                .where(Delivery.state == S.SENDING, Delivery.claimed_at < now - self.timeout)
                .values(state=S.PENDING, claimed_by=None)
            )
            await db.commit()
            await self._digests(db, now)
            ids = await self._claim(db, now)
        sent = 0
        for delivery_id in ids:
            sent += await self._process(delivery_id, now)
        if self._purged_at is None or now - self._purged_at >= PURGE_EVERY:
            async with self.db.session() as db:
                await inbox.purge(db, now)
            self._purged_at = now
        return sent

    async def _claim(self, db: AsyncSession, now: dt.datetime) -> list[int]:
        due = (
            select(Delivery.id)
            .where(Delivery.state == S.PENDING, Delivery.next_attempt_at <= now)
            .order_by(Delivery.id)
            .limit(self.batch)
        )
        if db.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        rows = await db.execute(
            update(Delivery)
            .where(Delivery.id.in_(due.scalar_subquery()), Delivery.state == S.PENDING)
            .values(state=S.SENDING, claimed_by=self.holder, claimed_at=now)
            .returning(Delivery.id)
        )
        ids = sorted(rows.scalars())
        await db.commit()
        return ids

    async def _release(self, db: AsyncSession, delivery_id: int, **values: object) -> None:
        """Leave the claim with `values` (only if this worker still holds it)."""
        await db.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.claimed_by == self.holder, Delivery.state == S.SENDING)
            .values(claimed_by=None, **values)
        )
        await db.commit()

    async def _process(self, delivery_id: int, now: dt.datetime) -> int:
        async with self.db.session() as db:
            d = await db.get_one(Delivery, delivery_id)
            member = await db.get(Member, d.member_id)
            if member is None or member.status is not Status.APPROVED:
                await self._release(db, d.id, state=S.DROPPED, last_error="member not active")
                return 0
            p = await prefs.load(db, member.id)
            if d.kind != "digest":
                if not p.mail(Kind(d.kind)):
                    await self._release(db, d.id, state=S.DROPPED, last_error="mail turned off")
                    return 0
                if p.digest:
                    await self._release(db, d.id, state=S.DIGEST)
                    return 0
            held = prefs.quiet_until(p.quiet, now)
            if held is not None:  # quiet hours: held until they end, never dropped
                await self._release(db, d.id, state=S.PENDING, next_attempt_at=held)
                return 0
            msg = await self._message(db, d, member)
            await db.commit()  # no transaction stays open during the SMTP exchange
            try:
                await mail_deliver(self.settings, msg, f"notify-{d.id:08d}.eml")
            except Exception as exc:
                attempts = d.attempts + 1
                state = S.FAILED if attempts >= MAX_ATTEMPTS else S.PENDING
                log.warning("mail %s failed (attempt %s): %r", d.id, attempts, exc)
                await self._release(
                    db,
                    d.id,
                    state=state,
                    attempts=attempts,
                    next_attempt_at=now + backoff(attempts),
                    last_error=repr(exc)[:300],
                )
                return 0
            await self._release(db, d.id, state=S.SENT, sent_at=utcnow(), attempts=d.attempts + 1)
            return 1

    async def _message(self, db: AsyncSession, d: Delivery, member: Member) -> EmailMessage:
        if d.kind == "digest":
            subject, lines, url, kind = d.subject, d.body.split("\n\n"), "/notifications", mail.ALL
        else:
            n = await db.get(Notification, d.notification_id) if d.notification_id else None
            title = n.title if n else "お知らせ"
            subject = f"【Chonai】{title}"
            lines = [title, *([n.body] if n and n.body else [])]
            url, kind = (n.url if n else "/notifications"), d.kind
        return mail.build(
            self.settings,
            to=member.email,
            name=member.name,
            subject=subject,
            lines=lines,
            url=url,
            member_id=member.id,
            kind=kind,
            delivery_id=d.id,
        )

    async def _digests(self, db: AsyncSession, now: dt.datetime) -> None:
        """After 07:30 JST, bundle each member's held notifications from before then into one mail."""
        local = now.astimezone(prefs.JST)
        if local.time() < DIGEST_AT:
            return
        today = local.date().isoformat()
        cutoff = dt.datetime.combine(local.date(), DIGEST_AT, prefs.JST).astimezone(dt.UTC)
        waiting = select(Delivery.member_id).where(Delivery.state == S.DIGEST, Delivery.created_at < cutoff).distinct()
        for member_id in list((await db.execute(waiting)).scalars()):
            won = await db.execute(
                update(MemberSettings)
                .where(
                    MemberSettings.member_id == member_id,
                    or_(MemberSettings.digest_sent_on.is_(None), MemberSettings.digest_sent_on != today),
                )
                .values(digest_sent_on=today)
            )
            rows = (
                await db.execute(
                    select(Delivery.id, Notification.title, Notification.url)
                    .join(Notification, Notification.id == Delivery.notification_id, isouter=True)
                    .where(Delivery.member_id == member_id, Delivery.state == S.DIGEST, Delivery.created_at < cutoff)
                    .order_by(Delivery.id)
                )
            ).all()
            if not getattr(won, "rowcount", 0) and await db.get(MemberSettings, member_id) is not None:
                await db.rollback()  # another worker sent today's digest
                continue
            if not rows:
                await db.rollback()
                continue
            body = "\n\n".join(
                f"・{t or 'お知らせ'}\n{mail.absolute(self.settings, u or '/notifications')}" for _, t, u in rows
            )
            digest = Delivery(
                member_id=member_id,
                kind="digest",
                state=S.PENDING,
                next_attempt_at=now,
                subject=f"【Chonai】お知らせのまとめ（{len(rows)}件）",
                body=f"最近のお知らせ {len(rows)} 件です。\n\n{body}",
            )
            db.add(digest)
            await db.flush()
            await db.execute(
                update(Delivery)
                .where(Delivery.id.in_([r[0] for r in rows]))
                .values(state=S.DIGESTED, digest_id=digest.id)
            )
            await db.commit()

    async def run(self) -> None:
        log.info("mail worker %s started", self.holder)
        await repeat(self.step, self._stop, self.interval, log, "mail worker step")
        log.info("mail worker %s stopped", self.holder)

    def stop(self) -> None:
        self._stop.set()


mail_deliver = deliver  # module attribute so tests can make SMTP fail


async def start(db: Database, settings: Settings, interval: float = 1.0) -> tuple[MailWorker, asyncio.Task[None]]:
    worker = MailWorker(db, settings, interval=interval)
    return worker, asyncio.create_task(worker.run(), name="chonai-mail-worker")


async def stop(running: tuple[MailWorker, asyncio.Task[None]] | None) -> None:
    await stop_running(running, 10)
