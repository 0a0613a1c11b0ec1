"""The FAQ JSON API (`/api/faq/…`): the question board's actions, search and suggestions.

Handlers are thin: a body decodes into its input struct (faq/inputs.py), then guard and one action;
errors answer as typed JSON `{"error": {"code", "message", "status"}}` (web/errors.py).
"""

from __future__ import annotations

import re

import msgspec
from litestar import MediaType, Response, get, post
from litestar.params import FromQuery, JSONBody

from core.access import MemberApi
from core.bounds import PathId, QueryPosition
from core.deps import Bus, DbSession, Me
from faq import board, documents, events, service
from faq.inputs import AnswerIn, AnsweringIn, EditIn, MergeIn, QuestionIn, ReasonIn, ToggleIn
from faq.models import Question, SessionState
from faq.normalize import normalize
from faq.search import search


class QuestionOut(msgspec.Struct):
    id: int
    status: str
    votes: int
    position: int

    @classmethod
    def of(cls, q: Question) -> QuestionOut:
        return cls(q.id, q.status.value, q.votes, q.position)


class Suggestion(msgspec.Struct):
    id: int
    question_html: str
    url: str
    document: str


class SearchHitOut(msgspec.Struct):
    id: int
    category: str
    question: str
    question_html: str
    snippet_html: str
    url: str
    document: str
    score: int


class SearchOut(msgspec.Struct):
    query: str
    terms: list[str]
    total: int
    capped: bool
    hits: list[SearchHitOut]


class AnsweringOut(msgspec.Struct):
    answering_id: int | None


class PremoderationOut(msgspec.Struct):
    premoderation: bool


class SessionStateOut(msgspec.Struct):
    state: str


class SessionEndedOut(msgspec.Struct):
    state: str
    document_id: int
    edit_url: str


class PublishedOut(msgspec.Struct):
    document_id: int
    version: int
    url: str


