"""Demo archive: two past broadcasts with a recording link, their chat and viewer counts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from archive.media import parse_media_url
from archive.models import Recording
from core.db import utcnow
from core.members.models import Member
from core.sections import Section
from core.timefmt import JST
from live.public import Broadcast, BroadcastState, CommentRoom, Program, RoomComment, RoomVisit, ViewerSample

# (seconds after the live start, author, text)
CHAT = [
    (15, "host@example.jp", "こんにちは！今日もお昼の庁内放送、はじまりました。"),
    (42, "member@example.jp", "豊中市から見ています。よろしくお願いします。"),
    (70, "naha@example.jp", "那覇市です。音声よく聞こえます！"),
    (180, "kochi@example.jp", "四万十町です。小さな町の情報政策係の悩みも聞いてほしいです"),
    (260, "fukuoka@example.jp", "予算要求の時期、財政課はみんな忙しいですよね…"),
    (410, "mhlw@example.jp", "厚生労働省から失礼します。通知の読み方の話、参考になります。"),
    (620, "member@example.jp", "窓口のキャッシュレス化、うちも検討中です"),
    (905, "naha@example.jp", "接種会場の予約システム、他の自治体はどこを使っていますか？"),
    (1210, "moderator@example.jp", "質問は「質問として送る」にチェックを入れて投稿してください。"),
    (1530, "kochi@example.jp", "ありがとうございました！来週も楽しみにしています。"),
]


PAST = (
    (
        1,
        "お昼の庁内放送 ― 窓口DXのいま",
        "https://www.youtube.com/watch?v=aqz-KE-bpKQ",
        "今回は、接種券の再発行をオンラインで受け付けた自治体の窓口DXを紹介します。",
    ),
    (2, "お昼の庁内放送 ― 予算要求の季節", "https://files.example.jp/recordings/2026-11-09.mp4", ""),
)


async def load(db: AsyncSession, members: dict[str, Member], sections: dict[str, Section]) -> None:
    program = (
        (await db.execute(select(Program).where(Program.title == "お昼の庁内放送").limit(1)))
        .unique()
        .scalar_one_or_none()
    )
    today = utcnow().astimezone(JST).date()
    host = members["host@example.jp"]
    viewers = [m for m in members.values() if m.is_active]
    chat = [(seconds, members[email], text) for seconds, email, text in CHAT]
    for weeks_ago, title, video, topic in PAST:
        day = today - dt.timedelta(days=7 * weeks_ago + today.weekday())  # a Monday
        start = dt.datetime.combine(day, dt.time(12, 10), tzinfo=JST).astimezone(dt.UTC)
        description = "日替わりのパーソナリティが全国の自治体の「いま」をお届けします。" + topic
        await past_broadcast(db, program, title, description, start, host, video, chat, viewers)
    await db.commit()


async def past_broadcast(
    db: AsyncSession,
    program: Program | None,
    title: str,
    description: str,
    start: dt.datetime,
    host: Member,
    video: str,
    chat: list[tuple[int, Member, str]],
    viewers: list[Member],
) -> Broadcast:
    """One ended 30-minute broadcast with its chat ((seconds after the start, author, text)), the
    members who visited, viewer counts and a recording (also used by `chonai bench pages`)."""
    broadcast = Broadcast(
        program_id=program.id if program else None,
        title=title,
        description=description,
        personality_id=host.id,
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=30),
        opens_at=start - dt.timedelta(minutes=10),
        state=BroadcastState.ENDED,
        opened_at=start - dt.timedelta(minutes=10),
        live_at=start,
        ended_at=start + dt.timedelta(minutes=30),
    )
    db.add(broadcast)
    await db.flush()
    for position, (seconds, author, text) in enumerate(chat, start=1):
        db.add(
            RoomComment(
                broadcast_id=broadcast.id,
                position=position,
                member_id=author.id,
                text=text,
                created_at=start + dt.timedelta(seconds=seconds),
                offset_ms=seconds * 1000,
            )
        )
    db.add(CommentRoom(broadcast_id=broadcast.id, last_position=len(chat)))
    for member in viewers:
        db.add(RoomVisit(broadcast_id=broadcast.id, member_id=member.id, first_seen_at=start))
    for minute, count in enumerate((12, 48, 95, 131, 140, 126, 118, 97)):
        db.add(ViewerSample(broadcast_id=broadcast.id, at=start + dt.timedelta(minutes=4 * minute), viewers=count))
    media = parse_media_url(video)
    db.add(
        Recording(
            broadcast_id=broadcast.id,
            title="本編",
            url=media.url,
            kind=media.kind,
            video_id=media.video_id,
            duration_seconds=1800,
            offset_seconds=0,
            added_by_id=host.id,
        )
    )
    return broadcast
