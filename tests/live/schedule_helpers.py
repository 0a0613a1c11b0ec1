"""Helpers for schedule tests: a recording bus, quick members, programs at fixed times."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from core.events import InProcessBus
from core.members.models import Member, Role
from core.sections import Section, SectionKind
from core.timefmt import JST
from live.events import BroadcastStateChanged
from live.models import Program
from tests.factories import new_member

NOW = dt.datetime(2026, 11, 22, 0, 0, tzinfo=dt.UTC)  # Sunday 09:00 JST; Monday 11/23 is 勤労感謝の日


def jst(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=JST).astimezone(dt.UTC)  # type: ignore[misc]


class RecordingBus(InProcessBus):
    """Delivers like the in-process bus and remembers every publish."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[tuple[str, BroadcastStateChanged]] = []

    async def publish(self, channel: str, data: bytes) -> None:
        self.published.append((channel, msgspec.json.decode(data, type=BroadcastStateChanged)))
        await super().publish(channel, data)

    def states(self, channel: str = "schedule") -> list[tuple[int, str]]:
        return [(e.broadcast_id, e.state) for c, e in self.published if c == channel]


async def make_people(db: Any) -> dict[str, Member]:
    people = {}
    for key, role in (("anna", Role.HOST), ("ben", Role.MEMBER), ("cho", Role.MEMBER), ("mod", Role.MODERATOR)):
        m = new_member(f"{key}@example.jp", f"{key}さん", role)
        db.add(m)
        people[key] = m
    db.add(Section(name="テスト課", kind=SectionKind.WORK))
    await db.commit()
    return people


async def add_exception(db: Any, bus: Any, program: Program, **form: str) -> Any:
    """An exception to `program` as the operator's form posts it (by no one in particular), at NOW."""
    from live.schedule import exceptions
    from live.schedule.inputs import ExceptionInput

    return await exceptions.add_exception(db, bus, program, ExceptionInput.from_form(form), None, NOW)


def program(**kw: Any) -> Program:
    base: dict[str, Any] = {
        "title": "金曜オリエンテーション",
        "duration_minutes": 60,
        "lobby_minutes": 10,
        "rrule": "FREQ=WEEKLY;BYDAY=FR",
        "dtstart": jst(2026, 11, 27, 21, 0),
        "timezone": "Asia/Tokyo",
        "skip_holidays": False,
        "active": True,
        "description": "",
        "stream_url": "",
        "rotation": "",
    }
    base.update(kw)
    return Program(**base)
