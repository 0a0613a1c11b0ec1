"""Titles and snippets with the matched words marked; every piece of text is escaped."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from core.search.analyse import words

WIDTH = 110
_SPACES = re.compile(r"\s+")


def spans(text: str, keys: set[str]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for w in words(text):
        if w.key not in keys:
            continue
        if merged and w.start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(w.end, merged[-1][1]))
        else:
            merged.append((w.start, w.end))
    return merged


def mark(text: str, found: list[tuple[int, int]]) -> Markup:
    out: list[str] = []
    last = 0
    for start, end in found:
        out.append(str(escape(text[last:start])))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        last = end
    out.append(str(escape(text[last:])))
    return Markup("".join(out))  # noqa: S704 - every piece above is escaped


def highlight(text: str, keys: set[str]) -> Markup:
    return mark(text, spans(text, keys))


def snippet(body: str, keys: set[str], hint: float = 0.0) -> Markup:
    """About WIDTH characters of `body` around its first match; `hint` guesses where (0..1)."""
    plain = _SPACES.sub(" ", body).strip()
    if not plain:
        return Markup("")
    guess = int(hint * len(plain))
    start = max(0, guess - 200)
    window = plain[start : start + 500]
    found = spans(window, keys)
    if not found and len(plain) > 500:
        start, window = 0, plain[:4000]
        found = spans(window, keys)
    first = found[0][0] + start if found else 0
    begin = max(0, first - WIDTH // 3)
    piece = plain[begin : begin + WIDTH]
    local = [(max(s + start - begin, 0), min(e + start - begin, len(piece))) for s, e in found]
    local = [(s, e) for s, e in local if s < e]
    prefix = "…" if begin > 0 else ""
    suffix = "…" if begin + WIDTH < len(plain) else ""
    return escape(prefix) + mark(piece, local) + escape(suffix)