class FaqApi(MemberApi):
    path = "/api/faq"
    tags = ["faq"]

    @post("/sessions/{session_id:int}/questions", status_code=201)
    async def ask(self, me: Me, db: DbSession, bus: Bus, session_id: PathId, data: JSONBody[QuestionIn]) -> QuestionOut:
        session = await service.get_session(db, session_id)
        q = await board.ask(db, bus, me, session, data.body, data.category, data.anonymous)
        return QuestionOut.of(q)

    @get("/sessions/{session_id:int}/board")
    async def board_state(self, me: Me, db: DbSession, session_id: PathId, since: QueryPosition = 0) -> Response[bytes]:
        session = await service.get_session(db, session_id)
        moderator = await service.can_organise(db, me, session.series_id)
        snap = await board.snapshot(db, session, me.id, moderator, max(0, since))
        return Response(events.encoder.encode(snap), media_type=MediaType.JSON)

    @post("/questions/{question_id:int}/vote")
    async def vote(self, me: Me, db: DbSession, bus: Bus, question_id: PathId) -> QuestionOut:
        return QuestionOut.of(await board.vote(db, bus, me, question_id))

    @post("/questions/{question_id:int}/approve")
    async def approve(self, me: Me, db: DbSession, bus: Bus, question_id: PathId) -> QuestionOut:
        return QuestionOut.of(await board.approve(db, bus, me, question_id))

    @post("/questions/{question_id:int}/edit")
    async def edit(self, me: Me, db: DbSession, bus: Bus, question_id: PathId, data: JSONBody[EditIn]) -> QuestionOut:
        return QuestionOut.of(await board.edit(db, bus, me, question_id, data.body, data.category))

    @post("/questions/{question_id:int}/answer")
    async def answer(
        self, me: Me, db: DbSession, bus: Bus, question_id: PathId, data: JSONBody[AnswerIn]
    ) -> QuestionOut:
        q = await board.answer(db, bus, me, question_id, data.answer, data.mark_answered)
        return QuestionOut.of(q)

    @post("/questions/{question_id:int}/answered")
    async def answered(self, me: Me, db: DbSession, bus: Bus, question_id: PathId) -> QuestionOut:
        return QuestionOut.of(await board.mark_answered(db, bus, me, question_id))

    @post("/questions/{question_id:int}/dismiss")
    async def dismiss(
        self, me: Me, db: DbSession, bus: Bus, question_id: PathId, data: JSONBody[ReasonIn]
    ) -> QuestionOut:
        return QuestionOut.of(await board.dismiss(db, bus, me, question_id, data.reason))

    @post("/questions/{question_id:int}/merge")
    async def merge(self, me: Me, db: DbSession, bus: Bus, question_id: PathId, data: JSONBody[MergeIn]) -> QuestionOut:
        return QuestionOut.of(await board.merge(db, bus, me, question_id, data.into))

    @post("/sessions/{session_id:int}/answering")
    async def answering(
        self, me: Me, db: DbSession, bus: Bus, session_id: PathId, data: JSONBody[AnsweringIn]
    ) -> AnsweringOut:
        session = await service.get_session(db, session_id)
        await board.set_answering(db, bus, me, session, data.question_id)
        return AnsweringOut(answering_id=session.answering_id)

    @post("/sessions/{session_id:int}/premoderation")
    async def premoderation(
        self, me: Me, db: DbSession, bus: Bus, session_id: PathId, data: JSONBody[ToggleIn]
    ) -> PremoderationOut:
        session = await service.get_session(db, session_id)
        await board.set_premoderation(db, bus, me, session, data.on)
        return PremoderationOut(premoderation=session.premoderation)

    @post("/sessions/{session_id:int}/start")
    async def start(self, me: Me, db: DbSession, bus: Bus, session_id: PathId) -> SessionStateOut:
        session = await service.get_session(db, session_id)
        await board.start(db, bus, me, session)
        return SessionStateOut(state=session.state.value)

    @post("/sessions/{session_id:int}/end")
    async def end(self, me: Me, db: DbSession, bus: Bus, session_id: PathId) -> SessionEndedOut:
        session = await service.get_session(db, session_id)
        doc = await documents.end_session(db, bus, me, session)
        return SessionEndedOut(SessionState.ENDED.value, doc.id, f"/faq/documents/{doc.id}/edit")

    @post("/documents/{document_id:int}/publish")
    async def publish(self, me: Me, db: DbSession, document_id: PathId, data: JSONBody[ReasonIn]) -> PublishedOut:
        doc = await documents.get_document(db, document_id)
        version = await documents.publish(db, me, doc, data.reason)
        return PublishedOut(doc.id, version.number, f"/faq/documents/{doc.id}/v/{version.number}")

    @get("/suggest")
    async def suggest(self, db: DbSession, q: FromQuery[str] = "") -> list[Suggestion]:
        """Answered questions from published FAQ documents similar to what is being typed."""
        query = _suggest_query(q)
        result = await search(db, query, limit=5)
        if not result.hits and " " in query:  # both topic words together found nothing: try the longer one
            result = await search(db, query.split()[0], limit=5)
        return [
            Suggestion(h.entry.id, str(h.question_html), f"/faq/entries/{h.entry.id}", h.entry.version.title)
            for h in result.hits
        ]

    @get("/search")
    async def search_api(self, db: DbSession, q: FromQuery[str] = "", page: FromQuery[int] = 1) -> SearchOut:
        page = max(1, min(page, 25))
        result = await search(db, q[:200], limit=20, offset=(page - 1) * 20)
        return SearchOut(
            result.query,
            result.terms,
            result.total,
            result.capped,
            [
                SearchHitOut(
                    h.entry.id,
                    h.entry.category,
                    h.entry.question,
                    str(h.question_html),
                    str(h.snippet_html),
                    f"/faq/entries/{h.entry.id}",
                    h.entry.version.title,
                    round(h.score),
                )
                for h in result.hits
            ],
        )


def _suggest_query(text: str) -> str:
    """The longest few kanji/katakana runs of a half-typed question: its topic words."""
    runs = re.findall(r"[\u4e00-\u9fff\u3005]{2,}|[\u30a0-\u30ffー]{2,}|[a-zA-Z0-9]{3,}", text[:300])
    runs = sorted(dict.fromkeys(runs), key=len, reverse=True)[:2]
    return " ".join(runs) if runs else normalize(text[:20])
