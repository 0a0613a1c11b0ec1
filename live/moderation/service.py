# size: over 400 lines (sanctions, words, held comments, reports, audit in one service); a split per concern is listed in docs/architecture.md.
"""Moderation rules: who may act, what a member may do right now, and every action logged.

Every mutating function here writes its audit-log row in the same transaction as the
change, so an action that happened is always in the log and vice versa.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.bounds import MAX_ID
from core.db import utcnow
from core.errors import Refusal
from core.members.models import Member, Role
from core.notify.models import Kind
from core.notify.service import any_of, members, notify
from core.text import clean_line
from live.access import can_moderate, require_moderator
from live.models import Broadcast, Program, ProgramModerator
from live.moderation.models import (
    BlockedWord,
    CommentReport,
    HeldComment,
    HeldStatus,
    ModerationAction,
    RoomControls,
    Sanction,
    SanctionKind,
    SanctionScope,
    ViewerSample,
    WordAction,
)

TIMEOUT_MIN = 10
TIMEOUT_MAX = 24 * 3600
SLOW_MODE_MAX = 3600
DELAY_MAX = 60
WORD_MAX = 50
PIN_MAX = 300
REPORT_REASON_MAX = 200

ACTION_LABELS = {
    "hide": "コメントを非表示",
    "restore": "コメントを再表示",
    "timeout": "タイムアウト",
    "ban": "参加禁止",
    "lift": "制限の解除",
    "slow_mode": "スローモード",
    "lock": "ルームのロック",
    "comments_off": "コメント停止",
    "delay": "表示遅延",
    "pin": "お知らせの固定",
    "pick": "質問のピックアップ",
    "word_add": "禁止ワードの追加",
    "word_remove": "禁止ワードの削除",
    "approve": "保留コメントを承認",
    "reject": "保留コメントを却下",
    "report_handled": "通報を対応済みに",
}


class ModerationError(Refusal):
    """A refusal with a Japanese message and a stable code for the API and WebSocket protocol."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(code, message, status)


def normalize_word(text: str) -> str:
    """NFKC + casefold so ＡＢＣ, abc and ABC match alike; katakana/hiragana are left distinct."""
    return unicodedata.normalize("NFKC", text).casefold()


async def controls(db: AsyncSession, broadcast_id: int) -> RoomControls:
    row = await db.get(RoomControls, broadcast_id)
    if row is None:
        row = RoomControls(broadcast_id=broadcast_id)
        db.add(row)
        try:
            await db.flush()
        except IntegrityError:  # created concurrently by another process
            await db.rollback()
            row = await db.get(RoomControls, broadcast_id)
            assert row is not None
    return row


def _log(
    db: AsyncSession,
    broadcast_id: int | None,
    actor: Member | None,
    action: str,
    *,
    target_member_id: int | None = None,
    target_position: int | None = None,
    detail: dict[str, Any] | None = None,
    reason: str = "",
) -> ModerationAction:
    entry = ModerationAction(
        broadcast_id=broadcast_id,
        actor_id=actor.id if actor else None,
        action=action,
        target_member_id=target_member_id,
        target_position=target_position,
        detail=json.dumps(detail or {}, ensure_ascii=False),
        reason=clean_line(reason)[:500],
    )
    db.add(entry)
    return entry


# --- what a member may do now -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Restriction:
    """Why a member cannot comment now; `until` lets the page show the remaining time."""

    code: str
    message: str
    until: dt.datetime | None = None


def _active_sanctions(member_id: int, broadcast: Broadcast, now: dt.datetime) -> Any:
    return _sanctions_query(member_id, broadcast.id, broadcast.program_id, now)


