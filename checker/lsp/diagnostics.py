"""An analysis's errors and warnings as LSP diagnostics on the document.

Each error is put where the command line points (`path:line:col`), converted to a 0-based
range over the word there. An error located in another file (a built-in arch function, when
a protocol's call reaches a misuse inside it) is put at the document's statement that the
check came through (its `reached from` note), the other place given in the message and as
related information; one with no place at all (a file-level error) sits at the start.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from lsprotocol import types

from checker.front.source import Span
from checker.lsp.analysis import Analysis
from checker.lsp.locations import Locator, reached_from

SOURCE = "flowcheck"
_START = types.Range(types.Position(0, 0), types.Position(0, 0))


def diagnostics(analysis: Analysis, encoding: str) -> list[types.Diagnostic]:
    locator = Locator(analysis, encoding)
    found = [
        _diagnostic(locator, error.span, error.message, error.notes,
                    types.DiagnosticSeverity.Error)
        for error in analysis.errors
    ]
    if analysis.more:
        found.append(types.Diagnostic(
            _START, f"... and {analysis.more:,} more error{'s' * (analysis.more != 1)} "
            "(the command line's limit: fix these first)",
            types.DiagnosticSeverity.Information, source=SOURCE))
    found.extend(
        _diagnostic(locator, warning.span, warning.message, warning.notes,
                    types.DiagnosticSeverity.Warning)
        for warning in analysis.warnings
    )
    if analysis.internal is not None:
        found.append(types.Diagnostic(
            _START,
            f"internal error in flowcheck: {analysis.internal}. This is a bug in flowcheck; "
            "please report it with this file ('check FILE' with FLOWCHECK_DEBUG=1 shows the "
            "traceback)",
            types.DiagnosticSeverity.Error, source=SOURCE))
    return found


def _diagnostic(
    locator: Locator,
    span: Span | None,
    message: str,
    notes: tuple[str, ...],
    severity: types.DiagnosticSeverity,
) -> types.Diagnostic:
    document = locator.analysis.path
    related: list[types.DiagnosticRelatedInformation] = []
    where = _START
    text = message
    origin = next((r for r in map(reached_from, notes) if r is not None), None)
    if span is not None and span.path == document:
        where = locator.range(span)
    elif span is not None:
        # Elsewhere (a built-in arch file): at the document's statement that led there.
        place = f"{PurePosixPath(span.path).name}:{span.line}:{span.col}"
        if origin is not None and origin[0].path == document:
            where = locator.range(origin[0])
            text = f"{message} (in {place}, reached through {origin[1]})"
        else:
            text = f"{place}: {message}"
        _relate(related, locator, span, message)
    for note in notes:
        reached = reached_from(note)
        if reached is not None and (span is None or span.path == document):
            _relate(related, locator, reached[0], f"reached from here through {reached[1]}")
        elif reached is None:
            text += f"\nnote: {note}"
    for mentioned, _ in locator.mentioned(message):
        _relate(related, locator, mentioned, "the place the message names")
    return types.Diagnostic(where, text, severity, source=SOURCE,
                            related_information=related or None)


def _relate(related: list[types.DiagnosticRelatedInformation], locator: Locator,
            span: Span, message: str) -> None:
    location = locator.location(span)
    if location is not None:
        related.append(types.DiagnosticRelatedInformation(location, message))
