"""The handshake's session cache: trusted while sockets are open and `ttl` after, never past what changed."""

from __future__ import annotations

import time
from dataclasses import dataclass

from core.credentials import CredentialCache


@dataclass
class FakeMember:
    id: int
    is_active: bool = True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


FAR = time.time() + 3600


def cache(ttl: float = 30.0, max_entries: int = 100) -> tuple[CredentialCache, Clock]:
    clock = Clock()
    return CredentialCache(ttl=ttl, max_entries=max_entries, clock=clock), clock


def test_an_entry_lives_ttl_seconds_and_as_long_as_its_sockets_are_open() -> None:
    c, clock = cache()
    alice = FakeMember(1)
    c.put("session:a", alice, FAR, c.epoch)
    assert c.get("session:a") is alice
    c.opened("session:a")
    clock.now += 3600  # an hour-long broadcast: the open socket keeps it trusted
    assert c.get("session:a") is alice
    c.closed("session:a")
    clock.now += 29.9
    assert c.get("session:a") is alice  # a quick reconnect after the drop
    clock.now += 0.2
    assert c.get("session:a") is None
    assert c.entries == {} and c.by_member == {}


def test_never_past_the_sessions_expiry_and_only_approved_members() -> None:
    c, _ = cache()
    c.put("session:old", FakeMember(1), time.time() - 1, c.epoch)
    assert c.get("session:old") is None
    c.put("session:pending", FakeMember(2, is_active=False), FAR, c.epoch)
    assert c.get("session:pending") is None and "session:pending" not in c.entries


def test_forgetting_a_member_drops_every_session_of_theirs_even_with_sockets_open() -> None:
    c, _ = cache()
    alice, bob = FakeMember(1), FakeMember(2)
    for credential, who in [("session:a1", alice), ("session:a2", alice), ("session:b", bob)]:
        c.put(credential, who, FAR, c.epoch)
        c.opened(credential)
    c.forget_member(1)
    assert c.get("session:a1") is None and c.get("session:a2") is None
    assert c.get("session:b") is bob
    c.clear()  # the bus reconnected: anything may have been missed
    assert c.get("session:b") is None


def test_a_read_that_started_before_an_invalidation_is_not_stored() -> None:
    c, _ = cache()
    epoch = c.epoch  # the handshake starts reading the database ...
    c.forget_member(1)  # ... the member is demoted meanwhile ...
    c.put("session:a", FakeMember(1), FAR, epoch)  # ... and the (maybe old) answer arrives
    assert c.get("session:a") is None


def test_bounded_and_purged() -> None:
    c, clock = cache(ttl=5, max_entries=3)
    for i in range(5):
        c.put(f"session:{i}", FakeMember(i), FAR, c.epoch)
    assert list(c.entries) == ["session:2", "session:3", "session:4"]
    assert set(c.by_member) == {2, 3, 4}
    c.opened("session:4")
    clock.now += 6
    c.purge()
    assert list(c.entries) == ["session:4"] and set(c.by_member) == {4}
    c.closed("session:4")
    clock.now += 6
    c.purge()
    assert c.entries == {} and c.by_member == {}