def _sanctions_query(member_id: int, broadcast_id: int, program_id: int | None, now: dt.datetime) -> Any:
    scope = [Sanction.scope == SanctionScope.SITE]
    if program_id is not None:
        scope.append(and_(Sanction.scope == SanctionScope.PROGRAM, Sanction.program_id == program_id))
    else:
        scope.append(and_(Sanction.scope == SanctionScope.PROGRAM, Sanction.broadcast_id == broadcast_id))
    return (
        select(Sanction)
        .where(
            Sanction.member_id == member_id,
            Sanction.lifted_at.is_(None),
            or_(Sanction.until.is_(None), Sanction.until > now),
            or_(*scope),
        )
        .order_by(Sanction.until.desc())
    )


async def restriction_for(
    db: AsyncSession,
    member: Member,
    broadcast: Broadcast,
    now: dt.datetime | None = None,
    *,
    moderator: bool | None = None,
) -> Restriction | None:
    """Bans, timeouts, comments off and room lock; moderators are never restricted.

    `moderator` skips the role lookup when the caller already knows (a room connection
    decides it once at join).
    """
    if moderator is None:
        moderator = await can_moderate(db, member, broadcast)
    if moderator:
        return None
    return await restriction_of(db, member.id, broadcast.id, broadcast.program_id, now)


async def restriction_of(
    db: AsyncSession, member_id: int, broadcast_id: int, program_id: int | None, now: dt.datetime | None = None
) -> Restriction | None:
    """`restriction_for` of a non-moderator, by ids (the comment path has no Broadcast loaded)."""
    now = now or utcnow()
    room = await db.get(RoomControls, broadcast_id)
    if room is not None and room.comments_off:
        return Restriction("comments_off", "この放送ではコメントが停止されています。")
    if room is not None and room.locked:
        return Restriction("room_locked", "ルームはロック中です（閲覧のみ）。")
    sanctions = list((await db.execute(_sanctions_query(member_id, broadcast_id, program_id, now))).unique().scalars())
    bans = [s for s in sanctions if s.kind is SanctionKind.BAN]
    if bans:
        where = "すべての放送" if bans[0].scope is SanctionScope.SITE else "この番組"
        return Restriction("banned", f"{where}でのコメントが禁止されています。", bans[0].until)
    if sanctions:
        return Restriction("timed_out", "タイムアウト中のためコメントできません。", sanctions[0].until)
    return None


async def slow_mode_seconds(db: AsyncSession, broadcast_id: int) -> int:
    room = await db.get(RoomControls, broadcast_id)
    return room.slow_mode_seconds if room else 0


# --- actions ----------------------------------------------------------------------------


async def _target(db: AsyncSession, member_id: int) -> Member:
    member = await db.get(Member, member_id)
    if member is None:
        raise ModerationError("unknown_member", "対象のメンバーが見つかりません。", 404)
    return member


async def timeout(
    db: AsyncSession, actor: Member, broadcast: Broadcast, member_id: int, seconds: int, reason: str = ""
) -> Sanction:
    await require_moderator(db, actor, broadcast)
    if not TIMEOUT_MIN <= seconds <= TIMEOUT_MAX:
        raise ModerationError("invalid_duration", f"タイムアウトは{TIMEOUT_MIN}秒〜24時間の範囲で指定してください。")
    target = await _target(db, member_id)
    if await can_moderate(db, target, broadcast):
        raise ModerationError("target_is_moderator", "モデレーターをタイムアウトすることはできません。")
    sanction = Sanction(
        member_id=target.id,
        kind=SanctionKind.TIMEOUT,
        scope=SanctionScope.PROGRAM,
        program_id=broadcast.program_id,
        broadcast_id=broadcast.id,
        until=utcnow() + dt.timedelta(seconds=seconds),
        reason=clean_line(reason)[:500],
        created_by_id=actor.id,
    )
    db.add(sanction)
    _log(db, broadcast.id, actor, "timeout", target_member_id=target.id, detail={"seconds": seconds}, reason=reason)
    await db.commit()
    return sanction


