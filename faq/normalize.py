"""Japanese search normalisation: NFKC (全角/半角), lower case, katakana folded to hiragana.

Every character is normalised on its own and remembers where it came from, so a
match found in the normalised text can be highlighted in the original.
"""

from __future__ import annotations

import unicodedata
from itertools import pairwise

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


def unigram(ch: str) -> int:
    return ord(ch)


def bigram(a: str, b: str) -> int:
    # Code points fit in 21 bits: a bigram never collides with a unigram (which is < 2**21).
    return (ord(a) << 21) | ord(b) | (1 << 42)


def grams(search_text: str) -> set[int]:
    """Every character and every adjacent pair inside a word: finds any substring of 1+ characters."""
    out: set[int] = set()
    for word in search_text.split():
        out.update(unigram(ch) for ch in word)
        out.update(bigram(a, b) for a, b in pairwise(word))
    return out


def term_grams(term: str) -> list[int]:
    """The grams that every text containing `term` has (the index narrows, the substring check decides)."""
    if len(term) == 1:
        return [unigram(term)]
    return list(dict.fromkeys(bigram(a, b) for a, b in pairwise(term)))


def match_spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Where the terms occur in the original `text`, as merged [start, end) ranges."""
    norm, where = normalize_with_map(text)
    spans: list[tuple[int, int]] = []
    for term in terms:
        start = norm.find(term)
        while start != -1:
            end = start + len(term)
            spans.append((where[start], where[end - 1] + 1))
            start = norm.find(term, start + 1)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def count_matches(search_text: str, term: str) -> int:
    return search_text.count(term)
