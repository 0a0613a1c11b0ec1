"""Sudachi (sudachidict-core, split mode A) over the normalised text: content words as index keys.

Mode A splits compounds into their short units, so 保育料滞納 and 「保育料の滞納」 both become
保育・料・滞納; phrase matching in `query` puts them back together. Each word's key is Sudachi's
normalized form (申込/申込み/申し込み -> 申し込み, サーバ -> サーバー) folded by `text.fold_key`;
its reading (hiragana) serves hiragana queries and IME-slip suggestions.
"""

from __future__ import annotations

import dataclasses
import functools
import threading

from sudachipy import Dictionary, SplitMode

from core.search.text import fold_key, normalize_with_map

MAX_CHARS = 12_000  # Sudachi refuses inputs over 49,149 bytes; longer texts are analysed in pieces

_SKIP_POS = {"助詞", "助動詞", "補助記号", "記号", "空白", "感動詞", "接続詞", "代名詞"}
# Verbs and adjectives that only carry grammar (する, ある, いる, なる, できる, ...).
_LIGHT = {
    "する",
    "為る",
    "有る",
    "ある",
    "居る",
    "いる",
    "成る",
    "なる",
    "出来る",
    "できる",
    "れる",
    "られる",
    "ない",
    "無い",
    "付く",
    "つく",
}


MAX_KEY = 64  # longer keys are cut (index and queries alike)
CACHED_CHARS = 400  # texts up to this length are analysed once per process (chat lines, titles, queries)


@dataclasses.dataclass(frozen=True, slots=True)
class Word:
    key: str  # index key (normalised form, folded, no whitespace, at most MAX_KEY characters)
    reading: str  # hiragana reading, folded the same way
    surface: str  # as written in the normalised text
    start: int  # [start, end) in the ORIGINAL text
    end: int


_local = threading.local()


@functools.cache
def _dictionary() -> Dictionary:
    return Dictionary(dict="core")


def _tokenizer() -> object:
    tok = getattr(_local, "tok", None)
    if tok is None:
        tok = _dictionary().tokenizer(mode=SplitMode.A, fields={"pos", "normalized_form", "reading_form"})
        _local.tok = tok
    return tok


def _pieces(text: str) -> list[tuple[int, str]]:
    """Split on line breaks into chunks Sudachi accepts, remembering each chunk's offset."""
    out: list[tuple[int, str]] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + MAX_CHARS)
        if end < len(text):
            cut = text.rfind("\n", start, end)
            end = cut + 1 if cut > start else end
        out.append((start, text[start:end]))
        start = end
    return out


def words(text: str) -> list[Word]:
    """The content words of `text` in order, with their spans in `text` (a fresh list: callers may keep it)."""
    if len(text) <= CACHED_CHARS:
        return list(_cached_words(text))
    return _analyse(text)


@functools.lru_cache(maxsize=32768)
def _cached_words(text: str) -> tuple[Word, ...]:
    # Chat lines (「ありがとうございます」), series titles and queries repeat: Sudachi runs once per text.
    return tuple(_analyse(text))


# Per part-of-speech id: 0 skip, 1 keep, 2 a verb/adjective kept unless it is a light one.
_POS_CLASS: dict[int, int] = {}


def _pos_class(pos_id: int) -> int:
    cls = _POS_CLASS.get(pos_id)
    if cls is None:
        pos = _dictionary().pos_of(pos_id)
        if pos[0] in _SKIP_POS or (pos[0] in {"動詞", "形容詞"} and pos[1] == "非自立可能"):
            cls = 0
        else:
            cls = 2 if pos[0] in {"動詞", "形容詞"} else 1
        _POS_CLASS[pos_id] = cls
    return cls


def _analyse(text: str) -> list[Word]:
    norm, where = normalize_with_map(text)
    if not norm.strip():
        return []
    tok = _tokenizer()
    out: list[Word] = []
    size = len(where)
    for offset, piece in _pieces(norm):
        for m in tok.tokenize(piece):  # type: ignore[attr-defined]
            cls = _pos_class(m.part_of_speech_id())
            if not cls:
                continue
            normalized = m.normalized_form()
            if cls == 2 and normalized in _LIGHT:
                continue
            surface = m.surface()
            if not surface.strip():
                continue
            b, e = offset + m.begin(), offset + m.end()
            # The next source character bounds the word, so ﾊﾞ (two source characters) stays whole.
            end = where[e] if e < size else len(text)
            reading = m.reading_form()
            key = fold_key(normalized if normalized != "キゴウ" else surface)
            if " " in key:  # key streams are space-separated (normalisation leaves no other whitespace)
                key = "".join(key.split())
            if not key:  # postings are found again through the key streams (index.remove)
                continue
            out.append(
                Word(
                    key[:MAX_KEY],
                    fold_key(reading) if reading and reading != "キゴウ" else fold_key(surface),
                    surface,
                    where[b],
                    max(end, where[e - 1] + 1),
                )
            )
    return out


# Words of question phrasing that say nothing about the topic; dropped from queries only.
QUERY_STOPWORDS = {
    "教える",
    "知る",
    "方法",
    "仕方",
    "やり方",
    "こと",
    "事",
    "もの",
    "物",
    "場合",
    "ため",
    "為",
    "件",
    "良い",
    "よい",
    "何",
    "どう",
    "どの",
    "様",
    "際",
    "さん",
    "等",
    "など",
    "点",
    "思う",
    "聞く",
    "たい",
}


def keys(text: str) -> list[str]:
    return [w.key for w in words(text)]