async def ban(
    db: AsyncSession, actor: Member, broadcast: Broadcast, member_id: int, scope: str, reason: str = ""
) -> Sanction:
    await require_moderator(db, actor, broadcast)
    if scope not in {s.value for s in SanctionScope}:
        raise ModerationError("invalid_scope", "禁止の範囲は「この番組」か「すべての放送」を選んでください。")
    if scope == SanctionScope.SITE and not actor.has_role(Role.MODERATOR):
        raise ModerationError("forbidden", "すべての放送での禁止はサイトのモデレーターと運営だけが行えます。", 403)
    target = await _target(db, member_id)
    if await can_moderate(db, target, broadcast):
        raise ModerationError("target_is_moderator", "モデレーターを禁止することはできません。")
    sanction = Sanction(
        member_id=target.id,
        kind=SanctionKind.BAN,
        scope=SanctionScope(scope),
        program_id=broadcast.program_id if scope == SanctionScope.PROGRAM else None,
        broadcast_id=broadcast.id,
        reason=clean_line(reason)[:500],
        created_by_id=actor.id,
    )
    db.add(sanction)
    _log(db, broadcast.id, actor, "ban", target_member_id=target.id, detail={"scope": scope}, reason=reason)
    await db.commit()
    return sanction


async def lift(db: AsyncSession, actor: Member, broadcast: Broadcast, member_id: int, reason: str = "") -> int:
    """Lift every active timeout and ban of the member that applies to this broadcast."""
    await require_moderator(db, actor, broadcast)
    active = list((await db.execute(_active_sanctions(member_id, broadcast, utcnow()))).unique().scalars())
    if any(s.scope is SanctionScope.SITE for s in active) and not actor.has_role(Role.MODERATOR):
        raise ModerationError(
            "forbidden", "すべての放送での禁止を解除できるのはサイトのモデレーターと運営だけです。", 403
        )
    now = utcnow()
    for sanction in active:
        sanction.lifted_at = now
        sanction.lifted_by_id = actor.id
    _log(db, broadcast.id, actor, "lift", target_member_id=member_id, detail={"count": len(active)}, reason=reason)
    await db.commit()
    return len(active)


async def set_controls(db: AsyncSession, actor: Member, broadcast: Broadcast, **changes: Any) -> RoomControls:
    """Slow mode, lock, comments off, moderation delay, pinned announcement, picked question."""
    await require_moderator(db, actor, broadcast)
    room = await controls(db, broadcast.id)
    for key, value in changes.items():
        if key == "slow_mode_seconds":
            if not isinstance(value, int) or not 0 <= value <= SLOW_MODE_MAX:
                raise ModerationError("invalid_value", "スローモードは0〜3600秒で指定してください。")
            room.slow_mode_seconds = value
            _log(db, broadcast.id, actor, "slow_mode", detail={"seconds": value})
        elif key == "delay_seconds":
            if not isinstance(value, int) or not 0 <= value <= DELAY_MAX:
                raise ModerationError("invalid_value", f"表示遅延は0〜{DELAY_MAX}秒で指定してください。")
            room.delay_seconds = value
            _log(db, broadcast.id, actor, "delay", detail={"seconds": value})
        elif key in {"locked", "comments_off"}:
            setattr(room, key, bool(value))
            _log(db, broadcast.id, actor, "lock" if key == "locked" else "comments_off", detail={"on": bool(value)})
        elif key == "pinned_text":
            text = clean_line(str(value))
            if len(text) > PIN_MAX:
                raise ModerationError("too_long", f"お知らせは{PIN_MAX}文字以内で入力してください。")
            room.pinned_text = text
            _log(db, broadcast.id, actor, "pin", detail={"text": text})
        elif key == "picked_position":
            if value is not None and (not isinstance(value, int) or not 1 <= value <= MAX_ID):
                raise ModerationError("invalid_value", "質問の番号が正しくありません。")
            room.picked_position = value
            _log(db, broadcast.id, actor, "pick", target_position=value)
        else:
            raise ModerationError("unknown_control", f"不明な設定です: {key}")
    await db.commit()
    return room


