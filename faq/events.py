"""Q&A board messages: what the bus carries between processes and what a WebSocket client receives.

Every kind is a msgspec tagged struct. The bus carries full records (including who
asked an anonymous question); each connection turns them into the view its viewer
may see, so anonymity holds on the wire too.
"""

from __future__ import annotations

import datetime as dt

import msgspec


def board_channel(session_id: int) -> str:
    return f"faq:session:{session_id}"


# --- on the bus ----------------------------------------------------------------------------


class QuestionRecord(msgspec.Struct, kw_only=True):
    id: int
    session_id: int
    position: int
    body: str
    category: str
    status: str
    votes: int
    anonymous: bool
    author_name: str
    author_affiliation: str
    asker_ids: list[int]
    asker_names: list[str]  # moderators only
    voter_ids: list[int]
    answer: str
    dismiss_reason: str
    merged_into_id: int | None
    merged_bodies: list[str]
    created_at: dt.datetime
    answer_html: str = ""  # the answer through faq.render (sanitised); a default keeps older publishers readable


class QuestionChanged(msgspec.Struct, tag="question_changed", kw_only=True):
    question: QuestionRecord


class BoardChanged(msgspec.Struct, tag="board_changed", kw_only=True):
    session_id: int
    position: int
    state: str
    answering_id: int | None
    premoderation: bool


BusEvent = QuestionChanged | BoardChanged
bus_decoder = msgspec.json.Decoder(BusEvent)


# --- to the browser ------------------------------------------------------------------------


class QuestionView(msgspec.Struct, kw_only=True):
    id: int
    body: str
    category: str
    status: str
    status_label: str
    votes: int
    author: str  # "匿名" for anonymous questions, except to moderators
    anonymous: bool
    askers: int
    asker_names: list[str]  # moderators only (empty otherwise)
    answer: str  # Markdown source (moderators edit it)
    answer_html: str  # the same, rendered and sanitised by faq.render: what the board shows
    dismiss_reason: str  # only to moderators and the askers
    merged_into_id: int | None
    merged_bodies: list[str]
    mine: bool
    voted: bool
    created_at: dt.datetime


class Snapshot(msgspec.Struct, tag="snapshot", kw_only=True):
    position: int
    state: str
    state_label: str  # SessionState.label: the page shows it as is
    answering_id: int | None
    premoderation: bool
    moderator: bool
    questions: list[QuestionView]
    removed: list[int] = []  # changed since the client's position and no longer visible to it


class QuestionUpdate(msgspec.Struct, tag="question", kw_only=True):
    position: int
    question: QuestionView


class QuestionRemoved(msgspec.Struct, tag="removed", kw_only=True):
    position: int
    id: int


class BoardUpdate(msgspec.Struct, tag="board", kw_only=True):
    position: int
    state: str
    state_label: str
    answering_id: int | None
    premoderation: bool


class ErrorMessage(msgspec.Struct, tag="error", kw_only=True):
    code: str
    message: str


ClientMessage = Snapshot | QuestionUpdate | QuestionRemoved | BoardUpdate | ErrorMessage
encoder = msgspec.json.Encoder()
