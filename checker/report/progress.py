"""A one-line progress display for long checks, on a terminal only.

A check that has run for about a second shows, on stderr, what it is checking, the states
explored, states per second, the frontier and the elapsed time, rewritten in place; the line
is erased when the check ends. When stderr is not a terminal nothing is written, so piped and
redirected output stays byte-identical.
"""

from __future__ import annotations

from typing import TextIO

from checker.engines.explicit.search import Progress

DELAY = 1.0  # seconds before a check shows its progress


class ProgressLine:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.label = ""
        self.shown = False

    @staticmethod
    def wanted(stream: TextIO) -> bool:
        try:
            return stream.isatty()
        except (AttributeError, ValueError):
            return False

    def start(self, label: str) -> None:
        """A new check begins (`label`: protocol on arch)."""
        self.label = label

    def update(self, progress: Progress) -> None:
        if progress.elapsed < DELAY:
            return
        rate = progress.states / progress.elapsed if progress.elapsed else 0.0
        text = (f"{self.label}: {progress.states:,} states, {rate:,.0f}/s, frontier "
                f"{progress.frontier:,}, {progress.elapsed:.0f} s")
        self.stream.write("\r\x1b[K" + text[:200])
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        """Erase the line (the check ended)."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False
