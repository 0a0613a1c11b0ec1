"""RRULE expansion in Asia/Tokyo, Japanese holidays, exceptions and validation (no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from live.models import ExceptionKind, ProgramException
from live.schedule import recurrence
from live.schedule.recurrence import RecurrenceError
from tests.live.schedule_helpers import jst, program


def test_weekly_rule_expands_in_tokyo_wall_time():
    p = program(rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=SA", dtstart=jst(2026, 11, 28, 10, 0), duration_minutes=90)
    occs = recurrence.occurrences(p, [], jst(2026, 11, 1, 0, 0), jst(2027, 1, 1, 0, 0))
    assert [o.starts_at for o in occs] == [jst(2026, 11, 28, 10, 0), jst(2026, 12, 12, 10, 0), jst(2026, 12, 26, 10, 0)]
    assert occs[0].ends_at == jst(2026, 11, 28, 11, 30)
    assert occs[0].starts_at.hour == 1  # 10:00 JST is 01:00 UTC


def test_holidays_are_skipped_with_a_japanese_note():
    p = program(rrule="FREQ=WEEKLY;BYDAY=MO", dtstart=jst(2026, 11, 16, 12, 10), skip_holidays=True)
    occs = recurrence.occurrences(p, [], jst(2026, 11, 16, 0, 0), jst(2026, 12, 1, 0, 0))
    assert [(o.starts_at, o.cancelled) for o in occs] == [
        (jst(2026, 11, 16, 12, 10), False),
        (jst(2026, 11, 23, 12, 10), True),
        (jst(2026, 11, 30, 12, 10), False),
    ]
    assert occs[1].note == "祝日（勤労感謝の日）のため休止"
    kept = recurrence.occurrences(p, [], jst(2026, 11, 16, 0, 0), jst(2026, 12, 1, 0, 0), include_cancelled=False)
    assert len(kept) == 2
    p.skip_holidays = False
    assert all(not o.cancelled for o in recurrence.occurrences(p, [], jst(2026, 11, 16, 0, 0), jst(2026, 12, 1, 0, 0)))


def test_exceptions_cancel_substitute_move():
    p = program(personality_id=1)
    excs = [
        ProgramException(occurrence_start=jst(2026, 12, 4, 21, 0), kind=ExceptionKind.CANCEL, note="点検"),
        ProgramException(occurrence_start=jst(2026, 12, 11, 21, 0), kind=ExceptionKind.SUBSTITUTE, personality_id=2),
        # Moved from Friday into the next window's Saturday morning.
        ProgramException(
            occurrence_start=jst(2026, 12, 18, 21, 0), kind=ExceptionKind.MOVE, starts_at=jst(2026, 12, 19, 10, 0)
        ),
    ]
    occs = recurrence.occurrences(p, excs, jst(2026, 12, 1, 0, 0), jst(2026, 12, 31, 0, 0))
    by_original = {o.occurrence_start: o for o in occs}
    assert by_original[jst(2026, 12, 4, 21, 0)].cancelled
    assert by_original[jst(2026, 12, 11, 21, 0)].personality_id == 2
    moved = by_original[jst(2026, 12, 18, 21, 0)]
    assert (moved.starts_at, moved.ends_at) == (jst(2026, 12, 19, 10, 0), jst(2026, 12, 19, 11, 0))
    # A window holding only the new time still finds the moved occurrence.
    only_saturday = recurrence.occurrences(p, excs, jst(2026, 12, 19, 0, 0), jst(2026, 12, 20, 0, 0))
    assert [o.starts_at for o in only_saturday] == [jst(2026, 12, 19, 10, 0)]


def test_one_off_program_and_until():
    p = program(rrule="", dtstart=jst(2026, 12, 1, 19, 0))
    assert [o.starts_at for o in recurrence.occurrences(p, [], jst(2026, 11, 1, 0, 0), jst(2027, 1, 1, 0, 0))] == [
        jst(2026, 12, 1, 19, 0)
    ]
    rule = recurrence.normalise_rrule("FREQ=DAILY;UNTIL=20261203", recurrence.zone("Asia/Tokyo"))
    assert rule == "FREQ=DAILY;UNTIL=20261203T145959Z"
    daily = program(rrule=rule, dtstart=jst(2026, 12, 1, 12, 0))
    assert len(recurrence.occurrences(daily, [], jst(2026, 11, 1, 0, 0), jst(2027, 1, 1, 0, 0))) == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FREQ=HOURLY", "「毎日」より細かく"),
        ("BYDAY=MO", "FREQ がありません"),
        ("FREQ=WEEKLY;BYDAY=XX", "解釈できません"),
        ("FREQ=DAILY;COUNT=0", "COUNT は 1〜1000"),
        ("FREQ=DAILY;UNTIL=2027", "UNTIL は"),
        ("DTSTART:20260101T000000\nRRULE:FREQ=DAILY", "RRULE の部分だけ"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20270101", "同時に指定できません"),
        ("FREQ=WEEKLY;BYHOUR=9", "BYHOUR"),
        ("X" * 600, "長すぎます"),
    ],
)
def test_invalid_rules_are_refused_in_japanese(text, message):
    with pytest.raises(RecurrenceError, match=message):
        recurrence.normalise_rrule(text)


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "", "Asia/Tokyo\n"])
def test_invalid_time_zones_are_refused(name):
    with pytest.raises(RecurrenceError, match="タイムゾーン"):
        recurrence.zone(name)


def test_describe_in_japanese():
    assert recurrence.describe(program()) == "毎週 金曜 21:00〜22:00"
    biweekly = program(rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=SA", dtstart=jst(2026, 11, 28, 10, 0), duration_minutes=90)
    assert recurrence.describe(biweekly) == "隔週 土曜 10:00〜11:30"
    assert "祝日は休み" in recurrence.describe(program(rrule="FREQ=DAILY", skip_holidays=True))
    assert recurrence.next_rule_starts(program(), jst(2026, 11, 27, 21, 0), 2) == [
        jst(2026, 12, 4, 21, 0),
        jst(2026, 12, 11, 21, 0),
    ]
    assert recurrence.is_rule_start(program(), jst(2026, 12, 4, 21, 0))
    assert not recurrence.is_rule_start(program(), jst(2026, 12, 4, 21, 0) + dt.timedelta(minutes=1))


@pytest.mark.parametrize(
    ("form", "rule", "summary"),
    [
        ({"repeat": "once"}, "", "1回だけ"),
        ({"repeat": "daily", "interval": "3"}, "FREQ=DAILY;INTERVAL=3", "3日ごと"),
        (
            {"repeat": "weekly", "interval": "1", "day_MO": "on", "day_WE": "on"},
            "FREQ=WEEKLY;BYDAY=MO,WE",
            "毎週 月・水曜日",
        ),
        ({"repeat": "weekly", "interval": "2", "day_SA": "on"}, "FREQ=WEEKLY;INTERVAL=2;BYDAY=SA", "2週ごと 土曜日"),
        (
            {"repeat": "monthly", "interval": "1", "nth": "2", "nth_day": "TU"},
            "FREQ=MONTHLY;BYDAY=2TU",
            "毎月 第2火曜日",
        ),
        (
            {"repeat": "monthly", "interval": "1", "nth": "-1", "nth_day": "FR"},
            "FREQ=MONTHLY;BYDAY=-1FR",
            "毎月 最終金曜日",
        ),
        ({"repeat": "custom", "rrule": "FREQ=YEARLY;BYMONTH=4"}, "FREQ=YEARLY;BYMONTH=4", "FREQ=YEARLY;BYMONTH=4"),
        ({"rrule": "FREQ=WEEKLY;BYDAY=FR"}, "FREQ=WEEKLY;BYDAY=FR", "毎週 金曜日"),  # API clients: raw rule
    ],
)
def test_the_recurrence_editor_writes_the_rule_and_reads_it_back(form, rule, summary):
    from live.schedule import rule_editor

    assert rule_editor.rule_from_form(form) == rule
    assert rule_editor.describe(rule) == summary
    back = rule_editor.form_from_rule(rule)
    if form.get("repeat", "custom") != "custom":
        assert rule_editor.rule_from_form({**back, "rrule": "ignored"}) == rule


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"repeat": "weekly", "interval": "1"}, "曜日を1つ以上"),
        ({"repeat": "daily", "interval": "0"}, "間隔は1〜52"),
        ({"repeat": "daily", "interval": "x"}, "間隔は1〜52"),
        ({"repeat": "monthly", "interval": "1", "nth": "5", "nth_day": "MO"}, "第何"),
        ({"repeat": "hourly"}, "種類を選んで"),
    ],
)
def test_the_recurrence_editor_refuses_choices_that_make_no_rule(form, message):
    from live.schedule import rule_editor

    with pytest.raises(rule_editor.EditorError, match=message):
        rule_editor.rule_from_form(form)
