"""`notify_*`: what domains call inside their own transaction, so a notification commits with its event.

Recipients are a SELECT of member ids; one INSERT … SELECT writes every notification and
one more every mail delivery, however many followers there are (10,000 followers are two
statements, not 10,000 round trips). Suspended, pending and rejected members get nothing;
the unique (member_id, event_key) makes a replayed event insert nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Select, and_, false, func, literal, or_, select, true, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.members.models import Member, Role, Status
from core.notify import live
from core.notify.models import (
    DEFAULT_MAIL_OFF,
    Delivery,
    DeliveryState,
    Follow,
    Kind,
    KindPref,
    MemberSettings,
    Notification,
    Target,
)
from core.notify.prefs import DEFAULT_LEAD

MAX_TITLE = 300
MAX_BODY = 4000


def followers(targets: Iterable[tuple[Target, int | None]]) -> Select[Any]:
    """Members following any of these (target, id) pairs (None ids are skipped)."""
    pairs = [(t, i) for t, i in targets if i is not None]
    if not pairs:
        return select(Follow.member_id).where(false())
    return select(Follow.member_id).where(or_(*(and_(Follow.target == t, Follow.target_id == i) for t, i in pairs)))


def with_lead_time(recipients: Select[Any], minutes_left: int) -> Select[Any]:
    """Those recipients whose reminder lead time (default 10, 0 = none) reaches `minutes_left`."""
    lead = func.coalesce(MemberSettings.lead_minutes, DEFAULT_LEAD)
    ids = recipients.subquery()
    return (
        select(ids.c[0].label("member_id"))
        .select_from(ids)
        .outerjoin(MemberSettings, MemberSettings.member_id == ids.c[0])
        .where(lead > 0, lead >= minutes_left)
    )


def members(ids: Iterable[int]) -> Select[Any]:
    return select(Member.id.label("member_id")).where(Member.id.in_(sorted(set(ids))))


def operators() -> Select[Any]:
    return select(Member.id.label("member_id")).where(Member.role == Role.OPERATOR)


def any_of(*selects: Select[Any]) -> Any:
    """The union of several recipient SELECTs (duplicates collapse)."""
    return union(*selects) if len(selects) > 1 else selects[0]


def _insert(db: AsyncSession, table: Any) -> Any:
    dialect = db.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def notify(
    db: AsyncSession,
    kind: Kind,
    recipients: Any,
    *,
    event_key: str,
    title: str,
    body: str = "",
    url: str = "",
    exclude: Sequence[int] = (),
    now: dt.datetime | None = None,
) -> int:
    """Write the notifications (and mail deliveries) of one event; does not commit. Returns how many."""
    now = now or utcnow()
    recipient_ids = recipients.subquery()
    app_on = func.coalesce(KindPref.app, true())
    mail_on = func.coalesce(KindPref.mail, false() if kind in DEFAULT_MAIL_OFF else true())
    source = (
        select(
            Member.id,
            literal(kind.value),
            literal(event_key[:200]),
            literal(title[:MAX_TITLE]),
            literal(body[:MAX_BODY]),
            literal(url[:500]),
            app_on,
            literal(now, Notification.created_at.type),
        )
        .select_from(Member)
        .outerjoin(KindPref, and_(KindPref.member_id == Member.id, KindPref.kind == kind))
        .where(
            Member.id.in_(select(recipient_ids.c[0])),
            Member.status == Status.APPROVED,
            or_(app_on, mail_on),
            Member.id.not_in(list(exclude)) if exclude else true(),
        )
    )
    columns = ["member_id", "kind", "event_key", "title", "body", "url", "in_app", "created_at"]
    inserted = await db.execute(
        _insert(db, Notification)
        .from_select(columns, source)
        .on_conflict_do_nothing(index_elements=["member_id", "event_key"])
    )
    count = int(getattr(inserted, "rowcount", 0) or 0)
    if count:
        await _deliveries(db, kind, event_key[:200], mail_on, now)
        live.changed(db, None if count > 50 else await _member_ids(db, event_key[:200], now))
    return count


async def withdraw(db: AsyncSession, event_keys: Sequence[str]) -> int:
    """An event that no longer holds (a reminder for a moved or cancelled occurrence): drop its unsent mails."""
    if not event_keys:
        return 0
    ids = select(Notification.id).where(Notification.event_key.in_(list(event_keys)))
    result = await db.execute(
        update(Delivery)
        .where(Delivery.notification_id.in_(ids), Delivery.state.in_([DeliveryState.PENDING, DeliveryState.DIGEST]))
        .values(state=DeliveryState.DROPPED, last_error="event withdrawn")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def unsent_event_keys(db: AsyncSession, kind: Kind, now: dt.datetime) -> set[str]:
    """Event keys of `kind` from the last two days with mail not yet sent: the reminders a caller may withdraw."""
    rows = await db.execute(
        select(Notification.event_key)
        .join(Delivery, Delivery.notification_id == Notification.id)
        .where(
            Notification.kind == kind,
            Notification.created_at >= now - dt.timedelta(days=2),
            Delivery.state.in_([DeliveryState.PENDING, DeliveryState.DIGEST]),
        )
        .distinct()
    )
    return set(rows.scalars())


async def withdraw_stale(
    db: AsyncSession,
    kind: Kind,
    now: dt.datetime,
    stale: Callable[[AsyncSession, set[str]], Awaitable[list[str]]],
) -> int:
    """Reminders of `kind` with mail not yet sent: drop those that `stale` picks from their event keys."""
    keys = await unsent_event_keys(db, kind, now)
    return await withdraw(db, await stale(db, keys)) if keys else 0


async def _deliveries(db: AsyncSession, kind: Kind, event_key: str, mail_on: Any, now: dt.datetime) -> None:
    source = (
        select(
            Notification.id,
            Notification.member_id,
            literal(kind.value),
            literal(DeliveryState.PENDING.value),
            literal(now, Delivery.next_attempt_at.type),
            literal(now, Delivery.created_at.type),
            literal(0),
            literal(""),
            literal(""),
            literal(""),
        )
        .select_from(Notification)
        .outerjoin(KindPref, and_(KindPref.member_id == Notification.member_id, KindPref.kind == kind))
        .where(Notification.event_key == event_key, Notification.created_at == now, mail_on)
    )
    columns = [
        "notification_id",
        "member_id",
        "kind",
        "state",
        "next_attempt_at",
        "created_at",
        "attempts",
        "subject",
        "body",
        "last_error",
    ]
    await db.execute(
        _insert(db, Delivery).from_select(columns, source).on_conflict_do_nothing(index_elements=["notification_id"])
    )


async def _member_ids(db: AsyncSession, event_key: str, now: dt.datetime) -> list[int]:
    rows = await db.execute(
        select(Notification.member_id).where(Notification.event_key == event_key, Notification.created_at == now)
    )
    return list(rows.scalars())
