"""Per-member notification settings: each kind on/off for app and mail, lead time, digest, quiet hours."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Invalid
from core.notify.models import DEFAULT_MAIL_OFF, Kind, KindPref, MemberSettings

JST = ZoneInfo("Asia/Tokyo")
DEFAULT_LEAD = 10
DEFAULT_QUIET = ("22:00", "07:00")
MAX_LEAD = 24 * 60


@dataclass
class Prefs:
    kinds: dict[Kind, tuple[bool, bool]] = field(default_factory=dict)  # kind -> (app, mail)
    lead_minutes: int = DEFAULT_LEAD
    digest: bool = False
    quiet: tuple[str, str] | None = DEFAULT_QUIET

    def app(self, kind: Kind) -> bool:
        return self.kinds[kind][0]

    def mail(self, kind: Kind) -> bool:
        return self.kinds[kind][1]


def defaults() -> dict[Kind, tuple[bool, bool]]:
    return {k: (True, k not in DEFAULT_MAIL_OFF) for k in Kind}


async def load(db: AsyncSession, member_id: int) -> Prefs:
    kinds = defaults()
    for pref in (await db.execute(select(KindPref).where(KindPref.member_id == member_id))).scalars():
        kinds[pref.kind] = (pref.app, pref.mail)
    row = await db.get(MemberSettings, member_id)
    if row is None:
        return Prefs(kinds=kinds)
    quiet = (row.quiet_start, row.quiet_end) if row.quiet_start and row.quiet_end else None
    return Prefs(kinds=kinds, lead_minutes=row.lead_minutes, digest=row.digest, quiet=quiet)


def check_lead(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LEAD:
        raise Invalid(
            "リマインダーは 0〜1440 分前で指定してください（0 はリマインダーなし）。",
            fields={"lead_minutes": "0〜1440 の整数で入力してください。"},
        )
    return value


async def save(db: AsyncSession, member_id: int, prefs: Prefs) -> Prefs:
    """Store what differs from the defaults; commits."""
    await db.execute(delete(KindPref).where(KindPref.member_id == member_id))
    base = defaults()
    for kind, (app, mail) in prefs.kinds.items():
        if (app, mail) != base[kind]:
            db.add(KindPref(member_id=member_id, kind=kind, app=app, mail=mail))
    row = await db.get(MemberSettings, member_id)
    if row is None:
        row = MemberSettings(member_id=member_id)
        db.add(row)
    row.lead_minutes = check_lead(prefs.lead_minutes)
    row.digest = prefs.digest
    row.quiet_start, row.quiet_end = prefs.quiet if prefs.quiet else (None, None)
    await db.commit()
    return await load(db, member_id)


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def quiet_until(quiet: tuple[str, str] | None, now: dt.datetime) -> dt.datetime | None:
    """If `now` falls in the quiet hours (Asia/Tokyo), when they end (UTC); otherwise None."""
    if not quiet or quiet[0] == quiet[1]:
        return None
    start, end = _minutes(quiet[0]), _minutes(quiet[1])
    local = now.astimezone(JST)
    minute = local.hour * 60 + local.minute
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return None
    end_local = local.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
    if end_local <= local:
        end_local += dt.timedelta(days=1)
    return end_local.astimezone(dt.UTC)
