"""FAQ inputs: the form and the JSON body become the same struct; bounds and the validate step refuse in Japanese."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from faq.documents import EntryInput
from faq.inputs import DocumentEditInput, EntryRow, QuestionIn, SeriesInput, SessionInput
from faq.service import FaqError


def test_the_editor_form_keeps_rows_in_order_and_drops_deleted_and_blank_ones():
    form = {
        "title": "資料",
        "count": "3",
        "question-0": " Q1 ",
        "answer-0": "A1",
        "votes-0": "4",
        "qid-0": "12",
        "question-1": "消す",
        "answer-1": "x",
        "delete-1": "on",
        "question-2": "Q3",
        "answer-2": "A3",
        "category-2": "予約",
        "question-3": "",
        "answer-3": "",
        "action": "publish",
        "note": "初版",
    }
    data = DocumentEditInput.from_form(form)
    assert data == DocumentEditInput(
        title="資料",
        note="初版",
        publish=True,
        entries=[
            EntryRow(question="Q1", answer="A1", votes=4, question_id=12),
            EntryRow(category="予約", question="Q3", answer="A3"),
        ],
    )
    assert data.entry_inputs() == [EntryInput("", "Q1", "A1", 4, 12), EntryInput("予約", "Q3", "A3", 0, None)]
    as_json = msgspec.json.decode(msgspec.json.encode(data), type=DocumentEditInput)
    assert as_json == data


@pytest.mark.parametrize("form", [{"count": "x"}, {"count": "1", "votes-0": "-1"}, {"count": "0", "qid-0": "9" * 11}])
def test_a_bad_number_in_the_editor_is_a_typed_refusal(form):
    with pytest.raises(FaqError) as refused:
        DocumentEditInput.from_form({"title": "t", "question-0": "q", "answer-0": "a", **form})
    assert refused.value.code == "bad_number" and refused.value.status == 400


def test_series_form_reads_the_section_id():
    assert SeriesInput.from_form({"title": "T", "section_id": "3"}).section_id == 3
    assert SeriesInput.from_form({"title": "T", "section_id": ""}).section_id is None
    with pytest.raises(FaqError) as refused:
        SeriesInput.from_form({"title": "T", "section_id": "三"})
    assert refused.value.message == "課が正しくありません。"


def test_session_start_is_local_time_within_the_bounded_years():
    data = SessionInput.from_form({"title": "第1回", "starts_at": "2026-12-10T19:00", "premoderation": "on"})
    assert data.premoderation is True
    assert data.start() == dt.datetime(2026, 12, 10, 10, 0, tzinfo=dt.UTC)
    for raw, message in (
        ("明日", "開始日時を正しく入力してください。"),
        ("1999-12-31T19:00", "開始日時は2000年から2100年までの範囲で入力してください。"),
    ):
        with pytest.raises(FaqError) as refused:
            SessionInput(title="x", starts_at=raw).start()
        assert (refused.value.code, refused.value.message) == ("bad_datetime", message)


def test_json_bodies_have_declared_caps():
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"body": "あ" * 20_001}, QuestionIn)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"body": "q", "extra": 1}, QuestionIn)
