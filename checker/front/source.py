"""Source positions: where in which file a piece of input came from."""

from __future__ import annotations

import unicodedata
from array import array
from dataclasses import dataclass
from functools import cached_property

SHOWN_INSTEAD = "\ufffd"  # stands, in a quoted line, for a character a terminal would act on


@dataclass(frozen=True, order=True)
class Span:
    """A position in a source file (1-based line and column)."""

    path: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True)
class SourceText:
    """The text of one input file, kept so that errors can quote the offending line."""

    path: str
    text: str

    def line(self, number: int) -> str:
        """Line `number` (1-based) as lark numbers lines: only `\\n` ends a line (a `\\r`
        before it is dropped), so U+2028, `\\x0b`, `\\x85`... stay inside the line they are
        on, where str.splitlines would end it. Characters a terminal would act on instead of
        showing (controls, line separators, bidi overrides) are shown as U+FFFD, one for one,
        so that a caret under the line still points at the right column."""
        starts = self._line_starts
        if not 1 <= number <= len(starts):
            return ""
        end = starts[number] - 1 if number < len(starts) else len(self.text)
        return _printable(self.text[starts[number - 1] : end].removesuffix("\r"))

    @cached_property
    def _line_starts(self) -> array:
        """The offset where each line starts: built once, on the first quote, so that quoting
        every step of a trace costs a lookup, not a scan of the file."""
        starts = array("q", [0])
        find = self.text.find
        at = find("\n")
        while at >= 0:
            starts.append(at + 1)
            at = find("\n", at + 1)
        return starts


def _printable(line: str) -> str:
    if line.isprintable():
        return line
    return "".join(char if _shown(char) else SHOWN_INSTEAD for char in line)


def _shown(char: str) -> bool:
    """A tab (errors.py expands it) or a printable character; spaces other than ' ' too."""
    return char == "\t" or char.isprintable() or unicodedata.category(char) == "Zs"