async def add_blocked_word(
    db: AsyncSession, actor: Member, word: str, action: str, program_id: int | None, broadcast: Broadcast | None = None
) -> BlockedWord:
    """Site-wide words need a site moderator; a program's words its moderators."""
    if program_id is None:
        if not actor.has_role(Role.MODERATOR):
            raise ModerationError(
                "forbidden", "サイト全体の禁止ワードはサイトのモデレーターと運営だけが設定できます。", 403
            )
    elif broadcast is None or broadcast.program_id != program_id:
        raise ModerationError("invalid_program", "番組の指定が正しくありません。")
    else:
        await require_moderator(db, actor, broadcast)
    cleaned = clean_line(word)
    if not cleaned:
        raise ModerationError("empty_word", "禁止ワードを入力してください。")
    if len(cleaned) > WORD_MAX:
        raise ModerationError("too_long", f"禁止ワードは{WORD_MAX}文字以内で入力してください。")
    if len(normalize_word(cleaned).strip()) < 1:
        raise ModerationError("empty_word", "禁止ワードを入力してください。")
    if action not in {a.value for a in WordAction}:
        raise ModerationError("invalid_action", "禁止ワードの動作は「拒否」か「保留して確認」を選んでください。")
    normalized = normalize_word(cleaned)
    existing = await db.execute(
        select(BlockedWord.id).where(
            BlockedWord.normalized == normalized,
            BlockedWord.program_id.is_(None) if program_id is None else BlockedWord.program_id == program_id,
        )
    )
    if existing.first() is not None:
        raise ModerationError("duplicate_word", "この禁止ワードは既に登録されています。", 409)
    rule = BlockedWord(
        program_id=program_id,
        word=cleaned,
        normalized=normalize_word(cleaned),
        action=WordAction(action),
        created_by_id=actor.id,
    )
    db.add(rule)
    _log(db, broadcast.id if broadcast else None, actor, "word_add", detail={"word": cleaned, "action": action})
    try:
        await db.commit()
    except IntegrityError:  # the same word added concurrently
        await db.rollback()
        raise ModerationError("duplicate_word", "この禁止ワードは既に登録されています。", 409) from None
    return rule


async def remove_blocked_word(db: AsyncSession, actor: Member, word_id: int, broadcast: Broadcast | None) -> None:
    rule = await db.get(BlockedWord, word_id)
    if rule is None:
        raise ModerationError("not_found", "禁止ワードが見つかりません。", 404)
    if rule.program_id is None:
        if not actor.has_role(Role.MODERATOR):
            raise ModerationError(
                "forbidden", "サイト全体の禁止ワードはサイトのモデレーターと運営だけが削除できます。", 403
            )
    elif broadcast is None or broadcast.program_id != rule.program_id:
        raise ModerationError("invalid_program", "この番組の禁止ワードではありません。")
    else:
        await require_moderator(db, actor, broadcast)
    _log(db, broadcast.id if broadcast else None, actor, "word_remove", detail={"word": rule.word})
    await db.delete(rule)
    await db.commit()


async def blocked_words(db: AsyncSession, program_id: int | None) -> list[BlockedWord]:
    rows = await db.execute(
        select(BlockedWord)
        .where(or_(BlockedWord.program_id.is_(None), BlockedWord.program_id == program_id))
        .order_by(BlockedWord.program_id.is_(None).desc(), BlockedWord.word)
    )
    return list(rows.scalars())


async def hold_in(
    db: AsyncSession, broadcast_id: int, member_id: int, text: str, word: str, ref: str | None = None
) -> HeldComment:
    """Keep a comment for review; a resend with the same `ref` returns the one already held."""
    held = HeldComment(broadcast_id=broadcast_id, member_id=member_id, text=text, matched_word=word, ref=ref)
    db.add(held)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        existing = (
            await db.execute(
                select(HeldComment).where(
                    HeldComment.broadcast_id == broadcast_id,
                    HeldComment.member_id == member_id,
                    HeldComment.ref == ref,
                )
            )
        ).scalar_one_or_none()
        if existing is None:
            raise
        return existing
    return held


