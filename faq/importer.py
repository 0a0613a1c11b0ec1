"""`chonai faq import PATH`: load existing FAQ documents from JSON Lines, all or nothing, idempotently.

One entry per line (field types in the README): {"series": str, "session": int, "date":
"YYYY-MM-DD", "category": str, "question": str, "answer": str}. Every line is checked before
anything is written; a bad line is refused with its line and column. An entry is identified by
its series, session number and question: importing the same file again changes nothing, a
changed answer or category updates the entry and publishes the next version of that document.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.bounds import in_range
from core.errors import Invalid
from core.text import clean_block, clean_line
from core.timefmt import JST
from faq.documents import document_of, document_title, publish
from faq.models import DraftEntry, FaqDocument, SessionState, StudySeries, StudySession

FIELDS = ("series", "session", "date", "category", "question", "answer")
MAX_LINE = 100_000

# json's English reasons, in the words of the error message.
_JSON_REASONS = {
    "Expecting property name enclosed in double quotes": '項目名を " で囲んでください（余分な , はありませんか）',
    "Expecting value": '値がありません（文字列は " で囲みます）',
    "Expecting ',' delimiter": "項目の間に , がありません",
    "Expecting ':' delimiter": "項目名の後に : がありません",
    "Unterminated string starting at": '文字列が " で閉じられていません',
    "Extra data": "オブジェクトの後に余分な文字があります",
    "Invalid control character at": "文字列の中に改行やタブがあります（\\n と書いてください）",
}


class ImportError_(ValueError):
    def __init__(self, line: int, message: str, column: int | None = None) -> None:
        where = f"{line}行目" + (f" {column}文字目" if column else "")
        super().__init__(f"{where}: {message}")
        self.line = line
        self.column = column


@dataclass
class Row:
    line: int
    series: str
    session: int
    date: dt.date
    category: str
    question: str
    answer: str


@dataclass
class Change:
    """What importing did (or, with --dry-run, would do) to one session's FAQ document."""

    series: str
    session: int
    new_series: bool = False
    new_session: bool = False
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    version: int | None = None  # the version published, None when nothing changed

    def line(self) -> str:
        news = ("（新しいシリーズ）" if self.new_series else "") + ("（新しい回）" if self.new_session else "")
        result = f"v{self.version} を公開" if self.version else "変更なし"
        return (
            f"  {self.series} 第{self.session}回{news}: 追加 {self.added}, 変更 {self.changed}, "
            f"同じ {self.unchanged} → {result}"
        )


@dataclass
class Summary:
    entries: int
    series_created: int = 0
    sessions_created: int = 0
    documents_published: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    changes: list[Change] = field(default_factory=list)


def _column_of(raw: str, name: str) -> int | None:
    """The column (1-based, in characters) where the value of field `name` starts on this line."""
    match = re.search(r'"' + re.escape(name) + r'"\s*:\s*', raw)
    return match.end() + 1 if match else None


def parse_line(number: int, raw: str) -> Row | None:
    if not raw.strip():
        return None
    if len(raw) > MAX_LINE:
        raise ImportError_(number, f"1行が長すぎます（{MAX_LINE}文字まで）。")
    stripped = raw.rstrip("\r\n")
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError as exc:
        # exc.colno counts characters of this line (the BOM is already gone), 1-based: what editors show.
        reason = next((ja for en, ja in _JSON_REASONS.items() if exc.msg.startswith(en)), exc.msg)
        raise ImportError_(number, f"JSONとして読めません: {reason}。", exc.colno) from None
    if not isinstance(data, dict):
        raise ImportError_(number, "1行に1つのJSONオブジェクト { … } を書いてください。", 1)
    missing = [f for f in FIELDS if f not in data]
    if missing:
        raise ImportError_(number, "項目がありません: " + ", ".join(missing))

    def bad(name: str, message: str) -> ImportError_:
        return ImportError_(number, f"{name}: {message}", _column_of(stripped, name))

    for f in ("series", "date", "category", "question", "answer"):
        if not isinstance(data[f], str):
            raise bad(f, '文字列（"…"）にしてください。')
    session = data["session"]
    if isinstance(session, bool) or not isinstance(session, int) or not 1 <= session <= 10_000:
        raise bad("session", '1〜10000 の整数（"" で囲まない数）にしてください。')
    try:
        date = in_range(dt.date.fromisoformat(data["date"]))
    except (ValueError, Invalid):
        raise bad("date", f"YYYY-MM-DD 形式にしてください（{data['date'][:20]!r}）。") from None
    series = clean_line(data["series"])
    question = clean_block(data["question"])
    answer = clean_block(data["answer"])
    category = clean_line(data["category"]) or "その他"
    if not series or len(series) > 100:
        raise bad("series", "1〜100文字にしてください。")
    if not question or len(question) > 1000:
        raise bad("question", "1〜1000文字にしてください。")
    if not answer or len(answer) > 10_000:
        raise bad("answer", "1〜10000文字にしてください。")
    if len(category) > 40:
        raise bad("category", "40文字以内にしてください。")
    return Row(number, series, session, date, category, question, answer)


