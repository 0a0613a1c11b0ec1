"""Character-level normalisation before analysis, remembering where each character came from.

NFKC (全角/半角, ｶﾀｶﾅ), lower case, variant kanji, look-alike dashes after kana, 〜/～, 中黒
between katakana, ヴァ/バ, and kanji numerals that count something (第三回, 十一歳) as digits.
The map lets a match found in the normalised text be highlighted in the original.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

from core.search import variants

_COMBINING = {"\u3099", "\u309a"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_V_SOUNDS = {"ヴァ": "バ", "ヴィ": "ビ", "ヴェ": "ベ", "ヴォ": "ボ", "ヴュ": "ビュ", "ヴ": "ブ"}
_V_RE = re.compile("|".join(sorted(_V_SOUNDS, key=len, reverse=True)))
_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_COUNTERS = "回歳才年月日時分秒人名件個号条項章節期級次度枚部課階週代位点歩本台冊"
_NUMERAL = re.compile(
    rf"(?<=第)[〇零一二三四五六七八九十百千]+|[〇零一二三四五六七八九十百千]+(?=[{_COUNTERS}]|か月|ヶ月|ケ月)"
)


def kanji_number(text: str) -> int | None:
    """一 -> 1, 十一 -> 11, 二十 -> 20, 百二十三 -> 123, 二〇二六 -> 2026; None when it is not a number."""
    if all(c in _DIGITS for c in text):
        return int("".join(str(_DIGITS[c]) for c in text))
    total, digit = 0, None
    for c in text:
        if c in _DIGITS:
            if digit is not None:
                return None
            digit = _DIGITS[c]
        else:
            total += (digit if digit is not None else 1) * _UNITS[c]
            digit = None
    return total + (digit or 0)


_KANA_DASH = re.compile(r"(?<=[\u3041-\u309f\u30a1-\u30faー])[-‐‑‒–—―−─━]")
_NAKAGURO = re.compile(r"(?<=[\u30a1-\u30faー])・(?=[\u30a1-\u30fa])")
_TILDES = str.maketrans({"〜": "~", "～": "~"})


def _per_character(text: str) -> tuple[str, list[int]]:
    """NFKC one source character at a time (slow path, for texts whose length NFKC changes)."""
    out: list[str] = []
    where: list[int] = []
    for index, original in enumerate(text):
        for ch in unicodedata.normalize("NFKC", original).lower():
            if ch in _COMBINING and out:
                composed = unicodedata.normalize("NFC", out[-1] + ch)
                if len(composed) == 1:
                    out[-1] = composed
                continue
            out.append(ch)
            where.append(index)
    return "".join(out), where


def normalize_with_map(text: str) -> tuple[str, list[int]]:
    """The search form of `text` and, per output character, the index of its source character."""
    text = _CONTROL.sub(" ", text)
    fast = unicodedata.normalize("NFKC", text).lower()
    if len(fast) == len(text):
        norm, where = fast, list(range(len(text)))
    else:
        norm, where = _per_character(text)
    norm = _KANA_DASH.sub("ー", norm).translate(_TILDES).translate(variants.translation())
    if "・" in norm:
        norm, where = _rewrite(norm, where, _NAKAGURO, lambda m: "")
    if "ヴ" in norm:
        norm, where = _rewrite(norm, where, _V_RE, lambda m: _V_SOUNDS[m.group()])
    return _rewrite(norm, where, _NUMERAL, _numeral)


def _numeral(match: re.Match[str]) -> str:
    value = kanji_number(match.group())
    return match.group() if value is None else str(value)


def _rewrite(
    text: str, where: list[int], pattern: re.Pattern[str], replace: Callable[[re.Match[str]], str]
) -> tuple[str, list[int]]:
    """Apply a regex substitution to (text, map), keeping the map aligned."""
    out: list[str] = []
    new_where: list[int] = []
    last = 0
    for m in pattern.finditer(text):
        out.append(text[last : m.start()])
        new_where.extend(where[last : m.start()])
        piece = replace(m)
        out.append(piece)
        span = where[m.start() : m.end()]
        new_where.extend(span[min(i, len(span) - 1)] for i in range(len(piece)))
        last = m.end()
    out.append(text[last:])
    new_where.extend(where[last:])
    return "".join(out), new_where


def normalize(text: str) -> str:
    return normalize_with_map(text)[0]


_KEY_TABLE: dict[int, int | None] = {c: c - 0x60 for c in range(0x30A1, 0x30F7)}
_KEY_TABLE.update({ord(a): ord(b) for a, b in zip("ぁぃぅぇぉっゃゅょゎゕゖ", "あいうえおつやゆよわかけ", strict=True)})
_KEY_TABLE.update(
    {ord(a) + 0x60: ord(b) for a, b in zip("ぁぃぅぇぉっゃゅょゎゕゖ", "あいうえおつやゆよわかけ", strict=True)}
)
_KEY_TABLE[ord("ー")] = None


@functools.lru_cache(maxsize=65536)
def fold_key(word: str) -> str:
    """An index key: katakana as hiragana, small kana as large, long vowel marks dropped."""
    return word.translate(_KEY_TABLE) or word


def is_hiragana_text(text: str) -> bool:
    letters = [c for c in text if not c.isspace()]
    return bool(letters) and all("\u3041" <= c <= "\u309f" or c == "ー" for c in letters)
