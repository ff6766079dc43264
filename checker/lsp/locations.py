"""flowcheck's spans (a display path, 1-based line and column) as LSP locations."""

from __future__ import annotations

import re

from lsprotocol import types

from checker.front.source import Span
from checker.lsp.analysis import Analysis, uri_of
from checker.lsp.positions import Text

# `reached from PATH:LINE:COL through f -> g`: the note of an error inside an arch function
# (checker/front/resolve_calls.py), the protocol statement the check came through.
_REACHED = re.compile(r"^reached from (?P<path>.*):(?P<line>\d+):(?P<col>\d+) through (?P<via>.*)$")


class Locator:
    """Turns spans into LSP locations for one analysis, in one position encoding."""

    def __init__(self, analysis: Analysis, encoding: str) -> None:
        self.analysis = analysis
        self.encoding = encoding
        self._texts: dict[str, Text] = {}

    def text(self, path: str) -> Text | None:
        """The text of a path spans name, if it was read (the document's is the buffer)."""
        if path == self.analysis.path:
            path_text: str | None = self.analysis.text
        else:
            source = self.analysis.sources.get(path)
            path_text = source.text if source is not None else None
        if path_text is None:
            return None
        if path not in self._texts:
            self._texts[path] = Text(path_text, self.encoding)
        return self._texts[path]

    def range(self, span: Span) -> types.Range:
        text = self.text(span.path)
        if text is None:
            start = types.Position(max(span.line - 1, 0), max(span.col - 1, 0))
            return types.Range(start, start)
        return text.span_range(span.line, span.col)

    def location(self, span: Span) -> types.Location | None:
        uri = uri_of(span.path, self.analysis)
        if uri is None:
            return None
        return types.Location(uri, self.range(span))

    def mentioned(self, message: str) -> list[tuple[Span, str]]:
        """The spans a message or note names (`already defined at PATH:LINE:COL`), with the
        text around them, for a diagnostic's related information."""
        found = []
        for path in {self.analysis.path, *self.analysis.sources}:
            if not path:
                continue
            for match in re.finditer(re.escape(path) + r":(\d+):(\d+)", message):
                found.append((Span(path, int(match.group(1)), int(match.group(2))), message))
        return found


def reached_from(note: str) -> tuple[Span, str] | None:
    """The protocol statement and the call chain of a `reached from ...` note."""
    match = _REACHED.match(note)
    if match is None:
        return None
    span = Span(match.group("path"), int(match.group("line")), int(match.group("col")))
    return span, match.group("via")
