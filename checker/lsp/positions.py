"""Offsets in a text <-> LSP positions, and flowcheck's spans -> LSP ranges.

Two line countings meet here. flowcheck's spans (1-based line and column) count lines as
the parser does, at `\\n` only, and columns in characters (code points). LSP positions are
0-based and count lines at `\\n`, `\\r\\n` and `\\r`, and columns in the code units of the
position encoding agreed at initialize (UTF-16 unless the client offers another). Going
through the character offset in the text keeps the two apart: a lone `\\r` or a character
outside the BMP on the line still lands on the right place.
"""

from __future__ import annotations

import bisect
import re
from functools import cached_property

from lsprotocol import types

_LSP_LINE_END = re.compile(r"\r\n|\r|\n")
_WORD = re.compile(r"[A-Za-z0-9_]+")


def units(text: str, encoding: str) -> int:
    """How many code units of `encoding` ("utf-8", "utf-16", "utf-32") `text` takes."""
    if encoding == types.PositionEncodingKind.Utf32:
        return len(text)
    if encoding == types.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


class Text:
    """One text, with the line starts of both countings found once."""

    def __init__(self, text: str, encoding: str = types.PositionEncodingKind.Utf16) -> None:
        self.text = text
        self.encoding = encoding

    @cached_property
    def _flow_starts(self) -> list[int]:
        """Where each line starts as flowcheck counts lines (at `\\n` only)."""
        starts = [0]
        find = self.text.find
        at = find("\n")
        while at >= 0:
            starts.append(at + 1)
            at = find("\n", at + 1)
        return starts

    @cached_property
    def _lsp_starts(self) -> list[int]:
        """Where each line starts as LSP counts lines (`\\n`, `\\r\\n`, `\\r`)."""
        return [0, *(match.end() for match in _LSP_LINE_END.finditer(self.text))]

    # -- flowcheck's 1-based (line, column) ---------------------------------------------------

    def offset_of_span(self, line: int, col: int) -> int:
        """The offset of a 1-based (line, column) as the parser counts them, kept in the text."""
        starts = self._flow_starts
        line = min(max(line, 1), len(starts))
        return min(starts[line - 1] + max(col, 1) - 1, len(self.text))

    # -- LSP positions ----------------------------------------------------------------------

    def position(self, offset: int) -> types.Position:
        """The LSP position of a character offset."""
        offset = min(max(offset, 0), len(self.text))
        starts = self._lsp_starts
        line = bisect.bisect_right(starts, offset) - 1
        start = starts[line]
        if offset > start and self.text[offset - 1] == "\r" and offset < len(self.text) \
                and self.text[offset] == "\n":
            offset -= 1  # between the two characters of a `\r\n`: the end of the line
        return types.Position(line, units(self.text[start:offset], self.encoding))

    def offset(self, position: types.Position) -> int:
        """The character offset of an LSP position (one past the end of its line at most)."""
        starts = self._lsp_starts
        if position.line >= len(starts):
            return len(self.text)
        start = starts[position.line]
        end = starts[position.line + 1] if position.line + 1 < len(starts) else len(self.text)
        line = self.text[start:end].rstrip("\r\n")
        if self.encoding == types.PositionEncodingKind.Utf32:
            return start + min(position.character, len(line))
        counted = 0
        for index, char in enumerate(line):
            if counted >= position.character:
                return start + index
            counted += units(char, self.encoding)
        return start + len(line)

    def range(self, start: int, end: int) -> types.Range:
        return types.Range(self.position(start), self.position(end))

    def span_range(self, line: int, col: int) -> types.Range:
        """The range of what starts at a span: its word, number or string, else one
        character, or an empty range at the end of a line (where `missing '}'` points)."""
        start = self.offset_of_span(line, col)
        return self.range(start, self.token_end(start))

    def token_end(self, start: int) -> int:
        text = self.text
        if start >= len(text) or text[start] in "\r\n":
            return start
        word = _WORD.match(text, start)
        if word:
            return word.end()
        if text[start] == '"':
            close = text.find('"', start + 1)
            newline = text.find("\n", start)
            stop = newline if newline >= 0 else len(text)
            return close + 1 if 0 <= close < stop else stop
        if text.startswith(("->", "<-", "//", "/*"), start):
            return start + 2
        return start + 1
