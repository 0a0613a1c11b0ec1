"""Login throttling that slows guessing without letting anyone lock out a colleague or an office.

Each attempt is charged, before the password is checked, to the keys it belongs to:

* a browser that already logged in to this address (a signed device cookie): `device:<nonce>`
  only. Nobody else's failures touch it, so a colleague or an attacker elsewhere can never
  lock the owner's own browser out.
* any other browser: `pair:<address>|<ip>` (5 free failures), `addr:<address>` (20 free,
  guessing one address from many IPs) and `ip:<ip>` (100 free, one IP trying many addresses).

Past its free failures a key must wait 1 s, then 2, 4, 8 … (at most 15 minutes for device and
pair keys, one minute for the shared address and IP keys). The charge is one conditional
UPDATE (`… WHERE next_at <= now`), so parallel attempts cannot all pass the check: exactly the
free ones get their password checked. A success refunds its charge and clears its own key;
failures are forgotten after an hour without any.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import case, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.members.models import LoginThrottle

WINDOW = dt.timedelta(hours=1)
# "May try now" for any clock reading: parallel attempts read the clock before they reach the
# database, so a key opened at one attempt's `now` would refuse another that read it earlier.
OPEN = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
DEVICE_COOKIE = "chonai_device"
DEVICE_LIFETIME = dt.timedelta(days=365)


@dataclass(frozen=True, slots=True)
class Rule:
    free: int  # failures before any wait
    cap: float  # longest wait, in seconds
    base: float = 1.0  # the first wait; each further failure doubles it


DEVICE = Rule(free=5, cap=900)
PAIR = Rule(free=5, cap=900)
ADDRESS = Rule(free=20, cap=60)
IP = Rule(free=100, cap=60)


def wait_after(failures: int, rule: Rule) -> float:
    """Seconds to wait after `failures` consecutive failures: 0 while free, then 1, 2, 4 … up to the cap."""
    if failures < rule.free:
        return 0.0
    return float(min(rule.cap, rule.base * 2 ** min(failures - rule.free, 30)))


def keys_for(email: str, ip: str, device: str | None) -> list[tuple[str, Rule]]:
    if device:
        return [(f"device:{device}", DEVICE)]
    return [(f"pair:{email}|{ip}"[:320], PAIR), (f"addr:{email}"[:320], ADDRESS), (f"ip:{ip}"[:320], IP)]


def device_cookie(secret: str, email: str) -> str:
    """A new cookie value proving that this browser logged in to `email`."""
    nonce = secrets.token_urlsafe(16)
    return f"{nonce}.{_sign(secret, nonce, email)}"


def trusted_device(secret: str, email: str, cookie: str | None) -> str | None:
    """The device nonce, if the cookie was issued to this browser for this very address."""
    nonce, _, sig = (cookie or "").partition(".")
    if not nonce or not sig or len(nonce) > 64:
        return None
    return nonce if hmac.compare_digest(sig, _sign(secret, nonce, email)) else None


def _sign(secret: str, nonce: str, email: str) -> str:
    return hmac.new(secret.encode(), f"device|{nonce}|{email}".encode(), hashlib.sha256).hexdigest()[:32]


async def charge(db: AsyncSession, keys: list[tuple[str, Rule]]) -> float | None:
    """Charge one failure to every key, atomically per key; seconds to wait if any key refuses.

    A refusal refunds the keys already charged, so a refused attempt costs nothing.
    """
    now = utcnow()
    charged: list[str] = []
    for key, rule in keys:
        wait = await _charge_one(db, key, rule, now)
        await db.commit()  # row locks last one statement: parallel attempts queue briefly, never for long
        if wait is not None:
            for done in charged:
                await _refund(db, done)
            await db.commit()
            return wait
        charged.append(key)
    return None


async def succeeded(db: AsyncSession, keys: list[tuple[str, Rule]]) -> None:
    """The password was right: the charge is refunded and the browser's own key starts afresh."""
    for index, (key, _) in enumerate(keys):
        if index == 0:  # the device key, or the address+IP pair
            await db.execute(update(LoginThrottle).where(LoginThrottle.key == key).values(failures=0, next_at=OPEN))
        else:
            await _refund(db, key)
    await db.commit()


async def _charge_one(db: AsyncSession, key: str, rule: Rule, now: dt.datetime) -> float | None:
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    await db.execute(
        insert(LoginThrottle).values(key=key, failures=0, next_at=OPEN, last_at=now).on_conflict_do_nothing()
    )
    # Failures are forgotten after an hour without any.
    await db.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key, LoginThrottle.last_at < now - WINDOW, LoginThrottle.next_at <= now)
        .values(failures=0)
    )
    await db.commit()
    # One statement decides: only an attempt whose key is not waiting gets through, and it
    # sets the key's next allowed time as if it failed (a success clears it afterwards).
    steps = {n: now + dt.timedelta(seconds=wait_after(n, rule)) for n in range(rule.free, rule.free + 12)}
    next_at = case(steps, value=LoginThrottle.failures + 1, else_=now + dt.timedelta(seconds=rule.cap))
    result = await db.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key, LoginThrottle.next_at <= now)
        .values(
            failures=LoginThrottle.failures + 1,
            last_at=now,
            # A free failure leaves next_at alone: a parallel attempt that read the clock a
            # moment earlier must not be refused by this one.
            next_at=case((LoginThrottle.failures + 1 < rule.free, LoginThrottle.next_at), else_=next_at),
        )
        .returning(LoginThrottle.failures)
        .execution_options(synchronize_session=False)
    )
    if result.scalar_one_or_none() is not None:
        return None
    row = await db.get(LoginThrottle, key, populate_existing=True)
    wait = (row.next_at - now).total_seconds() if row is not None else 1.0
    return max(1.0, float(round(wait + 0.49)))


async def _refund(db: AsyncSession, key: str) -> None:
    await db.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key, LoginThrottle.failures > 0)
        .values(failures=LoginThrottle.failures - 1)
        .execution_options(synchronize_session=False)
    )
