"""One broadcast's room in this process: the layers stacked, and what arrives for it on the bus.

`Room` is `RoomStream` (ordering, gap recovery) on `RoomFanout` (batching, flushing) on
`RoomModeration` (controls, hidden comments, delay) on `RoomPresence` (counts, reactions) on
`RoomViewers` (who is here, writing a frame to them). This module adds the broadcast's state
and limits, the comment writer, and the two bus callbacks that dispatch to those layers.
"""

from __future__ import annotations

import logging

import msgspec

from live.events import BroadcastStateChanged
from live.models import BroadcastState
from live.moderation.events import CommentVisibility, ControlsChanged, MemberRestricted, ModerationNotice
from live.rooms import service
from live.rooms.admission import AdmissionCache
from live.rooms.protocol import BusComment, BusReactions, Limits, ModNotice, State, bus_decoder, encode
from live.rooms.rejoin import RejoinMemo
from live.rooms.stream import RoomStream
from live.rooms.transport import OutFrame
from live.rooms.viewers import RoomHost
from live.rooms.writer import RoomWriter

log = logging.getLogger("chonai.rooms")

#: What arrives on a broadcast's own channel: its state changes and moderation events.
channel_decoder = msgspec.json.Decoder(
    BroadcastStateChanged | ControlsChanged | MemberRestricted | CommentVisibility | ModerationNotice
)


def state_message(state: BroadcastState) -> State:
    return State(state=state.value, label=state.label, accepting=state in service.ACCEPTING)


class Room(RoomStream):
    __slots__ = ("admission", "limits", "rejoins", "state", "writer")

    def __init__(self, hub: RoomHost, broadcast_id: int) -> None:
        super().__init__(hub, broadcast_id)
        self.state = BroadcastState.SCHEDULED
        self.limits = Limits(max_length=0, rate_count=0, rate_seconds=0)
        # This process's comments to the room, committed in groups (`live.rooms.writer`).
        self.writer = RoomWriter(hub, broadcast_id)
        self.rejoins = RejoinMemo()  # access checks of viewers that just left (live.rooms.rejoin)
        self.admission = AdmissionCache(hub.db, broadcast_id)  # everyone else's (live.rooms.admission)

    def set_state(self, state: BroadcastState) -> None:
        if state == self.state:
            return
        self.state = state
        self.broadcast(OutFrame(encode(state_message(state))))

    # --- bus input (synchronous callbacks) ---------------------------------------------

    def on_bus(self, _channel: str, data: bytes) -> None:
        """The room's channel: comments, reactions, presence beats."""
        try:
            message = bus_decoder.decode(data)
        except msgspec.DecodeError:
            log.warning("room %s: undecodable bus message dropped", self.id)
            return
        if isinstance(message, BusComment):
            self.on_comment(message)
        elif isinstance(message, BusReactions):
            self.on_reactions(message)
        else:
            self.on_presence(message)

    def on_state(self, _channel: str, data: bytes) -> None:
        """The broadcast's channel: state changes and moderation events."""
        try:
            event = channel_decoder.decode(data)
        except msgspec.DecodeError:
            log.warning("room %s: undecodable broadcast event dropped", self.id)
            return
        if isinstance(event, BroadcastStateChanged):
            try:
                state = BroadcastState(event.state)
            except ValueError:
                return
            self.set_state(state)
        elif isinstance(event, CommentVisibility):
            self.on_visibility(event.position, event.hidden)
        elif isinstance(event, ControlsChanged):
            self.rejoins.clear()  # a lock or comments-off is part of the restriction read at join
            self.admission.forget()
            self.refresh_controls()
            self.notify_moderators(ModNotice(kind="controls"))
        elif isinstance(event, MemberRestricted):
            self.rejoins.forget(event.member_id)
            self.admission.forget()
            self.on_restricted(event)
        else:
            self.on_notice(event.kind)