async def undo_approval(db: AsyncSession, held_id: int) -> None:
    """Back to pending when an approved comment could not be posted (room closed): never lost."""
    await db.execute(
        update(HeldComment)
        .where(HeldComment.id == held_id, HeldComment.status == HeldStatus.APPROVED, HeldComment.position.is_(None))
        .values(status=HeldStatus.PENDING, reviewed_by_id=None, reviewed_at=None)
        .execution_options(synchronize_session=False)
    )
    await db.commit()


async def set_held_position(db: AsyncSession, held_id: int, position: int) -> None:
    await db.execute(
        update(HeldComment)
        .where(HeldComment.id == held_id)
        .values(position=position)
        .execution_options(synchronize_session=False)
    )
    await db.commit()


async def held_comments(db: AsyncSession, broadcast_id: int) -> list[HeldComment]:
    rows = await db.execute(
        select(HeldComment)
        .where(HeldComment.broadcast_id == broadcast_id, HeldComment.status == HeldStatus.PENDING)
        .order_by(HeldComment.created_at)
    )
    return list(rows.unique().scalars())


async def decide_held(
    db: AsyncSession, actor: Member, broadcast: Broadcast, held_id: int, approve: bool
) -> HeldComment:
    """Mark a held comment approved/rejected exactly once (two moderators racing: one wins)."""
    await require_moderator(db, actor, broadcast)
    held = await db.get(HeldComment, held_id)
    if held is None or held.broadcast_id != broadcast.id:
        raise ModerationError("not_found", "保留中のコメントが見つかりません。", 404)
    # Conditional update: of two moderators deciding at once, exactly one changes the row.
    result = await db.execute(
        update(HeldComment)
        .where(HeldComment.id == held_id, HeldComment.status == HeldStatus.PENDING)
        .values(
            status=HeldStatus.APPROVED if approve else HeldStatus.REJECTED,
            reviewed_by_id=actor.id,
            reviewed_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        await db.commit()
        raise ModerationError("already_decided", "このコメントは既に他のモデレーターが処理しました。", 409)
    _log(
        db,
        broadcast.id,
        actor,
        "approve" if approve else "reject",
        target_member_id=held.member_id,
        detail={"text": held.text, "word": held.matched_word},
    )
    await db.commit()
    await db.refresh(held)
    return held


async def report(db: AsyncSession, reporter: Member, broadcast: Broadcast, position: int, reason: str) -> CommentReport:
    existing = await db.execute(
        select(CommentReport.id).where(
            CommentReport.broadcast_id == broadcast.id,
            CommentReport.position == position,
            CommentReport.reporter_id == reporter.id,
        )
    )
    if existing.first() is not None:
        raise ModerationError("already_reported", "このコメントは既に通報済みです。", 409)
    entry = CommentReport(
        broadcast_id=broadcast.id,
        position=position,
        reporter_id=reporter.id,
        reason=clean_line(reason)[:REPORT_REASON_MAX],
    )
    db.add(entry)
    try:
        await db.flush()
        await _notify_report(db, reporter, broadcast, entry)
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise ModerationError("already_reported", "このコメントは既に通報済みです。", 409) from None
    return entry


async def _notify_report(db: AsyncSession, reporter: Member, broadcast: Broadcast, entry: CommentReport) -> None:
    """The broadcast's own moderators (personality, program personality, named moderators) and site moderators."""
    personal = [i for i in (broadcast.personality_id,) if i]
    if broadcast.program_id is not None:
        program = await db.get(Program, broadcast.program_id)
        if program is not None and program.personality_id:
            personal.append(program.personality_id)
        named = select(ProgramModerator.member_id).where(ProgramModerator.program_id == broadcast.program_id)
        personal.extend((await db.execute(named)).scalars())
    site = select(Member.id).where(Member.role == Role.MODERATOR)
    await notify(
        db,
        Kind.REPORT_RECEIVED,
        any_of(members(personal), site) if personal else site,
        event_key=f"report:{entry.id}",
        title=f"コメントが通報されました: {broadcast.title}",
        body=f"理由: {entry.reason}" if entry.reason else "",
        url=f"/broadcasts/{broadcast.id}/control",
        exclude=[reporter.id],
    )


async def open_reports(db: AsyncSession, broadcast_id: int) -> list[CommentReport]:
    rows = await db.execute(
        select(CommentReport)
        .where(CommentReport.broadcast_id == broadcast_id, CommentReport.handled_at.is_(None))
        .order_by(CommentReport.created_at)
    )
    return list(rows.unique().scalars())


async def handle_report(db: AsyncSession, actor: Member, broadcast: Broadcast, report_id: int) -> CommentReport:
    """Mark a report handled exactly once; the second moderator gets `already_handled`."""
    await require_moderator(db, actor, broadcast)
    entry = await db.get(CommentReport, report_id)
    if entry is None or entry.broadcast_id != broadcast.id:
        raise ModerationError("not_found", "通報が見つかりません。", 404)
    result = await db.execute(
        update(CommentReport)
        .where(CommentReport.id == report_id, CommentReport.handled_at.is_(None))
        .values(handled_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        await db.commit()
        raise ModerationError("already_handled", "この通報は既に対応済みです。", 409)
    _log(db, broadcast.id, actor, "report_handled", target_position=entry.position, detail={"report": report_id})
    await db.commit()
    return entry


async def active_sanctions(db: AsyncSession, broadcast: Broadcast) -> list[Sanction]:
    """Timeouts and bans in force for this broadcast (any member), newest first."""
    now = utcnow()
    scope = [Sanction.scope == SanctionScope.SITE, Sanction.broadcast_id == broadcast.id]
    if broadcast.program_id is not None:
        scope.append(and_(Sanction.scope == SanctionScope.PROGRAM, Sanction.program_id == broadcast.program_id))
    rows = await db.execute(
        select(Sanction)
        .where(Sanction.lifted_at.is_(None), or_(Sanction.until.is_(None), Sanction.until > now), or_(*scope))
        .order_by(Sanction.created_at.desc())
        .limit(200)
    )
    return list(rows.unique().scalars())


async def audit_log(db: AsyncSession, broadcast_id: int) -> list[ModerationAction]:
    rows = await db.execute(
        select(ModerationAction)
        .where(ModerationAction.broadcast_id == broadcast_id)
        .order_by(ModerationAction.created_at.desc(), ModerationAction.id.desc())
    )
    return list(rows.unique().scalars())


def log_comment_visibility(
    db: AsyncSession, actor: Member, broadcast_id: int, position: int, author_id: int, hidden: bool, reason: str
) -> None:
    """Audit row for hide/restore; the rooms service calls this inside its own transaction."""
    _log(
        db,
        broadcast_id,
        actor,
        "hide" if hidden else "restore",
        target_member_id=author_id,
        target_position=position,
        reason=reason,
    )


async def viewer_samples(db: AsyncSession, broadcast_id: int, limit: int = 2880) -> list[tuple[dt.datetime, int]]:
    """Viewer-count samples, oldest first (at most `limit`, the last 24 hours at one per 30 s)."""
    rows = await db.execute(
        select(ViewerSample.at, ViewerSample.viewers)
        .where(ViewerSample.broadcast_id == broadcast_id)
        .order_by(ViewerSample.at.desc())
        .limit(limit)
    )
    return [(at, n) for at, n in reversed(rows.all())]
