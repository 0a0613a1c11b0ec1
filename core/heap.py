"""The server process's garbage-collector policy: fewer, cheaper collections under load.

CPython's cyclic collector runs a young collection every 700 net allocations and, now and
then, a full one over every tracked object. A page allocates thousands of objects (ORM rows,
template context) that reference counting frees anyway, so the default thresholds run a
young collection on nearly every request and a full one every few seconds, and a full one
over a warmed-up server (modules, the app, compiled SQL and templates) is a 20–90 ms pause
that shows up as page and fan-out latency. Two measures, both what long-running CPython
servers commonly do:

- `tune()` makes full collections rarer (the oldest generation's threshold) when the app is
  built; young collections stay frequent, since requests do leave cyclic garbage (ORM
  sessions, template contexts) and a young collection's pause grows with what it frees;
- `settle()`, at the end of the first start-up in a process, collects once and freezes what
  is alive into the permanent generation, which full collections skip. Later start-ups in
  the same process (test clients build many apps) leave the heap alone.
"""

from __future__ import annotations

import gc

#: (young, middle, old): CPython's default is (700, 10, 10); a full collection now comes after
#: 100 middle ones instead of 10.
THRESHOLDS = (2_000, 10, 100)

_settled = False


def tune() -> None:
    gc.set_threshold(*THRESHOLDS)


def settle() -> None:
    """Everything allocated by start-up lives as long as the process: keep it out of full collections."""
    global _settled
    if not _settled:
        _settled = True
        gc.collect()
        gc.freeze()
