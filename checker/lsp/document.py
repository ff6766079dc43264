"""What the editor features know about one document: its text and names as typed, the arch
library to answer from, and which arches it is about.

The library is the one this text loads into when it loads; while it does not (a line being
typed), the one the document last loaded into, or the built-in arches alone: hover and
completion keep working on a broken buffer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from checker.front import model
from checker.front.source import Span
from checker.lsp.analysis import Analysis
from checker.lsp.outline import Outline
from checker.lsp.positions import Text

ALL = "all"


@dataclass(frozen=True)
class Document:
    analysis: Analysis  # of the text as it is now
    known: Analysis  # the one whose library answers (analysis itself when it loaded)
    encoding: str
    arches_setting: tuple[str, ...] | None = None  # the `arches` setting, if given

    @cached_property
    def outline(self) -> Outline:
        return self.analysis.outline

    @cached_property
    def text(self) -> Text:
        return Text(self.analysis.text, self.encoding)

    @property
    def library(self) -> model.Library:
        library = self.known.library
        assert library is not None  # Document is made with a loaded `known`
        return library

    @cached_property
    def selection(self) -> tuple[list[str], str]:
        return selected_arches(self.library, self.outline, self.arches_setting)

    def stale(self, span: Span) -> bool:
        """Whether `span` is a place in an older text of this document: the one that last
        loaded, whose library answers while the text as it is now does not load. Lines
        typed since may have moved it."""
        return span.path == self.analysis.path and self.known is not self.analysis

    @property
    def arches(self) -> list[str]:
        """The keys of the arches hover and go-to-definition speak of."""
        return self.selection[0]

    @cached_property
    def unknown_arches(self) -> list[str]:
        """The names in the `arches` setting that are no arch: neither one the library has
        nor one the document defines (which it may not have loaded yet)."""
        if not self.arches_setting:
            return []
        known = {arch.name for arch in self.library.arches.values()}
        known.update(self.outline.arch_names())
        return [name for name in dict.fromkeys(self.arches_setting)
                if name != ALL and name not in known]


def selected_arches(library: model.Library, outline: Outline,
                    setting: Sequence[str] | None) -> tuple[list[str], str]:
    """The arch keys selected, and in a few words why: the `arches` setting when given
    (`all`: every arch), else the arches the document's `expect` lines name and those it
    defines, else every built-in arch."""
    by_name: dict[str, list[str]] = {}
    for key, arch in library.arches.items():
        by_name.setdefault(arch.name, []).append(key)
    builtin = sorted(key for key, arch in library.arches.items() if arch.builtin)
    ignored = ""
    if setting:
        if ALL in setting:
            return [*builtin, *sorted(library.user_arches)], "every arch (the `arches` setting)"
        # A name that is no arch is left out (the server tells the user, once): the others
        # still select, and with none left the default applies, said so.
        keys = [key for name in dict.fromkeys(setting) for key in by_name.get(name, ())]
        if keys:
            return keys, "the `arches` setting"
        ignored = "; the `arches` setting names no arch this document knows"
    named = [*outline.expect_arches(), *outline.arch_names()]
    keys = [key for name in dict.fromkeys(named) for key in by_name.get(name, ())]
    if keys:
        return keys, f"the arches this document's expect lines name and those it defines{ignored}"
    return builtin, f"every built-in arch (no expect line names one){ignored}"
