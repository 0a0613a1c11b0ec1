"""Archive inputs: the filters of /archive and a recording link, as msgspec structs with their validate step.

A form or query is read once and converted once (`from_form`); the declared bounds are the hard caps
of what any client may send; `filters()` / `validate()` apply the product's rules with Japanese
messages keyed by field (the form shows them in place). Hiding and restoring a comment in the replay
is the room's moderation input (live.rooms.inputs.VisibilityInput), shared with the live control page.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated

import msgspec

from archive.errors import ArchiveError
from archive.media import Media, MediaError, parse_media_url
from core.forms import MAX_FIELD, optional_number
from core.text import clean_line

MAX_OFFSET = 6 * 3600
MAX_DURATION = 24 * 3600
ROTATION_PREFIX = "rotation:"

Text = Annotated[str, msgspec.Meta(max_length=MAX_FIELD)]
Short = Annotated[str, msgspec.Meta(max_length=200)]


@dataclass(frozen=True, slots=True)
class ArchiveFilters:
    program_id: int | None = None
    #: A weekday rotation's label: its programs are one entry in the filter.
    rotation: str = ""
    personality_id: int | None = None
    section_id: int | None = None
    month: str = ""
    q: str = ""
    page: int = 1


class ArchiveQuery(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The archive's filters as typed (program is an id or `rotation:<label>`); `values` re-fill the form."""

    program: Short = ""
    personality: Short = ""
    section: Short = ""
    month: Short = ""
    q: Short = ""
    page: Short = "1"

    @classmethod
    def of(cls, **raw: str) -> ArchiveQuery:
        """Query parameters cut to the declared caps (a long query string narrows, it is not refused)."""
        return cls(**{key: value[:200] for key, value in raw.items()})

    def values(self) -> dict[str, str]:
        return {
            "program": self.program,
            "personality": self.personality,
            "section": self.section,
            "month": self.month,
            "q": self.q[:100],
        }

    def filters(self) -> ArchiveFilters:
        """The validate step; a bad number is core.forms' Invalid naming the field (a bad month: search_archive)."""
        if self.program.startswith(ROTATION_PREFIX):
            program_id, rotation = None, self.program.removeprefix(ROTATION_PREFIX)[:100]
        else:
            program_id, rotation = optional_number(self.program, "番組", "program"), ""
        return ArchiveFilters(
            program_id=program_id,
            rotation=rotation,
            personality_id=optional_number(self.personality, "パーソナリティ", "personality"),
            section_id=optional_number(self.section, "課", "section"),
            month=self.month.strip(),
            q=self.q[:100],
            page=min(optional_number(self.page, "ページ", "page") or 1, 10_000),
        )


@dataclass(frozen=True, slots=True)
class RecordingData:
    media: Media
    title: str
    duration_seconds: int | None
    offset_seconds: int


def _seconds(raw: str, label: str, field: str, low: int, high: int) -> int | None:
    value = unicodedata.normalize("NFKC", raw).strip()
    if not value:
        return None
    if not re.fullmatch(r"[+-]?\d{1,7}", value):
        raise ArchiveError(f"{label}は秒数（整数）で入力してください。", field=field)
    number = int(value)
    if not low <= number <= high:
        raise ArchiveError(f"{label}は{low}〜{high}秒の範囲で入力してください。", field=field)
    return number


class RecordingInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A recording linked to a past broadcast: a URL, a title, its length and start offset in seconds."""

    url: Text
    title: Text = ""
    duration: Short = ""  # seconds as typed (全角 digits too); empty: unknown
    offset: Short = ""  # seconds the recording starts after (+) or before (-) the broadcast

    @classmethod
    def from_form(cls, form: dict[str, str]) -> RecordingInput:
        return cls(
            url=form.get("url", ""),
            title=form.get("title", ""),
            duration=form.get("duration", "")[:200],
            offset=form.get("offset", "")[:200],
        )

    def validate(self) -> RecordingData:
        """Field rules in the form's order, then the cross-field rule (the offset fits in the recording)."""
        try:
            media = parse_media_url(self.url)
        except MediaError as exc:
            raise ArchiveError(str(exc), field="url") from None
        duration = _seconds(self.duration, "録画の長さ", "duration", 1, MAX_DURATION)
        offset = _seconds(self.offset, "開始位置のずれ", "offset", -MAX_OFFSET, MAX_OFFSET) or 0
        if duration is not None and abs(offset) > duration:
            raise ArchiveError("開始位置のずれが録画の長さを超えています。", field="offset")
        return RecordingData(media, clean_line(self.title)[:100], duration, offset)
