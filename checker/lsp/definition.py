"""Go to definition.

- An API call (or a `fn` name): where the function is defined for each selected arch, in
  the arch file that defines the body the arch runs (generic.flow for an inherited one);
  built-in arch files are given by their real file:// URI, in the checkout's specs/arch or
  the installed package's data. The kernel's spellings go where they lead (`dma_map_page(p,
  DMA_TO_DEVICE)` to dma_map_page_to_device, `mmap` to the `on user_map` hooks). A
  function the document defines is found where its `fn` is in the text as it is now, by
  outline.py's scan: while the text does not load, the library (the last version that
  loaded) has it at a place that may have moved, or not at all if it was typed since.
- An arch name (`expect ... on A`, `extends A`): the arch block, in this document or an arch
  file.
- A page, mapping, mapping variable, parameter, thread, event or lock: its declaration in
  the document (the binding before the use, for a variable; the `signal`s, for an event).
"""

from __future__ import annotations

import re

from lsprotocol import types

from checker.front.source import Span
from checker.lsp import outline as names
from checker.lsp.calls import Target, call_target
from checker.lsp.document import Document
from checker.lsp.locations import Locator


def definition(document: Document, offset: int) -> list[types.Location] | None:
    occurrence = document.outline.occurrence_at(offset)
    if occurrence is None:
        return None
    locator = Locator(document.known, document.encoding)
    role = occurrence.role
    if role in (names.CALL, names.FUNCTION, names.HOOK):
        target = (Target(occurrence.text, hook=occurrence.text) if role == names.HOOK
                  else call_target(document.outline, occurrence))
        found = _functions(document, locator, target)
        if found or role != names.CALL:
            return found or None
    if role in (names.ARCH, names.ARCH_REF):
        return _arch(document, locator, occurrence.text) or None
    declared = document.outline.declaration_of(occurrence)
    return [_here(document, o.token) for o in declared] or None


def _functions(document: Document, locator: Locator, target: Target) -> list[types.Location]:
    library = document.library
    keys = document.arches
    if not any(target.code_in(library.arches[k]) for k in keys):
        keys = list(library.arches)  # none selected has it: wherever one is defined
    found: dict[tuple[str, int, int], types.Location] = {}
    for key in keys:
        function = target.code_in(library.arches[key])
        if function is None:
            continue
        if document.stale(function.span):
            # Defined in this document as it last loaded: where that `fn` is now, if it is
            # still in the same arch block.
            located = [_here(document, o.token)
                       for o in _declared_here(document, target, function.arch)]
        else:
            location = _named(document, locator, function.span, function.name)
            located = [location] if location is not None else []
        for location in located:
            found.setdefault((location.uri, location.range.start.line,
                              location.range.start.character), location)
    # The document's arch blocks the library does not know: typed since the document last
    # loaded (or it never did). The scan of the text as it is sees their `fn NAME`.
    known = {arch.name for arch in library.arches.values()}
    unloaded = [o for o in _declared_here(document, target) if _arch_of(o) not in known]
    if not found:
        # Nor does the library know the function where the document defines it: that `fn`
        # was typed since the document last loaded. Wherever the document defines it, then.
        unloaded = _declared_here(document, target)
    for occurrence in unloaded:
        location = _here(document, occurrence.token)
        found.setdefault((location.uri, location.range.start.line,
                          location.range.start.character), location)
    return list(found.values())


def _declared_here(document: Document, target: Target,
                   arch: str | None = None) -> list[names.Occurrence]:
    """The document's own `fn NAME` (`on NAME` for a hook) in its text as it is now, in the
    arch block named `arch` (in any arch block when None)."""
    role, name = (names.HOOK, target.hook) if target.hook else (names.FUNCTION, target.function)
    return [o for o in document.outline.occurrences if o.role == role and o.text == name
            and (arch is None or _arch_of(o) == arch)]


def _arch_of(occurrence: names.Occurrence) -> str | None:
    """The name of the block an occurrence is in (None when the block has none yet)."""
    block = occurrence.block
    return block.name.text if block is not None and block.name is not None else None


def _arch(document: Document, locator: Locator, name: str) -> list[types.Location]:
    declared = [o for o in document.outline.occurrences
                if o.role == names.ARCH and o.text == name]
    if declared:
        return [_here(document, o.token) for o in declared]
    found = []
    for arch in document.library.arches.values():
        if arch.name == name:
            location = _named(document, locator, arch.span, name)
            if location is not None:
                found.append(location)
    return found


def _here(document: Document, token: names.Token) -> types.Location:
    return types.Location(document.analysis.uri, document.text.range(token.start, token.end))


def _named(document: Document, locator: Locator, span: Span, name: str) -> types.Location | None:
    """The location of `name` in the declaration at `span` (`fn NAME`, `arch NAME`), the
    document's own declarations in the text as it is now."""
    if document.stale(span):
        return None  # a declaration of an older text of this document: its place moved
    location = locator.location(span)
    text = locator.text(span.path)
    if location is None or text is None:
        return location
    start = text.offset_of_span(span.line, span.col)
    match = re.compile(rf"\b{re.escape(name)}\b").search(text.text, start, start + 200)
    if match is None:
        return location
    return types.Location(location.uri, text.range(match.start(), match.end()))
