"""Moderation rules on SQLite and PostgreSQL: who may act, restrictions, blocked words, audit log."""

from __future__ import annotations

import datetime as dt

import pytest

from core.errors import Forbidden
from core.members.models import Member
from live.access import can_moderate
from live.errors import RoomError
from live.moderation import audit, controls, gate, held, reports, sanctions, words
from live.moderation.errors import ModerationError
from live.moderation.models import ProgramModerator
from tests.factories import live_show, member_id

pytestmark = pytest.mark.usefixtures("demo")


@pytest.fixture
async def show(db):
    return await live_show(db, start=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))


async def _m(db, email) -> Member:
    return await db.get(Member, await member_id(db, email))


async def test_who_may_moderate(db, show):
    host, site_mod, member, naha = [
        await _m(db, e) for e in ("host@example.jp", "moderator@example.jp", "member@example.jp", "naha@example.jp")
    ]
    assert await can_moderate(db, host, show)  # the personality
    assert await can_moderate(db, site_mod, show)
    assert not await can_moderate(db, member, show)
    db.add(ProgramModerator(program_id=show.program_id, member_id=naha.id))
    await db.commit()
    assert await can_moderate(db, naha, show)  # named for this program only
    with pytest.raises(Forbidden) as info:  # the access policy (live.access) refuses
        await sanctions.timeout(db, member, show, naha.id, 60)
    assert info.value.status == 403 and info.value.code == "forbidden"


async def test_timeout_range_and_remaining_time(db, show):
    host, member = await _m(db, "host@example.jp"), await _m(db, "member@example.jp")
    for seconds in (9, 86401, -5):
        with pytest.raises(ModerationError) as info:
            await sanctions.timeout(db, host, show, member.id, seconds)
        assert info.value.code == "invalid_duration"
    await sanctions.timeout(db, host, show, member.id, 600, reason="連投")
    restriction = await sanctions.restriction_for(db, member, show)
    assert restriction is not None and restriction.code == "timed_out"
    remaining = (restriction.until - dt.datetime.now(dt.UTC)).total_seconds()
    assert 590 < remaining <= 600
    assert await sanctions.restriction_for(db, member, show, now=restriction.until + dt.timedelta(seconds=1)) is None
    assert await sanctions.lift(db, host, show, member.id) == 1
    assert await sanctions.restriction_for(db, member, show) is None


async def test_bans_by_program_and_site(db, show):
    host, site_mod, member = [await _m(db, e) for e in ("host@example.jp", "moderator@example.jp", "member@example.jp")]
    other = await live_show(db, title="財政の時間", host_email="fukuoka@example.jp", section="みんなの財政課")
    with pytest.raises(ModerationError) as info:
        await sanctions.ban(db, host, show, member.id, "site")  # a host cannot ban site-wide
    assert info.value.status == 403
    await sanctions.ban(db, host, show, member.id, "program", reason="荒らし")
    assert (await sanctions.restriction_for(db, member, show)).code == "banned"
    assert await sanctions.restriction_for(db, member, other) is None
    await sanctions.ban(db, site_mod, show, member.id, "site")
    assert (await sanctions.restriction_for(db, member, other)).code == "banned"
    with pytest.raises(ModerationError):
        await sanctions.lift(db, host, show, member.id)  # site ban needs a site moderator
    await sanctions.lift(db, site_mod, show, member.id)
    assert await sanctions.restriction_for(db, member, other) is None
    with pytest.raises(ModerationError) as info:
        await sanctions.ban(db, host, show, site_mod.id, "program")
    assert info.value.code == "target_is_moderator"
    with pytest.raises(ModerationError) as info:
        await sanctions.ban(db, host, show, 999999, "program")
    assert info.value.code == "unknown_member"


