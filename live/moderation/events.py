"""Moderation events on the bus: published after the change commits, relayed by every room."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from core.events import EventBus, publish_committed
from live.events import broadcast_channel


class ControlValues(msgspec.Struct, kw_only=True):
    """A room's controls as moderators set them: the API answers them, the bus event carries them."""

    slow_mode_seconds: int
    locked: bool
    comments_off: bool
    delay_seconds: int
    pinned_text: str
    picked_position: int | None


class ControlsChanged(ControlValues, tag="controls", kw_only=True):
    broadcast_id: int


class MemberRestricted(msgspec.Struct, tag="restricted", kw_only=True):
    """`code` None means the member may comment again (lifted)."""

    broadcast_id: int
    member_id: int
    code: str | None
    until: dt.datetime | None


class CommentVisibility(msgspec.Struct, tag="visibility", kw_only=True):
    broadcast_id: int
    position: int
    hidden: bool


encode = msgspec.json.Encoder().encode


async def publish_controls(bus: EventBus, broadcast_id: int, controls: dict[str, Any]) -> None:
    event = ControlsChanged(broadcast_id=broadcast_id, **controls)
    await publish_committed(bus, broadcast_channel(broadcast_id), encode(event))


async def publish_restriction(
    bus: EventBus, broadcast_id: int, member_id: int, code: str | None, until: dt.datetime | None
) -> None:
    event = MemberRestricted(broadcast_id=broadcast_id, member_id=member_id, code=code, until=until)
    await publish_committed(bus, broadcast_channel(broadcast_id), encode(event))


async def publish_visibility(bus: EventBus, broadcast_id: int, position: int, hidden: bool) -> None:
    event = CommentVisibility(broadcast_id=broadcast_id, position=position, hidden=hidden)
    await publish_committed(bus, broadcast_channel(broadcast_id), encode(event))


class ModerationNotice(msgspec.Struct, tag="notice", kw_only=True):
    """Something only moderators' screens show changed: a held comment, a report, the word list."""

    broadcast_id: int
    kind: str  # "held" | "report" | "words" | "audit"


async def publish_notice(bus: EventBus, broadcast_id: int, kind: str) -> None:
    event = ModerationNotice(broadcast_id=broadcast_id, kind=kind)
    await publish_committed(bus, broadcast_channel(broadcast_id), encode(event))


ModerationEvent = ControlsChanged | MemberRestricted | CommentVisibility | ModerationNotice
