"""Series, sessions, registrations and topic requests; who may organise what."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import save_unique
from core.errors import Refusal, found
from core.members.models import Member, Role
from core.notify.follows import add_follow
from core.notify.models import Target
from core.text import clean_block, clean_line
from faq import search
from faq.models import (
    QuestionVote,
    Registration,
    SeriesOrganiser,
    SessionState,
    StudySeries,
    StudySession,
    TopicRequest,
    TopicVote,
)
from live.public import Broadcast, BroadcastState


class FaqError(Refusal):
    """A refusal of the faq domain: stable `code`, Japanese `message`, HTTP `status`, optional field errors."""


def not_found(what: str) -> FaqError:
    return FaqError("not_found", f"{what}が見つかりません。", 404)


def require_text(value: str | None, label: str, max_len: int, *, block: bool = False, required: bool = True) -> str:
    text = (clean_block if block else clean_line)(value or "")
    if required and not text:
        raise FaqError("empty", f"{label}を入力してください。")
    if len(text) > max_len:
        raise FaqError("too_long", f"{label}は{max_len}文字以内で入力してください（現在{len(text)}文字）。")
    return text


def check_url(value: str | None) -> str:
    url = clean_line(value or "")
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or len(url) > 500:
        raise FaqError("bad_url", "会議のリンクは http:// または https:// で始まるURLを入力してください。")
    return url


# --- series and organisers -----------------------------------------------------------------


async def get_series(db: AsyncSession, series_id: int) -> StudySeries:
    return found(await db.get(StudySeries, series_id), not_found("勉強会シリーズ"))


async def organiser_ids(db: AsyncSession, series_id: int) -> set[int]:
    rows = await db.execute(select(SeriesOrganiser.member_id).where(SeriesOrganiser.series_id == series_id))
    return set(rows.scalars())


async def organisers(db: AsyncSession, series_id: int) -> list[Member]:
    rows = await db.execute(select(SeriesOrganiser).where(SeriesOrganiser.series_id == series_id))
    return [o.member for o in rows.scalars()]


async def can_organise(db: AsyncSession, member: Member | None, series_id: int) -> bool:
    """Organisers of the series, and site moderators and operators."""
    if member is None or not member.is_active:
        return False
    if member.has_role(Role.MODERATOR):
        return True
    return member.id in await organiser_ids(db, series_id)


async def require_organiser(db: AsyncSession, member: Member, series_id: int) -> None:
    if not await can_organise(db, member, series_id):
        raise FaqError("forbidden", "この操作はシリーズの主催者（またはモデレーター）だけができます。", 403)


async def create_series(
    db: AsyncSession,
    creator: Member,
    *,
    title: str,
    description: str = "",
    section_id: int | None = None,
    categories: str = "",
    organiser_ids_: list[int] | None = None,
) -> StudySeries:
    if not creator.has_role(Role.HOST):
        raise FaqError("forbidden", "勉強会シリーズを作成できるのはホスト以上の権限をお持ちの方です。", 403)
    series = StudySeries(
        title=require_text(title, "タイトル", 100),
        description=require_text(description, "説明", 2000, block=True, required=False),
        section_id=section_id,
        categories=require_text(categories, "カテゴリ", 1000, block=True, required=False),
    )
    db.add(series)
    await save_unique(db, FaqError("duplicate", "同じタイトルのシリーズが既にあります。", 409), flush=True)
    for member_id in dict.fromkeys([creator.id, *(organiser_ids_ or [])]):
        db.add(SeriesOrganiser(series_id=series.id, member_id=member_id))
    await search.sync_series(db, series)
    await db.commit()
    return series


async def list_series(db: AsyncSession) -> list[StudySeries]:
    return list((await db.execute(select(StudySeries).order_by(StudySeries.id))).scalars())


# --- sessions ------------------------------------------------------------------------------


async def get_session(db: AsyncSession, session_id: int) -> StudySession:
    return found(await db.get(StudySession, session_id), not_found("勉強会"))


async def sessions_of(db: AsyncSession, series_id: int) -> list[StudySession]:
    rows = await db.execute(
        select(StudySession).where(StudySession.series_id == series_id).order_by(StudySession.number.desc())
    )
    return list(rows.scalars())


async def create_session(
    db: AsyncSession,
    member: Member,
    series: StudySeries,
    *,
    title: str,
    starts_at: dt.datetime,
    meeting_url: str = "",
    broadcast_id: int | None = None,
    premoderation: bool = False,
    number: int | None = None,
) -> StudySession:
    await require_organiser(db, member, series.id)
    if broadcast_id is not None and await db.get(Broadcast, broadcast_id) is None:
        raise not_found("放送")
    if number is None:
        last = (
            await db.execute(select(func.max(StudySession.number)).where(StudySession.series_id == series.id))
        ).scalar_one()
        number = int(last or 0) + 1
    session = StudySession(
        series_id=series.id,
        number=number,
        title=require_text(title, "タイトル", 100),
        starts_at=starts_at,
        meeting_url=check_url(meeting_url),
        broadcast_id=broadcast_id,
        premoderation=premoderation,
    )
    db.add(session)
    await save_unique(db, FaqError("duplicate", f"第{number}回は既にあります。", 409))
    return session


async def broadcast_ended(db: AsyncSession, session: StudySession) -> bool:
    """A session linked to a broadcast ends when the broadcast does."""
    if session.broadcast_id is None or session.state is SessionState.ENDED:
        return False
    broadcast = await db.get(Broadcast, session.broadcast_id)
    return broadcast is not None and broadcast.state is BroadcastState.ENDED


async def register(db: AsyncSession, member: Member, session: StudySession) -> bool:
    """Sign up for a session; True if new (registering twice is harmless)."""
    if session.state is SessionState.ENDED:
        raise FaqError("ended", "終了した勉強会には参加登録できません。", 409)
    if await db.get(Registration, (session.id, member.id)) is not None:
        return False
    db.add(Registration(session_id=session.id, member_id=member.id))
    await add_follow(db, member.id, Target.SERIES, session.series_id)  # registering follows the series
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        return False
    return True


async def is_registered(db: AsyncSession, member: Member, session: StudySession) -> bool:
    return await db.get(Registration, (session.id, member.id)) is not None


async def registration_count(db: AsyncSession, session_id: int) -> int:
    stmt = select(func.count()).select_from(Registration).where(Registration.session_id == session_id)
    return int((await db.execute(stmt)).scalar_one())


# --- topic requests ------------------------------------------------------------------------


async def request_topic(db: AsyncSession, member: Member, series: StudySeries, title: str, body: str) -> TopicRequest:
    topic = TopicRequest(
        series_id=series.id,
        author_id=member.id,
        title=require_text(title, "テーマ", 100),
        body=require_text(body, "詳しい内容", 1000, block=True, required=False),
    )
    db.add(topic)
    await db.commit()
    return topic


async def vote_topic(db: AsyncSession, member: Member, topic_id: int) -> TopicRequest:
    topic = found(await db.get(TopicRequest, topic_id), not_found("テーマ"))
    if topic.author_id == member.id:
        raise FaqError("own_topic", "自分のリクエストには投票できません。", 409)
    await vote_once(db, TopicVote(topic_id=topic.id, member_id=member.id), "テーマ")
    topic.votes = await count_votes(db, TopicVote.topic_id, topic.id)
    await db.commit()
    return topic


async def vote_once(db: AsyncSession, vote: TopicVote | QuestionVote, what: str) -> None:
    """Record one member's vote exactly once: checked first, and the primary key settles a race."""
    refusal = FaqError("already_voted", f"この{what}には既に投票しています。", 409)
    if await db.get(type(vote), _vote_key(vote)) is not None:
        raise refusal
    db.add(vote)
    await save_unique(db, refusal, flush=True)


def _vote_key(vote: TopicVote | QuestionVote) -> tuple[int, int]:
    target = vote.topic_id if isinstance(vote, TopicVote) else vote.question_id
    return (target, vote.member_id)


async def count_votes(db: AsyncSession, column: Any, target_id: int) -> int:
    """Votes for one topic or question (`column` is TopicVote.topic_id or QuestionVote.question_id)."""
    stmt = select(func.count()).select_from(column.class_).where(column == target_id)
    return int((await db.execute(stmt)).scalar_one())


async def topics_of(db: AsyncSession, series_id: int) -> list[TopicRequest]:
    rows = await db.execute(
        select(TopicRequest)
        .where(TopicRequest.series_id == series_id)
        .order_by(TopicRequest.votes.desc(), TopicRequest.id.desc())
    )
    return list(rows.scalars())


async def topic_votes_by(db: AsyncSession, member: Member, series_id: int) -> set[int]:
    rows = await db.execute(
        select(TopicVote.topic_id)
        .join(TopicRequest, TopicRequest.id == TopicVote.topic_id)
        .where(TopicVote.member_id == member.id, TopicRequest.series_id == series_id)
    )
    return set(rows.scalars())