async def test_room_controls_and_their_validation(db, show):
    host, member = await _m(db, "host@example.jp"), await _m(db, "member@example.jp")
    await controls.set_controls(db, host, show, slow_mode_seconds=30)
    assert await controls.slow_mode_seconds(db, show.id) == 30
    await controls.set_controls(db, host, show, locked=True)
    assert (await sanctions.restriction_for(db, member, show)).code == "room_locked"
    assert await sanctions.restriction_for(db, host, show) is None  # moderators still speak
    await controls.set_controls(db, host, show, locked=False, comments_off=True)
    assert (await sanctions.restriction_for(db, member, show)).code == "comments_off"
    for bad in (
        {"slow_mode_seconds": -1},
        {"slow_mode_seconds": 3601},
        {"delay_seconds": 61},
        {"pinned_text": "あ" * 301},
        {"nonsense": 1},
    ):
        with pytest.raises(ModerationError):
            await controls.set_controls(db, host, show, **bad)


async def test_blocked_words_refuse_beats_hold_and_width_is_folded(db, show):
    host, site_mod = await _m(db, "host@example.jp"), await _m(db, "moderator@example.jp")
    with pytest.raises(ModerationError) as info:
        await words.add_blocked_word(db, host, "スパム", "refuse", None)  # site-wide needs a site moderator
    assert info.value.status == 403
    for word, code in (("", "empty_word"), ("   ", "empty_word"), ("あ" * 51, "too_long")):
        with pytest.raises(ModerationError) as info:
            await words.add_blocked_word(db, host, word, "hold", show.program_id, show)
        assert info.value.code == code
    with pytest.raises(ModerationError) as info:
        await words.add_blocked_word(db, host, "x", "delete-everything", show.program_id, show)
    assert info.value.code == "invalid_action"
    await words.add_blocked_word(db, host, "ＦＸ投資", "hold", show.program_id, show)
    await words.add_blocked_word(db, site_mod, "スパム", "refuse", None)
    with pytest.raises(ModerationError) as info:
        await words.add_blocked_word(db, host, "fx投資", "refuse", show.program_id, show)
    assert info.value.code == "duplicate_word"
    # The comment path's check (live.moderation.gate, as the room socket calls it): refuse beats hold.
    found = await gate.rules(db, show.program_id)
    assert gate.screen(found, "おすすめのfx投資", 200) == gate.Hold(word="ＦＸ投資", text="おすすめのfx投資")
    with pytest.raises(RoomError) as refused:
        gate.screen(found, "fx投資のスパム", 200)
    assert refused.value.code == "blocked_word"
    assert gate.screen(found, "予防接種の予約", 200) is None


async def test_held_comment_is_decided_once_and_logged(db, show):
    host, site_mod, member = [await _m(db, e) for e in ("host@example.jp", "moderator@example.jp", "member@example.jp")]
    kept = await held.hold_in(db, show.id, member.id, "FX投資で儲かる", "FX投資")
    assert [h.id for h in await held.held_comments(db, show.id)] == [kept.id]
    decided = await held.decide_held(db, host, show, kept.id, approve=True)
    assert decided.status.value == "approved"
    with pytest.raises(ModerationError) as info:
        await held.decide_held(db, site_mod, show, kept.id, approve=False)
    assert info.value.code == "already_decided" and info.value.status == 409
    assert await held.held_comments(db, show.id) == []
    log = await audit.audit_log(db, show.id)
    assert [(e.action, e.actor_id, e.target_member_id) for e in log] == [("approve", host.id, member.id)]


async def test_reports_once_per_member(db, show):
    member = await _m(db, "member@example.jp")
    await reports.report(db, member, show, 3, "個人情報が含まれています")
    with pytest.raises(ModerationError) as info:
        await reports.report(db, member, show, 3, "again")
    assert info.value.code == "already_reported"
    assert [r.position for r in await reports.open_reports(db, show.id)] == [3]


async def test_every_action_is_in_the_audit_log(db, show):
    host, member = await _m(db, "host@example.jp"), await _m(db, "member@example.jp")
    await sanctions.timeout(db, host, show, member.id, 60, reason="落ち着いて")
    await controls.set_controls(db, host, show, slow_mode_seconds=10, pinned_text="資料はこちら")
    await sanctions.lift(db, host, show, member.id)
    actions = [(e.action, e.reason) for e in reversed(await audit.audit_log(db, show.id))]
    assert actions == [("timeout", "落ち着いて"), ("slow_mode", ""), ("pin", ""), ("lift", "")]
