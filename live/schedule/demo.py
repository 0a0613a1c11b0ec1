"""Demo schedule: a weekday rotation, the Friday orientation, a biweekly study session, a skipped holiday."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.events import InProcessBus
from core.members.models import Member
from core.sections import Section
from core.timefmt import JST
from live.models import ExceptionKind, Program, ProgramException, ProgramGuest
from live.schedule import recurrence
from live.schedule.materialise import HORIZON, materialise_program

ROTATION = "お昼の庁内放送"
ROTATION_DAYS = [  # weekday, personality
    (0, "host@example.jp"),
    (1, "fukuoka@example.jp"),
    (2, "naha@example.jp"),
    (3, "kochi@example.jp"),
    (4, "moderator@example.jp"),
]


def _at(day: dt.date, hour: int, minute: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), JST).astimezone(dt.UTC)


def next_weekday_holiday(start: dt.date, within: int = 150) -> dt.date | None:
    for offset in range(within):
        day = start + dt.timedelta(days=offset)
        if day.weekday() < 5 and recurrence.holiday_name(day):
            return day
    return None


def _rotation(monday: dt.date, members: dict[str, Member], sections: dict[str, Section]) -> list[Program]:
    """The weekday lunchtime rotation: one weekly program per weekday."""
    return [
        Program(
            title=ROTATION,
            rotation=ROTATION,
            description="平日のお昼に、日替わりのパーソナリティが全国の自治体の「いま」をお届けします。",
            section_id=sections["動画課"].id,
            personality_id=members[email].id,
            duration_minutes=30,
            lobby_minutes=10,
            stream_url="https://www.youtube.com/@chonai-demo/live",
            rrule=f"FREQ=WEEKLY;BYDAY={recurrence.WEEKDAY_CODES[weekday]}",
            dtstart=_at(monday + dt.timedelta(days=weekday), 12, 10),
            skip_holidays=True,
        )
        for weekday, email in ROTATION_DAYS
    ]


def _orientation(monday: dt.date, members: dict[str, Member]) -> Program:
    return Program(
        title="新人オリエンテーション",
        description="はじめて参加した方向けに、コミュニティの歩き方と各課の活動を紹介します。",
        personality_id=members["operator@example.jp"].id,
        duration_minutes=60,
        lobby_minutes=15,
        stream_url="https://zoom.us/j/0000000000",
        rrule="FREQ=WEEKLY;BYDAY=FR",
        dtstart=_at(monday + dt.timedelta(days=4), 21, 0),
    )


def _study(monday: dt.date, members: dict[str, Member], sections: dict[str, Section]) -> Program:
    return Program(
        title="ワクチン接種 情報交換勉強会",
        description="予防接種の体制づくりについて、全国の自治体で質問と事例を持ち寄る隔週の勉強会です。",
        section_id=sections["ワクチン接種情報交換課"].id,
        personality_id=members["naha@example.jp"].id,
        duration_minutes=90,
        lobby_minutes=10,
        stream_url="https://www.facebook.com/groups/chonai-demo/live",
        rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=SA",
        dtstart=_at(monday + dt.timedelta(days=5), 10, 0),
        guests=[
            ProgramGuest(member_id=members["mhlw@example.jp"].id, position=0),
            ProgramGuest(name="山田 太郎（感染症疫学の研究者）", position=1),
        ],
    )


def _exceptions(
    now: dt.datetime, rotation_tuesday: Program, orientation: Program, members: dict[str, Member]
) -> list[ProgramException]:
    """One substitution in the rotation and one cancelled orientation, to show exceptions."""
    found = []
    sub_start = recurrence.next_rule_starts(rotation_tuesday, now + dt.timedelta(days=7), 1)
    if sub_start:
        found.append(
            ProgramException(
                program_id=rotation_tuesday.id,
                occurrence_start=sub_start[0],
                kind=ExceptionKind.SUBSTITUTE,
                personality_id=members["mhlw@example.jp"].id,
                note="博多さんの出張のため",
            )
        )
    cancel = recurrence.next_rule_starts(orientation, now + dt.timedelta(days=14), 1)
    if cancel:
        found.append(
            ProgramException(
                program_id=orientation.id, occurrence_start=cancel[0], kind=ExceptionKind.CANCEL, note="会場点検のため"
            )
        )
    return found


async def load(db: AsyncSession, members: dict[str, Member], sections: dict[str, Section]) -> None:
    now = utcnow()
    today = now.astimezone(JST).date()
    monday = today - dt.timedelta(days=today.weekday())
    orientation = _orientation(monday, members)
    programs = [*_rotation(monday, members, sections), orientation, _study(monday, members, sections)]
    db.add_all(programs)
    await db.flush()
    db.add_all(_exceptions(now, programs[1], orientation, members))
    await db.commit()
    # Materialise far enough to show the next weekday holiday the rotation skips.
    holiday = next_weekday_holiday(today)
    horizon = HORIZON
    if holiday is not None:
        horizon = max(HORIZON, _at(holiday, 23, 59) - now)
    bus = InProcessBus()
    for program in programs:
        await materialise_program(db, bus, program.id, now, horizon)
