"""Text hygiene shared by every place that accepts what members write."""

from __future__ import annotations

import re
import unicodedata

# C0/C1 controls, bidi overrides and zero-width tricks; newline and tab are handled per field.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_NEWLINES = re.compile(r"\r\n?|\n")


def clean_line(value: str) -> str:
    """One line of text: NFC, no control characters, single spaces at the ends trimmed."""
    value = unicodedata.normalize("NFC", value)
    value = _NEWLINES.sub(" ", value).replace("\t", " ")
    return _CONTROL.sub("", value).strip()


def clean_block(value: str) -> str:
    """Multi-line text: like clean_line but keeps line breaks (normalised to \\n)."""
    value = unicodedata.normalize("NFC", value)
    value = _NEWLINES.sub("\n", value).replace("\t", "    ")
    return _CONTROL.sub("", value).strip()
