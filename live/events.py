"""Events the live domain publishes on the bus (msgspec tagged structs, one class per kind)."""

from __future__ import annotations

import datetime as dt

import msgspec

#: Every broadcast state change is published here (schedule pages listen).
SCHEDULE_CHANNEL = "schedule"


def broadcast_channel(broadcast_id: int) -> str:
    """Per-broadcast channel (its comment room and control page listen)."""
    return f"broadcast:{broadcast_id}"


class BroadcastStateChanged(msgspec.Struct, tag="broadcast_state", kw_only=True):
    broadcast_id: int
    state: str
    at: dt.datetime
    starts_at: dt.datetime
    ends_at: dt.datetime
    title: str
    label: str = ""  # the state's Japanese label (BroadcastState.label), shown as is by pages; "" from older publishers
