"""The host control page (moderators of the broadcast only; everyone else gets 403)."""

from __future__ import annotations

from litestar import get
from litestar.exceptions import NotFoundException
from litestar.response import Template

from core.access import Forbidden, member_guard
from core.bounds import PathId
from core.deps import DbSession, Me
from core.members.models import Role
from live.access import can_moderate
from live.models import Broadcast
from live.moderation.sanctions import TIMEOUT_MAX, TIMEOUT_MIN

TIMEOUT_CHOICES = [
    (10, "10秒"),
    (60, "1分"),
    (300, "5分"),
    (600, "10分"),
    (1800, "30分"),
    (3600, "1時間"),
    (6 * 3600, "6時間"),
    (24 * 3600, "24時間"),
]
assert all(TIMEOUT_MIN <= s <= TIMEOUT_MAX for s, _ in TIMEOUT_CHOICES)


@get("/broadcasts/{broadcast_id:int}/control", guards=[member_guard], include_in_schema=False)
async def control_page(me: Me, db: DbSession, broadcast_id: PathId) -> Template:
    broadcast = await db.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise NotFoundException(detail="この放送は見つかりません。")
    if not await can_moderate(db, me, broadcast):
        raise Forbidden(detail="この放送のコントロールページは、担当パーソナリティとモデレーターだけが開けます。")
    stream_url = broadcast.stream_url or (broadcast.program.stream_url if broadcast.program else "")
    return Template(
        "control.html",
        context={
            "broadcast": broadcast,
            "stream_url": stream_url if stream_url.startswith(("https://", "http://")) else "",
            "timeouts": TIMEOUT_CHOICES,
            "site_moderator": me.has_role(Role.MODERATOR),
        },
    )
