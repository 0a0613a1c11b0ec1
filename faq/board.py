"""The live Q&A board: every change is written with the board's next position, committed, then published.

This module is the only place that emits board events (Zulip's rule: publish from
one place, after the transaction commits).
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.errors import found
from core.events import EventBus, publish_committed
from core.members.models import Member
from faq import events, notices, search
from faq.models import Question, QuestionAsker, QuestionStatus, QuestionVote, SessionState, StudySession
from faq.render import markdown_html
from faq.service import FaqError, can_organise, count_votes, not_found, require_organiser, require_text, vote_once

log = logging.getLogger("chonai.faq")

MAX_QUESTION = 1000
MAX_ANSWER = 5000
MAX_REASON = 500
VISIBLE = {QuestionStatus.OPEN, QuestionStatus.ANSWERED}


async def _next_position(db: AsyncSession, session_id: int) -> int:
    stmt = (
        update(StudySession)
        .where(StudySession.id == session_id)
        .values(position=StudySession.position + 1)
        .returning(StudySession.position)
    )
    return int((await db.execute(stmt)).scalar_one())


async def record(db: AsyncSession, q: Question) -> events.QuestionRecord:
    author = await db.get_one(Member, q.author_id)  # never a lazy load: q may be new in this session
    askers = list(
        (
            await db.execute(
                select(QuestionAsker).where(QuestionAsker.question_id == q.id).order_by(QuestionAsker.member_id)
            )
        ).scalars()
    )
    voters = list((await db.execute(select(QuestionVote.member_id).where(QuestionVote.question_id == q.id))).scalars())
    merged = list(
        (await db.execute(select(Question.body).where(Question.merged_into_id == q.id).order_by(Question.id))).scalars()
    )
    return events.QuestionRecord(
        id=q.id,
        session_id=q.session_id,
        position=q.position,
        body=q.body,
        category=q.category,
        status=q.status.value,
        votes=q.votes,
        anonymous=q.anonymous,
        author_name=author.name,
        author_affiliation=f"{author.prefecture} {author.organisation}",
        asker_ids=[a.member_id for a in askers],
        asker_names=[f"{a.member.name}（{a.member.organisation}）" + ("・匿名" if a.anonymous else "") for a in askers],
        voter_ids=voters,
        answer=q.answer,
        answer_html=str(markdown_html(q.answer)) if q.answer else "",
        dismiss_reason=q.dismiss_reason,
        merged_into_id=q.merged_into_id,
        merged_bodies=merged,
        created_at=q.created_at,
    )


def view_for(r: events.QuestionRecord, viewer_id: int, moderator: bool) -> events.QuestionView | None:
    """What one viewer may see of a question, or None if it is hidden from them."""
    mine = viewer_id in r.asker_ids
    status = QuestionStatus(r.status)
    if status is QuestionStatus.MERGED and not mine:
        return None
    if status in {QuestionStatus.PENDING, QuestionStatus.DISMISSED} and not (moderator or mine):
        return None
    named = moderator or not r.anonymous
    return events.QuestionView(
        id=r.id,
        body=r.body,
        category=r.category,
        status=r.status,
        status_label=status.label,
        votes=r.votes,
        author=f"{r.author_name}（{r.author_affiliation}）" if named else "匿名",
        anonymous=r.anonymous,
        askers=len(r.asker_ids),
        asker_names=r.asker_names if moderator else [],
        answer=r.answer,
        answer_html=r.answer_html or (str(markdown_html(r.answer)) if r.answer else ""),
        dismiss_reason=r.dismiss_reason if (moderator or mine) else "",
        merged_into_id=r.merged_into_id,
        merged_bodies=r.merged_bodies,
        mine=mine,
        voted=viewer_id in r.voter_ids,
        created_at=r.created_at,
    )


async def _publish(bus: EventBus, event: events.QuestionChanged | events.BoardChanged, session_id: int) -> None:
    # The change is committed; clients catch up from their position if the bus drops it.
    await publish_committed(bus, events.board_channel(session_id), events.encoder.encode(event))


async def _commit_questions(db: AsyncSession, bus: EventBus, questions: list[Question]) -> None:
    """Give the changed questions new positions, commit, then publish them."""
    for q in questions:
        q.position = await _next_position(db, q.session_id)
    await db.flush()
    records = [await record(db, q) for q in questions]
    await search.sync_questions(db, questions)
    await db.commit()
    for r in records:
        await _publish(bus, events.QuestionChanged(question=r), r.session_id)


async def board_changed(db: AsyncSession, bus: EventBus, session: StudySession) -> None:
    position = await _next_position(db, session.id)
    await db.commit()
    await db.refresh(session)
    event = events.BoardChanged(
        session_id=session.id,
        position=position,
        state=session.state.value,
        answering_id=session.answering_id,
        premoderation=session.premoderation,
    )
    await _publish(bus, event, session.id)


async def get_question(db: AsyncSession, question_id: int) -> Question:
    return found(await db.get(Question, question_id), not_found("質問"))


async def ask(
    db: AsyncSession,
    bus: EventBus,
    member: Member,
    session: StudySession,
    body: str,
    category: str = "",
    anonymous: bool = False,
) -> Question:
    if session.state is SessionState.ENDED:
        raise FaqError("ended", "この勉強会は終了したため、質問を受け付けていません。", 409)
    text = require_text(body, "質問", MAX_QUESTION, block=True)
    category = require_text(category, "カテゴリ", 40, required=False)
    if category and category not in session.series.category_list:
        raise FaqError("bad_category", "カテゴリは一覧から選んでください。")
    moderator = await can_organise(db, member, session.series_id)
    q = Question(
        session_id=session.id,
        author_id=member.id,
        anonymous=anonymous,
        category=category,
        body=text,
        status=QuestionStatus.PENDING if session.premoderation and not moderator else QuestionStatus.OPEN,
    )
    db.add(q)
    await db.flush()
    db.add(QuestionAsker(question_id=q.id, member_id=member.id, anonymous=anonymous))
    await _commit_questions(db, bus, [q])
    return q


async def vote(db: AsyncSession, bus: EventBus, member: Member, question_id: int) -> Question:
    q = await get_question(db, question_id)
    if q.status not in VISIBLE:
        raise FaqError("not_votable", f"「{q.status.label}」の質問には投票できません。", 409)
    if await db.get(QuestionAsker, (q.id, member.id)) is not None:
        raise FaqError("own_question", "自分の質問には投票できません。", 409)
    await vote_once(db, QuestionVote(question_id=q.id, member_id=member.id), "質問")
    await _recount(db, q)
    await _commit_questions(db, bus, [q])
    return q


async def _recount(db: AsyncSession, q: Question) -> None:
    q.votes = await count_votes(db, QuestionVote.question_id, q.id)


async def _moderated(db: AsyncSession, member: Member, question_id: int) -> tuple[Question, StudySession]:
    q = await get_question(db, question_id)
    session = await db.get_one(StudySession, q.session_id)
    await require_organiser(db, member, session.series_id)
    if q.status is QuestionStatus.MERGED:
        raise FaqError("merged", f"この質問は #{q.merged_into_id} に統合済みです。", 409)
    return q, session


async def approve(db: AsyncSession, bus: EventBus, member: Member, question_id: int) -> Question:
    q, _ = await _moderated(db, member, question_id)
    if q.status is not QuestionStatus.PENDING:
        raise FaqError("not_pending", "承認待ちの質問ではありません。", 409)
    q.status = QuestionStatus.OPEN
    await _commit_questions(db, bus, [q])
    return q


async def edit(
    db: AsyncSession, bus: EventBus, member: Member, question_id: int, body: str | None, category: str | None
) -> Question:
    q, session = await _moderated(db, member, question_id)
    if body is not None:
        q.body = require_text(body, "質問", MAX_QUESTION, block=True)
    if category is not None:
        category = require_text(category, "カテゴリ", 40, required=False)
        if category and category not in session.series.category_list:
            raise FaqError("bad_category", "カテゴリは一覧から選んでください。")
        q.category = category
    await _commit_questions(db, bus, [q])
    return q


async def answer(
    db: AsyncSession, bus: EventBus, member: Member, question_id: int, text: str, mark_answered: bool = True
) -> Question:
    q, session = await _moderated(db, member, question_id)
    if q.status is QuestionStatus.DISMISSED:
        raise FaqError("dismissed", "見送りにした質問には回答できません。", 409)
    q.answer = require_text(text, "回答", MAX_ANSWER, block=True, required=not mark_answered)
    if mark_answered:
        q.status = QuestionStatus.ANSWERED
        q.answered_at = utcnow()
        await notices.question_answered(db, q, member.id)
    await _commit_questions(db, bus, [q])
    if mark_answered:
        await _release_answering(db, bus, session, q)
    return q


async def _release_answering(db: AsyncSession, bus: EventBus, session: StudySession, q: Question) -> None:
    """An answered or dismissed question is no longer the one being answered on the board."""
    if session.answering_id == q.id:
        session.answering_id = None
        await board_changed(db, bus, session)


async def mark_answered(db: AsyncSession, bus: EventBus, member: Member, question_id: int) -> Question:
    q, session = await _moderated(db, member, question_id)
    if q.status not in VISIBLE:
        raise FaqError("not_open", f"「{q.status.label}」の質問は回答済みにできません。", 409)
    q.status = QuestionStatus.ANSWERED
    q.answered_at = utcnow()
    await notices.question_answered(db, q, member.id)
    await _commit_questions(db, bus, [q])
    await _release_answering(db, bus, session, q)
    return q


async def dismiss(db: AsyncSession, bus: EventBus, member: Member, question_id: int, reason: str) -> Question:
    q, session = await _moderated(db, member, question_id)
    q.dismiss_reason = require_text(reason, "見送りの理由", MAX_REASON)
    q.status = QuestionStatus.DISMISSED
    await notices.question_dismissed(db, q, member.id)
    await _commit_questions(db, bus, [q])
    await _release_answering(db, bus, session, q)
    return q


async def merge(db: AsyncSession, bus: EventBus, member: Member, source_id: int, target_id: int) -> Question:
    """Fold a duplicate into another question: askers and votes combine; the duplicate stays on record."""
    if source_id == target_id:
        raise FaqError("same_question", "同じ質問どうしは統合できません。")
    source, session = await _moderated(db, member, source_id)
    target, _ = await _moderated(db, member, target_id)
    if source.session_id != target.session_id:
        raise FaqError("other_session", "別の回の質問とは統合できません。", 409)
    if target.status is QuestionStatus.DISMISSED:
        raise FaqError("dismissed", "見送りにした質問には統合できません。", 409)
    target_askers = set(
        (await db.execute(select(QuestionAsker.member_id).where(QuestionAsker.question_id == target.id))).scalars()
    )
    for asker in (await db.execute(select(QuestionAsker).where(QuestionAsker.question_id == source.id))).scalars():
        if asker.member_id not in target_askers:
            db.add(QuestionAsker(question_id=target.id, member_id=asker.member_id, anonymous=asker.anonymous))
            target_askers.add(asker.member_id)
    voted = set(
        (await db.execute(select(QuestionVote.member_id).where(QuestionVote.question_id == target.id))).scalars()
    )
    for voter in (
        await db.execute(select(QuestionVote.member_id).where(QuestionVote.question_id == source.id))
    ).scalars():
        if voter not in voted and voter not in target_askers:  # the target's askers never vote for it
            db.add(QuestionVote(question_id=target.id, member_id=voter))
            voted.add(voter)
    # A vote someone cast before their own duplicate was merged in still counts: interest only adds up.
    if not target.answer and source.answer:
        target.answer = source.answer
    if not target.category:
        target.category = source.category
    if target.status is QuestionStatus.PENDING and source.status is not QuestionStatus.PENDING:
        target.status = QuestionStatus.OPEN
    source.status = QuestionStatus.MERGED
    source.merged_into_id = target.id
    await db.flush()
    await _recount(db, target)
    await notices.question_merged(db, source, target, member.id)
    await _commit_questions(db, bus, [source, target])
    if session.answering_id == source.id:
        session.answering_id = target.id
        await board_changed(db, bus, session)
    return target


async def set_answering(
    db: AsyncSession, bus: EventBus, member: Member, session: StudySession, question_id: int | None
) -> None:
    await require_organiser(db, member, session.series_id)
    if question_id is not None:
        q = await get_question(db, question_id)
        if q.session_id != session.id or q.status not in VISIBLE:
            raise FaqError("not_answerable", "この質問は「回答中」にできません。", 409)
    session.answering_id = question_id
    await board_changed(db, bus, session)


async def set_premoderation(db: AsyncSession, bus: EventBus, member: Member, session: StudySession, on: bool) -> None:
    await require_organiser(db, member, session.series_id)
    session.premoderation = on
    await board_changed(db, bus, session)


async def start(db: AsyncSession, bus: EventBus, member: Member, session: StudySession) -> None:
    await require_organiser(db, member, session.series_id)
    if session.state is not SessionState.SCHEDULED:
        raise FaqError("not_scheduled", "開催予定の勉強会ではありません。", 409)
    session.state = SessionState.LIVE
    await board_changed(db, bus, session)


async def end(db: AsyncSession, bus: EventBus, session: StudySession) -> None:
    """End the session (callers check who may); the FAQ draft is compiled by faq.documents."""
    session.state = SessionState.ENDED
    session.ended_at = utcnow()
    session.answering_id = None
    await db.flush()
    await search.sync_session(db, session)
    await board_changed(db, bus, session)


async def snapshot(
    db: AsyncSession, session: StudySession, viewer_id: int, moderator: bool, since: int = 0
) -> events.Snapshot:
    """The board as one viewer sees it; with `since`, only questions changed after that position."""
    await db.refresh(session)
    rows = await db.execute(
        select(Question).where(Question.session_id == session.id, Question.position > since).order_by(Question.position)
    )
    views = []
    removed = []
    for q in rows.scalars():
        view = view_for(await record(db, q), viewer_id, moderator)
        if view is not None:
            views.append(view)
        else:
            removed.append(q.id)
    return events.Snapshot(
        position=session.position,
        state=session.state.value,
        state_label=session.state.label,
        answering_id=session.answering_id,
        premoderation=session.premoderation,
        moderator=moderator,
        questions=views,
        removed=removed if since else [],
    )


async def answered_questions(db: AsyncSession, session_id: int) -> list[Question]:
    rows = await db.execute(
        select(Question)
        .where(Question.session_id == session_id, Question.status == QuestionStatus.ANSWERED)
        .order_by(Question.category, Question.votes.desc(), Question.id)
    )
    return list(rows.scalars())
