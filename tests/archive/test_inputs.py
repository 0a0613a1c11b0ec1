"""Archive inputs: filters and a recording link as structs; the validate step refuses in Japanese, naming the field."""

from __future__ import annotations

import pytest

from archive.errors import ArchiveError
from archive.inputs import ArchiveFilters, ArchiveQuery, RecordingInput
from archive.media import MediaKind
from core.errors import Invalid


def test_filters_read_ids_rotations_and_full_width_digits():
    query = ArchiveQuery.of(program="rotation:朝の健康", personality="１２", section="", page="3", q="予約")
    assert query.filters() == ArchiveFilters(rotation="朝の健康", personality_id=12, q="予約", page=3)
    assert ArchiveQuery.of(program="7", page="").filters() == ArchiveFilters(program_id=7, page=1)
    assert ArchiveQuery.of(page="99999").filters().page == 10_000


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"program": "abc"}, "program", "番組の指定が正しくありません。"),
        ({"section": "-1"}, "section", "課の指定が正しくありません。"),
        ({"page": "1" * 10}, "page", "ページの指定が正しくありません。"),
    ],
)
def test_a_bad_filter_names_its_field(raw, field, message):
    with pytest.raises(Invalid) as refused:
        ArchiveQuery.of(**raw).filters()
    assert refused.value.fields == {field: message} and refused.value.status == 400


def test_a_recording_link_is_validated_field_by_field_then_across_fields():
    data = RecordingInput.from_form({"url": "https://youtu.be/dQw4w9WgXcQ", "title": " 本編\n", "duration": "３６００"})
    valid = data.validate()
    assert (valid.media.kind, valid.media.video_id) == (MediaKind.YOUTUBE, "dQw4w9WgXcQ")
    assert (valid.title, valid.duration_seconds, valid.offset_seconds) == ("本編", 3600, 0)
    for form, field, message in (
        ({"url": "javascript:alert(1)"}, "url", None),
        (
            {"url": "https://youtu.be/dQw4w9WgXcQ", "duration": "1分"},
            "duration",
            "録画の長さは秒数（整数）で入力してください。",
        ),
        (
            {"url": "https://youtu.be/dQw4w9WgXcQ", "offset": "99999"},
            "offset",
            "開始位置のずれは-21600〜21600秒の範囲で入力してください。",
        ),
        (
            {"url": "https://youtu.be/dQw4w9WgXcQ", "duration": "60", "offset": "-90"},
            "offset",
            "開始位置のずれが録画の長さを超えています。",
        ),
    ):
        with pytest.raises(ArchiveError) as refused:
            RecordingInput.from_form(form).validate()
        assert refused.value.field == field and refused.value.status == 400
        if message:
            assert refused.value.message == message
