"""The mail worker killed (SIGKILL) in the middle of sending: every mail arrives exactly once.

Real `chonai scheduler` processes (which run the mail worker) send through SMTP_URL to a sink run
by this test. The sink holds its "250 OK" for the 4th mail; the test kills the worker while it
waits for that reply, then starts a new worker. The dead worker's claim expires
(CHONAI_NOTIFY_CLAIM_TIMEOUT=2) and the new one sends that mail again with the same Message-ID;
the sink accepted it only once, so each of the 10 mails was accepted exactly once.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.members.models import Role
from core.notify.models import Delivery, DeliveryState, Kind, MemberSettings
from core.notify.service import members, notify
from tests.factories import new_member, session_at
from tests.faults.conftest import server_env
from tests.faults.smtp_sink import SmtpSink
from tests.servers import prepare_database

pytestmark = [pytest.mark.slow]
MAILS = 10


async def _seed(url: str) -> None:
    async with session_at(url) as s:
        people = [new_member(f"r{i}@example.jp", f"受信者{i}", Role.OPERATOR) for i in range(MAILS)]
        s.add_all(people)
        await s.flush()
        # No quiet hours: the test must not depend on the time of day in Tokyo.
        s.add_all(MemberSettings(member_id=p.id, quiet_start=None, quiet_end=None) for p in people)
        await notify(
            s, Kind.SIGNUP_PENDING, members([p.id for p in people]), event_key="signup:1", title="新しい登録申請"
        )
        await s.commit()


async def _states(url: str) -> dict[str, int]:
    async with session_at(url) as s:
        rows = (await s.execute(select(Delivery.state, func.count()).group_by(Delivery.state))).all()
        return {state.value: n for state, n in rows}


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "web.cli", "scheduler", "--tick", "0.2", "--lease-ttl", "2"],
            env={**os.environ, **env, "LOG_LEVEL": "INFO"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_worker_killed_mid_send_every_mail_exactly_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'mail.db'}"
    sink = SmtpSink(hold_at=4).start()
    env = server_env(
        tmp_path, url, redis_url=None, SMTP_URL=f"smtp://127.0.0.1:{sink.port}", CHONAI_NOTIFY_CLAIM_TIMEOUT="2"
    )
    log = tmp_path / "workers.log"
    try:
        prepare_database(env, demo=False)
        asyncio.run(_seed(url))
        first = _worker(env, log)
        try:
            assert sink.holding.wait(60), log.read_text()[-3000:]
            assert len(sink.accepted) == 3  # the 4th is mid-send: DATA complete, no "250" yet
            first.kill()  # SIGKILL while it waits for the server's reply
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        sink.release.set()
        # The dead worker had claimed its whole batch: the held mail and the six after it wait for its claim to expire.
        assert asyncio.run(_states(url)) == {"sending": MAILS - 3, "sent": 3}
        second = _worker(env, log)
        try:
            _wait(lambda: len(sink.accepted) >= MAILS, 60, "every mail")
            _wait(lambda: asyncio.run(_states(url)) == {"sent": MAILS}, 30, "every delivery marked sent")
        finally:
            second.terminate()
            try:
                second.wait(10)
            except subprocess.TimeoutExpired:
                second.kill()
                second.wait(5)
    finally:
        sink.stop()
    held = sink.received[3]
    assert sink.received.count(held) == 2  # sent twice over the wire (the first one cut off)…
    assert sink.accepted.count(held) == 1  # …accepted once
    assert len(sink.accepted) == MAILS and len(set(sink.accepted)) == MAILS  # every mail exactly once
    assert DeliveryState.SENT.value == "sent"
    assert "Traceback" not in log.read_text()