def read_rows(path: Path) -> list[Row]:
    rows = []
    seen: dict[tuple[str, int, str], int] = {}
    with path.open("rb") as f:
        for number, raw_bytes in enumerate(f, 1):
            try:
                raw = raw_bytes.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise ImportError_(number, "UTF-8 ではありません。") from None
            row = parse_line(number, raw)
            if row is None:
                continue
            key = (row.series, row.session, row.question)
            if key in seen:
                raise ImportError_(number, f"question: 同じ回の同じ質問が{seen[key]}行目にもあります。")
            seen[key] = number
            rows.append(row)
    if not rows:
        raise ImportError_(0, "取り込む行がありません。")
    return rows


async def import_rows(
    db: AsyncSession, rows: list[Row], progress: Callable[[int, int], None], *, dry_run: bool = False
) -> Summary:
    """Merge every row in one transaction; a new version only for documents that changed.

    With `dry_run` the same work is done and then rolled back, so the report is exactly what
    a real import would do.
    """
    summary = Summary(len(rows))
    groups: dict[tuple[str, int], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.series, row.session), []).append(row)
    done = 0
    try:
        for (series_title, number), items in groups.items():
            base = done

            def tick(n: int, base: int = base) -> None:
                progress(base + n, len(rows))

            change = await _merge_group(db, series_title, number, items, tick)
            summary.changes.append(change)
            summary.series_created += change.new_series
            summary.sessions_created += change.new_session
            summary.documents_published += change.version is not None
            summary.added += change.added
            summary.changed += change.changed
            summary.unchanged += change.unchanged
            done += len(items)
            progress(done, len(rows))
        if dry_run:
            await db.rollback()
        else:
            await db.commit()
    except BaseException:
        await db.rollback()
        raise
    return summary


async def _session_for(db: AsyncSession, series_title: str, number: int, first: Row, change: Change) -> StudySession:
    series = (await db.execute(select(StudySeries).where(StudySeries.title == series_title))).scalar_one_or_none()
    if series is None:
        series = StudySeries(title=series_title)
        db.add(series)
        await db.flush()
        change.new_series = True
    session = (
        await db.execute(select(StudySession).where(StudySession.series_id == series.id, StudySession.number == number))
    ).scalar_one_or_none()
    if session is None:
        start = dt.datetime.combine(first.date, dt.time(19, 0), JST).astimezone(dt.UTC)
        session = StudySession(
            series_id=series.id,
            number=number,
            title=f"第{number}回",
            starts_at=start,
            state=SessionState.ENDED,
            ended_at=start,
        )
        db.add(session)
        await db.flush()
        await db.refresh(session, ["series"])
        change.new_session = True
    return session


async def _merge_group(
    db: AsyncSession, series_title: str, number: int, items: list[Row], tick: Callable[[int], None]
) -> Change:
    change = Change(series_title, number)
    session = await _session_for(db, series_title, number, items[0], change)
    doc = await document_of(db, session.id)
    if doc is None:
        doc = FaqDocument(session_id=session.id, title=document_title(session))
        db.add(doc)
        await db.flush()
    existing = list(
        (
            await db.execute(select(DraftEntry).where(DraftEntry.document_id == doc.id).order_by(DraftEntry.ord))
        ).scalars()
    )
    by_question = {entry.question: entry for entry in existing}
    next_ord = max((entry.ord for entry in existing), default=-1) + 1
    for i, row in enumerate(items, 1):
        if i % 100 == 0:  # a large document moves the bar too
            tick(i)
        entry = by_question.get(row.question)
        if entry is None:
            db.add(
                DraftEntry(
                    document_id=doc.id, ord=next_ord, category=row.category, question=row.question, answer=row.answer
                )
            )
            next_ord += 1
            change.added += 1
        elif entry.answer != row.answer or entry.category != row.category:
            entry.answer, entry.category = row.answer, row.category
            change.changed += 1
        else:
            change.unchanged += 1
    await db.flush()
    if change.added or change.changed or not doc.current_version:
        note = f"インポート（追加 {change.added}、変更 {change.changed}）" if doc.current_version else ""
        version = await publish(db, None, doc, note, check=False, commit=False)
        change.version = version.number
    return change
