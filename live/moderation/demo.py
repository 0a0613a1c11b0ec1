"""Demo moderation: a broadcast on air now whose control page has something to do.

A live comment room with comments and a question, a comment held for a blocked word, a viewer
report, a member in a timeout and a pinned announcement — all made through the same service
functions the control page uses, so the audit log shows them too.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.members.models import Member
from core.sections import Section
from live.models import Broadcast, BroadcastState, Program
from live.moderation import controls, held, reports, sanctions, words
from live.rooms import posting
from live.rooms import service as rooms

DEMO_LIVE_TITLE = "デモ生放送：窓口DXライブ相談"
PINNED = "資料は概要欄のリンクからどうぞ。質問は「質問として送る」にチェックを入れて送ってください。"
HELD_WORD = "儲かる"
TIMEOUT_SECONDS = 24 * 3600

COMMENTS = [
    ("member@example.jp", "豊中市です。今日もよろしくお願いします！", False),
    ("fukuoka@example.jp", "福岡市の博多です。窓口のキャッシュレス化、うちも検討中です。", False),
    ("naha@example.jp", "那覇市です。書かないワンストップ窓口、導入して半年になります。", False),
    ("kochi@example.jp", "見てます", False),
    ("kochi@example.jp", "見てます見てます", False),
    ("member@example.jp", "申請書のフォーマット統一は、どこから手を付けましたか？", True),
    ("mhlw@example.jp", "厚労省です。国の補助メニューは来月の説明会でご案内します。", False),
    ("fukuoka@example.jp", "この前の放送で出てきた豊中市の〇〇さん、個人名出して大丈夫でした？", False),
]


async def load(db: AsyncSession, members: dict[str, Member], sections: dict[str, Section]) -> None:
    host = members["host@example.jp"]
    now = utcnow().replace(second=0, microsecond=0)
    start = now - dt.timedelta(minutes=20)
    program = Program(
        title=DEMO_LIVE_TITLE,
        description="窓口DXの悩みを生放送で相談し合うデモ番組です。コントロール画面も試してください。",
        section_id=sections["動画課"].id,
        personality_id=host.id,
        duration_minutes=8 * 60,  # on air through the first day of trying Chonai
        lobby_minutes=10,
        rrule="",
        dtstart=start,
        timezone="Asia/Tokyo",
        skip_holidays=False,
        active=True,
        stream_url="https://www.youtube.com/@chonai-demo/live",
    )
    db.add(program)
    await db.flush()
    broadcast = Broadcast(
        program_id=program.id,
        occurrence_start=start,  # the scheduler's own occurrence: it will not add a second one
        title=DEMO_LIVE_TITLE,
        description=program.description,
        personality_id=host.id,
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=program.duration_minutes),
        opens_at=start - dt.timedelta(minutes=program.lobby_minutes),
        state=BroadcastState.LIVE,
        stream_url=program.stream_url,
        opened_at=start - dt.timedelta(minutes=program.lobby_minutes),
        live_at=start,
    )
    db.add(broadcast)
    await db.commit()
    await rooms.room_info(db, broadcast.id)  # creates the room
    positions = []
    for email, text, question in COMMENTS:
        posted = await posting.post_comment(db, broadcast.id, members[email], text, None, question=question)
        positions.append(posted.position)
    await _moderation(db, members, broadcast, positions[-1])


async def _moderation(db: AsyncSession, members: dict[str, Member], broadcast: Broadcast, reported: int) -> None:
    host, moderator = members["host@example.jp"], members["moderator@example.jp"]
    await words.add_blocked_word(db, moderator, HELD_WORD, "hold", None)
    await held.hold_in(
        db, broadcast.id, members["mhlw@example.jp"].id, "絶対に儲かる副業の話があります。DMください", HELD_WORD
    )
    await reports.report(db, members["naha@example.jp"], broadcast, reported, "個人名が書かれています")
    await sanctions.timeout(
        db, host, broadcast, members["kochi@example.jp"].id, TIMEOUT_SECONDS, "同じ内容のコメントの連投"
    )
    await controls.set_controls(db, host, broadcast, pinned_text=PINNED)
