"""The comment-room WebSocket protocol: msgspec tagged structs, one class per message kind.

Every frame is one JSON object whose "type" names its kind (see docs/protocol.md).
Client messages are decoded strictly: unknown kinds, unknown fields (a forged
"position", say) and wrong types are refused with a typed `error`.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

REACTION_KINDS = ("clap", "heart", "laugh", "idea")  # 拍手, いいね, 笑, なるほど
Ref = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Position = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]

# --- client -> server ------------------------------------------------------------------


class Join(msgspec.Struct, tag="join", forbid_unknown_fields=True):
    """Enter a room; `after` resumes after the last position the client saw."""

    room: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
    after: Position | None = None
    # The host control page joins with control=true: refused (4403) unless a moderator of the broadcast.
    control: bool = False


class PostComment(msgspec.Struct, tag="comment", forbid_unknown_fields=True):
    """A comment; `ref` (client-chosen) makes resending after a reconnect idempotent."""

    text: Annotated[str, msgspec.Meta(max_length=2000)]
    ref: Ref | None = None
    question: bool = False  # marked 質問: queued for the host on the control page


class React(msgspec.Struct, tag="reaction", forbid_unknown_fields=True):
    kind: str


class Ping(msgspec.Struct, tag="ping", forbid_unknown_fields=True):
    """Application heartbeat: browsers cannot see protocol pings, so they send these."""


ClientMessage = Join | PostComment | React | Ping
client_decoder = msgspec.json.Decoder(ClientMessage)

# --- server -> client ------------------------------------------------------------------


class CommentItem(msgspec.Struct, kw_only=True):
    """One comment as every viewer sees it (also the bus payload, encoded once)."""

    position: int
    member_id: int
    name: str
    organisation: str
    text: str
    at: str  # ISO 8601 UTC
    offset_ms: int  # from the broadcast's start (negative in the lobby)
    question: bool = False


class Limits(msgspec.Struct, kw_only=True):
    max_length: int
    rate_count: int
    rate_seconds: int


class Controls(msgspec.Struct, tag="controls", kw_only=True):
    """The room's moderation switches; sent in `welcome` and whenever a moderator changes one."""

    slow_mode_seconds: int = 0
    locked: bool = False
    comments_off: bool = False
    delay_seconds: int = 0
    pinned_text: str = ""
    picked_position: int | None = None
    picked: msgspec.Raw | None = None  # the picked question as a CommentItem (null when none)


class Restricted(msgspec.Struct, tag="restricted", kw_only=True):
    """Sent to a member (all their connections) whose timeout or ban starts or is lifted (code null)."""

    code: str | None
    message: str
    until: str | None = None  # ISO 8601 UTC; null for a ban without end


class Welcome(msgspec.Struct, tag="welcome", kw_only=True):
    room: int
    member_id: int
    state: str
    state_label: str
    last_position: int
    viewers: int
    reactions: dict[str, int]
    limits: Limits
    moderator: bool = False
    controls: Controls = msgspec.field(default_factory=Controls)
    hidden: list[int] = msgspec.field(default_factory=list)  # hidden positions (moderators see them marked)
    restriction: Restricted | None = None  # this member's own timeout/ban/lock now


class History(msgspec.Struct, tag="history", kw_only=True):
    """Sent once after `welcome`: the last N comments, or exactly those after `after` (resumed)."""

    items: list[msgspec.Raw]
    resumed: bool
    last_position: int | None  # set on the final history frame: the client's resume point


class Comments(msgspec.Struct, tag="comments"):
    """Live comments of one coalescing window, in position order."""

    items: list[msgspec.Raw]


class Ack(msgspec.Struct, tag="ack", kw_only=True):
    ref: str | None
    position: int


class Reactions(msgspec.Struct, tag="reactions", kw_only=True):
    counts: dict[str, int]


class Presence(msgspec.Struct, tag="presence", kw_only=True):
    viewers: int


class State(msgspec.Struct, tag="state", kw_only=True):
    state: str
    label: str
    accepting: bool


class Pong(msgspec.Struct, tag="pong"):
    pass


class Error(msgspec.Struct, tag="error", kw_only=True):
    code: str
    message: str
    ref: str | None = None
    retry_after: float | None = None
    until: str | None = None  # ISO 8601 UTC end of a timeout or ban (the page counts down)


class Visibility(msgspec.Struct, tag="visibility", kw_only=True):
    """A moderator hid or restored a comment: viewers remove it, moderators mark it."""

    position: int
    hidden: bool
    item: msgspec.Raw | None = None  # on restore, the comment itself (viewers had removed it)


class Held(msgspec.Struct, tag="held", kw_only=True):
    """Reply to the author: the comment matched a hold rule and waits for a moderator."""

    ref: str | None
    message: str


class ModNotice(msgspec.Struct, tag="mod", kw_only=True):
    """Moderators only: something on the control page changed (held, report, restricted, words, audit)."""

    kind: str
    member_id: int | None = None


ServerMessage = (
    Welcome
    | History
    | Comments
    | Ack
    | Reactions
    | Presence
    | State
    | Pong
    | Error
    | Controls
    | Restricted
    | Visibility
    | Held
    | ModNotice
)
encode = msgspec.json.Encoder().encode

# --- close codes ------------------------------------------------------------------------

CLOSE_UNSUPPORTED = 1003  # binary frame
CLOSE_INVALID_DATA = 1007  # invalid UTF-8 (closed by the server's WebSocket layer)
CLOSE_TOO_BIG = 1009
CLOSE_UNAVAILABLE = 1011  # the server cannot serve rooms (its lifespan did not run)
CLOSE_LOGIN_REQUIRED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_SLOW = 4408  # the viewer fell too far behind: reconnect and resume
CLOSE_FLOOD = 4429

# --- bus envelope (between processes) ---------------------------------------------------


class BusComment(msgspec.Struct, tag="c", array_like=True):
    position: int
    committed: float  # time.time() at commit, for the fan-out latency histogram
    item: msgspec.Raw


class BusReactions(msgspec.Struct, tag="r", array_like=True):
    delta: dict[str, int]


class BusPresence(msgspec.Struct, tag="p", array_like=True):
    node: str
    viewers: int


BusMessage = BusComment | BusReactions | BusPresence
bus_decoder = msgspec.json.Decoder(BusMessage)


def room_channel(broadcast_id: int) -> str:
    """The bus channel of a room's comments, reactions and presence beats."""
    return f"room:{broadcast_id}"
