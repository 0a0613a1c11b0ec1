"""A terminal progress bar for long CLI jobs: redrawn in place on a terminal, a few plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30
REDRAW_SECONDS = 0.1


class ProgressBar:
    """`update(done, total)` as work advances; `finish()` once. Silent for jobs too small to watch."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, min_total: int = 200) -> None:
        self.total = total
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.enabled = total >= min_total
        self.drawn_at = 0.0
        self.last_tenth = -1
        self.done = 0

    def update(self, done: int, total: int | None = None) -> None:
        self.done, self.total = done, total or self.total
        if not self.enabled:
            return
        if self.tty:
            now = time.monotonic()
            if now - self.drawn_at >= REDRAW_SECONDS or done >= self.total:
                self.drawn_at = now
                self.stream.write("\r" + self.render())
                self.stream.flush()
            return
        tenth = done * 10 // max(self.total, 1)
        if tenth > self.last_tenth:  # a log file gets one line per 10 %
            self.last_tenth = tenth
            self.stream.write(self.render() + "\n")

    def render(self) -> str:
        share = self.done / max(self.total, 1)
        filled = round(share * WIDTH)
        return f"{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] {share:4.0%} {self.done}/{self.total} 件"

    def finish(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
