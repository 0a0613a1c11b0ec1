"""What a 課 may be called, and when two names are the same 課."""

from __future__ import annotations

import re
import unicodedata

from core.text import clean_block, clean_line

NAME_MAX = 30
PURPOSE_MAX = 2000
_MARKUP = re.compile(r"[<>&\"'`{}\[\]\\]|https?:|javascript:", re.IGNORECASE)
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!]")


def section_key(name: str) -> str:
    """NFKC, case-folded, without spaces: 「ＤＸ推進課」, 「dx推進課」 and 「DX 推進課」 are one name."""
    return "".join(unicodedata.normalize("NFKC", name).casefold().split())[:60]


def _checked(text: str, what: str, limit: int, markup: re.Pattern[str], markup_problem: str) -> tuple[str, str | None]:
    """`text` and its first problem in Japanese, if any: empty, longer than `limit`, or matching `markup`."""
    if not text:
        return text, f"{what}を入力してください。"
    if len(text) > limit:
        return text, f"{what}は{limit}文字以内で入力してください。"
    if markup.search(text):
        return text, markup_problem
    return text, None


def check_name(raw: str) -> tuple[str, str | None]:
    """The cleaned name and a Japanese problem with it, if any."""
    return _checked(
        clean_line(raw), "課の名前", NAME_MAX, _MARKUP, "課の名前に記号（< > & \" ' ` { } [ ] \\）やURLは使えません。"
    )


def check_purpose(raw: str) -> tuple[str, str | None]:
    return _checked(clean_block(raw), "設立の目的", PURPOSE_MAX, _TAG, "設立の目的にHTMLタグは使えません。")
