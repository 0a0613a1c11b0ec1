"""Variant kanji (異体字・旧字体) folded to one form, from the ja-itaiji table (16,000+ families).

The table lists, per character, the characters it is interchangeable with; it also carries some
noise (濱 lists 頻). A character of JIS X 0208 level 1 (the everyday set) is never rewritten; any
other character is folded to the everyday character of its family that lists it back and shares
most of its family. `_CORRECTIONS` fixes the few families where that choice is wrong for names.
"""

from __future__ import annotations

import functools
import json
from importlib import resources

# Where the majority vote of the table picks a wrong everyday character (checked by tests).
_CORRECTIONS = {"﨑": "崎", "嵜": "崎", "濱": "浜", "濵": "浜", "嶋": "島", "嶌": "島", "舘": "館", "𠮷": "吉"}


def _level(ch: str) -> int:
    """1: JIS X 0208 level-1 kanji, 2: level-2 kanji, 3: anything else."""
    try:
        raw = ch.encode("euc_jp")
    except UnicodeEncodeError:
        return 3
    if len(raw) != 2 or raw[0] < 0xB0:
        return 3
    return 1 if raw[0] < 0xD0 else 2


@functools.cache
def table() -> dict[str, str]:
    """Character -> its everyday form, for every character that has a different one."""
    path = resources.files("ja_itaiji").joinpath("data/term/ja-itaiji.json")
    families: dict[str, list[str]] = json.loads(path.read_text(encoding="utf-8"))

    def family(c: str) -> set[str]:
        return {c, *families.get(c, ())}

    out: dict[str, str] = {}
    for ch in families:
        own = _level(ch)
        if own == 1 or len(ch) != 1:
            continue
        mine = family(ch)
        for level in (1, 2):
            if level >= own:
                break
            picks = [k for k in mine if k != ch and len(k) == 1 and _level(k) == level and ch in family(k)]
            if picks:
                out[ch] = max(picks, key=lambda k: (len(mine & family(k)), -ord(k)))
                break
    out.update(_CORRECTIONS)
    for ch in list(out):  # follow chains (level 3 -> level 2 -> level 1)
        seen = {ch}
        target = out[ch]
        while target in out and target not in seen:
            seen.add(target)
            target = out[target]
        out[ch] = target
    return out


@functools.cache
def translation() -> dict[int, str]:
    """The table as a str.translate mapping."""
    return {ord(k): v for k, v in table().items() if len(k) == 1}
