"""Japanese search normalisation: NFKC (全角/半角), lower case, katakana folded to hiragana.

Every character is normalised on its own (`normalize_with_map` remembers where it came from).
"""

from __future__ import annotations

import unicodedata

_COMBINING_KANA = {"\u3099", "\u309a"}  # voiced/semi-voiced marks left by NFKC of ﾞ and ﾟ
MAX_TERMS = 5
MAX_TERM_CHARS = 40


def _fold(ch: str) -> str:
    code = ord(ch)
    if 0x30A1 <= code <= 0x30F6:  # katakana ァ..ヶ -> hiragana ぁ..ゖ
        return chr(code - 0x60)
    return ch


def _is_word(ch: str) -> bool:
    # Letters, digits, kana, kanji and the long vowel mark ー; punctuation and spaces separate words.
    return ch.isalnum() or ch in "ーゝゞ々"


def normalize_with_map(text: str) -> tuple[str, list[int]]:
    """The search form of `text` (separators as single spaces) and, per character, its index in `text`."""
    out: list[str] = []
    where: list[int] = []
    for index, original in enumerate(text):
        for ch in unicodedata.normalize("NFKC", original).lower():
            if ch in _COMBINING_KANA and out:
                composed = unicodedata.normalize("NFC", out[-1] + ch)
                if len(composed) == 1:
                    out[-1] = _fold(composed)
                    continue
            if not _is_word(ch):
                if out and out[-1] != " ":
                    out.append(" ")
                    where.append(index)
                continue
            out.append(_fold(ch))
            where.append(index)
    while out and out[-1] == " ":
        out.pop()
        where.pop()
    return "".join(out), where


def normalize(text: str) -> str:
    return normalize_with_map(text)[0]


def query_terms(query: str) -> list[str]:
    """Distinct normalised terms of a query (AND-ed), longest first, bounded in number and length."""
    terms: list[str] = []
    for term in normalize(query[:500]).split():
        term = term[:MAX_TERM_CHARS]
        if term not in terms:
            terms.append(term)
    return sorted(terms[:MAX_TERMS], key=len, reverse=True)
