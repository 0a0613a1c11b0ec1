"""`chonai faq import PATH`: load existing FAQ documents from JSON Lines, all or nothing.

One entry per line: {"series", "session" (number), "date" (YYYY-MM-DD), "category",
"question", "answer"}. Every line is checked before anything is written; a bad
line is refused with its line number.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
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


class ImportError_(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"{line}行目: {message}")
        self.line = line


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
class Summary:
    entries: int
    series_created: int
    sessions_created: int
    documents_published: int


def parse_line(number: int, raw: str) -> Row | None:
    if not raw.strip():
        return None
    if len(raw) > MAX_LINE:
        raise ImportError_(number, f"1行が長すぎます（{MAX_LINE}文字まで）。")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ImportError_(number, f"JSONとして読めません（{exc.msg}、{exc.colno}文字目）。") from None
    if not isinstance(data, dict):
        raise ImportError_(number, "1行に1つのJSONオブジェクトを書いてください。")
    missing = [f for f in FIELDS if f not in data]
    if missing:
        raise ImportError_(number, "項目がありません: " + ", ".join(missing))
    for f in ("series", "date", "category", "question", "answer"):
        if not isinstance(data[f], str):
            raise ImportError_(number, f"{f} は文字列にしてください。")
    session = data["session"]
    if isinstance(session, bool) or not isinstance(session, int) or not 1 <= session <= 10_000:
        raise ImportError_(number, "session は1以上の回数（整数）にしてください。")
    try:
        date = in_range(dt.date.fromisoformat(data["date"]))
    except (ValueError, Invalid):
        raise ImportError_(number, f"date は YYYY-MM-DD 形式にしてください（{data['date'][:20]!r}）。") from None
    series = clean_line(data["series"])
    question = clean_block(data["question"])
    answer = clean_block(data["answer"])
    category = clean_line(data["category"]) or "その他"
    if not series or len(series) > 100:
        raise ImportError_(number, "series は1〜100文字にしてください。")
    if not question or len(question) > 1000:
        raise ImportError_(number, "question は1〜1000文字にしてください。")
    if not answer or len(answer) > 10_000:
        raise ImportError_(number, "answer は1〜10000文字にしてください。")
    if len(category) > 40:
        raise ImportError_(number, "category は40文字以内にしてください。")
    return Row(number, series, session, date, category, question, answer)


def read_rows(path: Path) -> list[Row]:
    rows = []
    with path.open("rb") as f:
        for number, raw_bytes in enumerate(f, 1):
            try:
                raw = raw_bytes.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise ImportError_(number, "UTF-8 ではありません。") from None
            row = parse_line(number, raw)
            if row is not None:
                rows.append(row)
    if not rows:
        raise ImportError_(0, "取り込む行がありません。")
    return rows


async def import_rows(db: AsyncSession, rows: list[Row], progress: Callable[[int, int], None]) -> Summary:
    """Write every row in one transaction; a published version per (series, session)."""
    summary = Summary(len(rows), 0, 0, 0)
    groups: dict[tuple[str, int], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.series, row.session), []).append(row)
    done = 0
    try:
        for (series_title, number), items in groups.items():
            series = (
                await db.execute(select(StudySeries).where(StudySeries.title == series_title))
            ).scalar_one_or_none()
            if series is None:
                series = StudySeries(title=series_title)
                db.add(series)
                await db.flush()
                summary.series_created += 1
            session = (
                await db.execute(
                    select(StudySession).where(StudySession.series_id == series.id, StudySession.number == number)
                )
            ).scalar_one_or_none()
            if session is None:
                start = dt.datetime.combine(items[0].date, dt.time(19, 0), JST).astimezone(dt.UTC)
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
                summary.sessions_created += 1
            doc = await document_of(db, session.id)
            if doc is None:
                doc = FaqDocument(session_id=session.id, title=document_title(session))
                db.add(doc)
                await db.flush()
            existing = list((await db.execute(select(DraftEntry).where(DraftEntry.document_id == doc.id))).scalars())
            for i, row in enumerate(items, len(existing)):
                db.add(
                    DraftEntry(
                        document_id=doc.id, ord=i, category=row.category, question=row.question, answer=row.answer
                    )
                )
            await db.flush()
            await publish(db, None, doc, "インポート" if doc.current_version else "", check=False, commit=False)
            summary.documents_published += 1
            done += len(items)
            progress(done, len(rows))
        await db.commit()
    except BaseException:
        await db.rollback()
        raise
    return summary
