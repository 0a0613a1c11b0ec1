"""Titles and snippets with the matched words marked, from the spans stored at index time.

No analysis at query time: each document keeps, per key, where that word sits in its original
text. Every piece of text is escaped.
"""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH = 110


def spans(keys_text: str, spans_text: str, keys: set[str]) -> list[tuple[int, int]]:
    """Merged [start, end) ranges of the words whose key is in `keys`."""
    merged: list[tuple[int, int]] = []
    for key, span in zip(keys_text.split(), spans_text.split(), strict=False):
        if key not in keys:
            continue
        a, _, b = span.partition("-")
        start, end = int(a), int(b)
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def mark(text: str, found: list[tuple[int, int]]) -> Markup:
    out: list[str] = []
    last = 0
    for start, end in found:
        if start < last or end > len(text):
            continue
        out.append(str(escape(text[last:start])))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        last = end
    out.append(str(escape(text[last:])))
    return Markup("".join(out))  # noqa: S704 - every piece above is escaped


def snippet(body: str, found: list[tuple[int, int]]) -> Markup:
    """About WIDTH characters of `body` around its first match, line breaks as spaces."""
    if not body.strip():
        return Markup("")
    first = found[0][0] if found else 0
    begin = max(0, first - WIDTH // 3)
    end = min(len(body), begin + WIDTH)
    local = [(s - begin, e - begin) for s, e in found if s >= begin and e <= end]
    piece = body[begin:end].replace("\r", " ").replace("\n", " ")
    prefix = "…" if begin > 0 else ""
    suffix = "…" if end < len(body) else ""
    return escape(prefix) + mark(piece, local) + escape(suffix)
