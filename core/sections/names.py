"""What a 課 may be called, and when two names are the same 課."""

from __future__ import annotations

import re
import unicodedata

from core.text import clean_block, clean_line

NAME_MAX = 30
PURPOSE_MAX = 2000
_MARKUP = re.compile(r"[<>&\"'`{}\[\]\\]|https?:|javascript:", re.IGNORECASE)


def section_key(name: str) -> str:
    """NFKC, case-folded, without spaces: 「ＤＸ推進課」, 「dx推進課」 and 「DX 推進課」 are one name."""
    return "".join(unicodedata.normalize("NFKC", name).casefold().split())[:60]


def check_name(raw: str) -> tuple[str, str | None]:
    """The cleaned name and a Japanese problem with it, if any."""
    name = clean_line(raw)
    if not name:
        return name, "課の名前を入力してください。"
    if len(name) > NAME_MAX:
        return name, f"課の名前は{NAME_MAX}文字以内で入力してください。"
    if _MARKUP.search(name):
        return name, "課の名前に記号（< > & \" ' ` { } [ ] \\）やURLは使えません。"
    return name, None


def check_purpose(raw: str) -> tuple[str, str | None]:
    purpose = clean_block(raw)
    if not purpose:
        return purpose, "設立の目的を入力してください。"
    if len(purpose) > PURPOSE_MAX:
        return purpose, f"設立の目的は{PURPOSE_MAX}文字以内で入力してください。"
    if re.search(r"<\s*/?\s*[a-zA-Z!]", purpose):
        return purpose, "設立の目的にHTMLタグは使えません。"
    return purpose, None
