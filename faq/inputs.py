"""FAQ inputs: one msgspec struct per input, shared by the HTML form and the JSON API, and their validate step.

The JSON API (`/api/faq/…`, faq/api.py) decodes straight into these structs; a form is read once
(core.forms.read_form) and converted once with `from_form` (faq/pages.py). Declared bounds are the
hard caps of the input (what any client may send); the product's rules with their Japanese messages
(a title of 100 characters, a meeting URL, an entry's question and answer) are checked by `validate`
or by the action that stores the input (faq.service / faq.documents), keyed by field for the form.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from core.bounds import EARLIEST, LATEST, MAX_ID, Id, Position
from core.forms import MAX_FIELD
from core.timefmt import JST
from faq.documents import MAX_ENTRIES, EntryInput
from faq.service import FaqError

Text = Annotated[str, msgspec.Meta(max_length=MAX_FIELD)]
Short = Annotated[str, msgspec.Meta(max_length=200)]
Votes = Annotated[int, msgspec.Meta(ge=0, le=MAX_ID)]


def form_number(value: str | None, label: str) -> int:
    """A whole number typed in a form (ids, counts, votes), or a Japanese refusal naming it."""
    raw = (value or "").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10 or int(raw) > MAX_ID:
        raise FaqError("bad_number", f"{label}が正しくありません。")
    return int(raw)


def _form_id(form: dict[str, str], key: str, label: str) -> int | None:
    return form_number(form[key], label) if form.get(key) else None


# --- the organisers' forms -----------------------------------------------------------------


class SeriesInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A new study series (/faq/series/new)."""

    title: Text
    description: Text = ""
    section_id: Id | None = None
    categories: Text = ""  # one per line

    @classmethod
    def from_form(cls, form: dict[str, str]) -> SeriesInput:
        return cls(
            title=form.get("title", ""),
            description=form.get("description", ""),
            section_id=_form_id(form, "section_id", "課"),
            categories=form.get("categories", ""),
        )


class SessionInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A new session of a series; `starts_at` is local ISO (2026-12-10T19:00, Asia/Tokyo) or with an offset."""

    title: Text
    starts_at: Short
    meeting_url: Text = ""
    broadcast_id: Id | None = None
    premoderation: bool = False

    @classmethod
    def from_form(cls, form: dict[str, str]) -> SessionInput:
        return cls(
            title=form.get("title", ""),
            starts_at=form.get("starts_at", "")[:200],
            meeting_url=form.get("meeting_url", ""),
            broadcast_id=_form_id(form, "broadcast_id", "放送"),
            premoderation=form.get("premoderation") == "on",
        )

    def start(self) -> dt.datetime:
        """The validate step: the start as UTC, within the bounded years."""
        try:
            local = dt.datetime.fromisoformat(self.starts_at)
        except ValueError:
            raise FaqError("bad_datetime", "開始日時を正しく入力してください。") from None
        if not EARLIEST <= local.date() <= LATEST:
            raise FaqError("bad_datetime", "開始日時は2000年から2100年までの範囲で入力してください。")
        return (local if local.tzinfo else local.replace(tzinfo=JST)).astimezone(dt.UTC)


class TopicInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A member's topic request for a series."""

    title: Text
    body: Text = ""

    @classmethod
    def from_form(cls, form: dict[str, str]) -> TopicInput:
        return cls(title=form.get("title", ""), body=form.get("body", ""))


class EntryRow(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One row of the FAQ document editor."""

    category: Text = ""
    question: Text = ""
    answer: Text = ""
    votes: Votes = 0
    question_id: Id | None = None

    def entry(self) -> EntryInput:
        return EntryInput(self.category, self.question.strip(), self.answer.strip(), self.votes, self.question_id)


class DocumentEditInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The document editor: title, introduction, rows; `publish` also publishes with `note`."""

    title: Text
    intro: Text = ""
    note: Text = ""
    entries: Annotated[list[EntryRow], msgspec.Meta(max_length=MAX_ENTRIES + 1)] = msgspec.field(default_factory=list)
    publish: bool = False

    @classmethod
    def from_form(cls, form: dict[str, str]) -> DocumentEditInput:
        """Rows in form order; deleted rows and the blank "add an entry" row (the last) are left out."""
        rows = []
        count = min(form_number(form.get("count", "0"), "件数"), MAX_ENTRIES + 1)
        for i in range(count + 1):
            q, a = form.get(f"question-{i}", "").strip(), form.get(f"answer-{i}", "").strip()
            if form.get(f"delete-{i}") == "on" or (i == count and not q and not a):
                continue
            rows.append(
                EntryRow(
                    category=form.get(f"category-{i}", ""),
                    question=q,
                    answer=a,
                    votes=form_number(form.get(f"votes-{i}") or "0", "票数"),
                    question_id=_form_id(form, f"qid-{i}", "質問"),
                )
            )
        return cls(
            title=form.get("title", ""),
            intro=form.get("intro", ""),
            note=form.get("note", ""),
            entries=rows,
            publish=form.get("action") == "publish",
        )

    def entry_inputs(self) -> list[EntryInput]:
        return [row.entry() for row in self.entries]


# --- the board's JSON actions --------------------------------------------------------------


class QuestionIn(msgspec.Struct, forbid_unknown_fields=True):
    body: Text = ""
    category: Text = ""
    anonymous: bool = False


class AnswerIn(msgspec.Struct):
    answer: Text = ""
    mark_answered: bool = True


class ReasonIn(msgspec.Struct):
    reason: Text = ""


class EditIn(msgspec.Struct):
    body: Text | None = None
    category: Text | None = None


class MergeIn(msgspec.Struct):
    into: Position = 0


class AnsweringIn(msgspec.Struct):
    question_id: Id | None = None


class ToggleIn(msgspec.Struct):
    on: bool = False
