"""A document's text through the front end, as `check FILE` would load and check it.

The text is the editor's buffer, never the file on disk: it goes to load_files as the text
already read for the document's path (the way a --jobs worker gets a pipe's text), so the
errors are the command line's own, located in the document. After loading, every protocol is
checked on every arch as `check FILE` does by default (`--arch all`): the calls, the sizes,
the warnings. Nothing escapes: an exception inside flowcheck becomes `internal`, which the
server reports as a diagnostic instead of going down.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pygls.uris import from_fs_path, to_fs_path

from checker.errors import FlowError, FlowWarning
from checker.front import model
from checker.front.load import MAX_FILE_BYTES, check_protocol_on_arch, load_files
from checker.front.resources import builtin_arch_paths
from checker.front.selection import plan_checks
from checker.front.source import SourceText, Span
from checker.lsp.outline import Outline


@dataclass(frozen=True)
class Analysis:
    """What the front end made of one version of a document."""

    uri: str
    path: str  # the document's path in spans: its file's path, or `<builtin>/NAME.flow`
    text: str
    library: model.Library | None  # None when the text does not load
    sources: dict[str, SourceText]  # every text read, by the path spans name
    errors: tuple[FlowError, ...] = ()
    more: int = 0  # errors found beyond those kept (the command line's limit, 20)
    warnings: tuple[FlowWarning, ...] = ()
    internal: str | None = None  # an exception inside flowcheck: a bug, said as such
    checked: tuple[str, ...] = field(default=())  # the arch keys the protocols were checked on

    @cached_property
    def outline(self) -> Outline:
        return Outline(self.text)


def document_path(uri: str) -> str:
    """The path that stands for the document in spans and messages: its file's path (as
    `check PATH` would show it), `<builtin>/NAME.flow` for a built-in arch file opened from
    the checkout or the installed package (it replaces the built-in text, as an edited arch
    file should), or the URI itself for a buffer with no file (`untitled:...`)."""
    path = to_fs_path(uri)
    if path is None:
        return uri
    real = os.path.realpath(path)
    for display, file in builtin_arch_paths().items():
        if os.path.realpath(file) == real:
            return display
    return path


def uri_of(path: str, analysis: Analysis) -> str | None:
    """The URI of a path named in spans: the document's own URI, a built-in arch file's
    file:// URI (the checkout's specs/arch or the installed package data), else a file's."""
    if path == analysis.path:
        return analysis.uri
    builtin = builtin_arch_paths().get(path)
    if builtin is not None:
        return from_fs_path(str(Path(builtin).resolve()))
    if path.startswith("<"):
        return None
    return from_fs_path(os.path.abspath(path))


def analyze(uri: str, text: str) -> Analysis:
    """Load and check `text` as the document at `uri`."""
    path = document_path(uri)
    try:
        return _analyze(uri, path, text)
    except Exception as error:  # a bug in flowcheck: the server reports it and goes on
        name = type(error).__name__
        return Analysis(uri, path, text, None, {path: SourceText(path, text)},
                        internal=f"{name}: {error}".rstrip(": ")[:300])


def _analyze(uri: str, path: str, text: str) -> Analysis:
    # A byte-order mark is dropped by the command line; a space keeps the columns of the
    # first line where the editor has them (the mark is a character of the buffer).
    parsed = " " + text[1:] if text.startswith("\ufeff") else text
    size = len(parsed.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        message = (f"cannot read '{path}': larger than {MAX_FILE_BYTES:,} bytes, the limit "
                   "for one input file")
        return Analysis(uri, path, text, None, {path: SourceText(path, text)},
                        (FlowError(None, message),))
    try:
        loaded = load_files([path], read={path: parsed})
    except FlowError as error:
        sources = getattr(error, "sources", None) or {path: SourceText(path, parsed)}
        return Analysis(uri, path, text, None, dict(sources), error.errors, error.more)
    library = loaded.library
    errors: list[FlowError] = []
    warnings: dict[str, FlowWarning] = {}
    reported: set[tuple[int, Span | None]] = set()
    pairs = plan_checks(library, None)
    # As the command line does: the first error of each protocol on each arch, and one at a
    # place already reported for that protocol (a misspelt call) not again for every arch.
    for index, key in pairs:
        try:
            found = check_protocol_on_arch(library.protocols[index], library.arches[key],
                                           library)
        except FlowError as error:
            if (index, error.span) not in reported:
                reported.add((index, error.span))
                errors.append(error)
            continue
        for warning in found:
            warnings.setdefault(warning.render(), warning)
    return Analysis(uri, path, text, library, dict(loaded.sources), tuple(errors), 0,
                    tuple(warnings.values()), checked=tuple(dict.fromkeys(k for _, k in pairs)))


def builtin_only() -> Analysis:
    """The built-in arches alone: what hover and completion know before any text loads."""
    loaded = load_files([])
    return Analysis("", "", "", loaded.library, dict(loaded.sources))
