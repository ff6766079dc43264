"""Hover: what an API call does on each selected arch, an arch's geometry, a name's
declaration.

On a call, one section per selected arch (document.py says which): what the function does
there in a line (effects.py: `no-op` when it does nothing), where the body comes from
(defined in the arch, or inherited), and the body as `check --show-arch` quotes it, with the
comment above it that cites the kernel code it follows, shortened. A body shown for an earlier
arch is not repeated: its section says which one it is.

While the document does not load, the library that answers is the last version of it that
did (document.py): what the document itself defines is shown as it was then, said so, and
without a line number, which lines typed above it since would have made wrong.
"""

from __future__ import annotations

import textwrap
from pathlib import PurePosixPath

from lsprotocol import types

from checker.front import model
from checker.front.kernel_names import unknown_function
from checker.front.resolve_arch import signature
from checker.front.source import Span
from checker.lsp import outline as names
from checker.lsp.calls import Target, call_target
from checker.lsp.document import Document
from checker.lsp.effects import summary

# report/arches.py is what `check --show-arch` prints; hover quotes a function the same way
# (its group comment included), so it reuses the two helpers that find the lines to quote.
from checker.report.arches import geometry, quote_block, source_lines

MAX_COMMENT_LINES = 12  # the citation is in the comment: keep it, within reason
MAX_BODY_LINES = 10


def hover(document: Document, offset: int) -> types.Hover | None:
    occurrence = document.outline.occurrence_at(offset)
    if occurrence is None:
        return None
    role = occurrence.role
    if role in (names.CALL, names.FUNCTION):
        value = _call(document, call_target(document.outline, occurrence))
    elif role == names.HOOK:
        value = _call(document, Target(occurrence.text, hook=occurrence.text))
    elif role in (names.ARCH, names.ARCH_REF):
        value = _arch(document, occurrence.text)
    elif role in (names.KEYWORD, names.OTHER):
        value = _word(occurrence)
    else:
        value = _declaration(document, occurrence)
    if value is None:
        return None
    token = occurrence.token
    return types.Hover(types.MarkupContent(types.MarkupKind.Markdown, value),
                       document.text.range(token.start, token.end))


def _call(document: Document, target: Target) -> str | None:
    library = document.library
    keys, why = document.selection
    lines = []
    if target.note:
        lines += [target.note, ""]
    code = target.code
    if code is None:
        return "\n".join(lines).strip()
    having = [k for k in keys if target.code_in(library.arches[k]) is not None]
    if not having:
        arch = library.arches[keys[0]] if keys else None
        modelled = arch.functions if arch is not None else {}
        message = unknown_function(code, arch.name if arch else "?", modelled)
        return "\n".join([*lines, message[0].upper() + message[1:] + "."])
    first = target.code_in(library.arches[having[0]])
    assert first is not None
    title = f"on {target.hook}(p: page)" if target.hook else signature(first)
    lines.append(f"**`{title}`** on {len(keys)} arch{'es' * (len(keys) != 1)} ({why})")
    shown: dict[tuple[str, int], str] = {}  # a definition quoted already -> in which section
    defined: list[model.Function] = []
    for key in keys:
        arch = library.arches[key]
        function = target.code_in(arch)
        lines += ["", f"#### {arch.name}"]
        if function is None:
            lines.append(f"not defined on {arch.name}: a call is an error there")
            continue
        defined.append(function)
        origin = "defined in" if function.arch == arch.name else "inherited from"
        where = _where(document, function.span)
        does = summary(function, arch)
        does = f"**{does}**" if does == "no-op" else does  # said plainly, and seen at once
        lines.append(f"{does} — {origin} {function.arch} ({where})")
        place = (function.span.path, function.span.line)
        if place in shown:
            lines.append(f"(the definition shown for {shown[place]})")
            continue
        shown[place] = arch.name
        lines += _quoted(document, function)
    if any(document.stale(function.span) for function in defined):
        lines += ["", _stale_note(document)]
    return "\n".join(lines)


def _where(document: Document, span: Span) -> str:
    """`FILE:LINE` of a definition; for one of this document while it does not load, no
    line: the line is of the last version that loaded, and lines may have come or gone
    above it since (the hover then says so, _stale_note)."""
    name = PurePosixPath(span.path).name
    if document.stale(span):
        return f"{name} as it last loaded"
    return f"{name}:{span.line}"


def _stale_note(document: Document) -> str:
    name = PurePosixPath(document.analysis.path).name
    return (f"*`{name}` does not load as it is now: what it defines is shown as it was in the "
            "last version that loaded.*")


def _quoted(document: Document, function: model.Function) -> list[str]:
    """The function as `check --show-arch` quotes it: the comment that heads it, which
    cites the kernel code, then the body; each cut to a few lines."""
    source = document.known.sources.get(function.span.path)
    if source is None:
        return []
    block = quote_block(source_lines(source), function.span.line)
    quoted = textwrap.dedent("\n".join(block)).split("\n")
    comment = [line for line in quoted if line.lstrip().startswith("//")]
    body = quoted[len(comment):] if quoted[: len(comment)] == comment else quoted
    if len(comment) > MAX_COMMENT_LINES:
        comment = [*comment[:MAX_COMMENT_LINES], "// ..."]
    if len(body) > MAX_BODY_LINES:
        body = [*body[: MAX_BODY_LINES - 1], "    ...", body[-1]]
    return ["```flow", *comment, *body, "```"]


def _arch(document: Document, name: str) -> str | None:
    arch = next((a for a in document.library.arches.values() if a.name == name), None)
    if arch is None:
        return None
    chain = [arch.name]
    while (parent := document.library.arches.get(chain[-1])) is not None and parent.parent:
        chain.append(parent.parent)
    where = _where(document, arch.span)
    lines = [f"**arch {' extends '.join(chain)}** ({arch.kernel or 'kernel version not given'}"
             f", {where})", "", geometry(arch)]
    if arch.doc:
        lines += ["", arch.doc]
    if document.stale(arch.span):
        lines += ["", _stale_note(document)]
    return "\n".join(lines)


# What a word means where a reader asks "which kernel test, which state, is this?": the page
# conditions and the start states (docs/language.md says each at length).
PAGE_WORDS = {
    "anon": "an anonymous page, no file behind it (the kernel's PageAnon)",
    "file": "a page of a file's page cache, not anonymous",
    "highmem": "a page with no permanent linear (kernel) alias (PageHighMem): kmap must make "
               "a temporary one",
    "mapped": "some user mapping of the page exists: a VMA maps it (mapping_mapped). A "
              "mapping declared `start M unfaulted` counts, before its first access too",
    "faulted": "some user mapping of the page has its page-table entry (folio_mapped; "
               "page_mapcount before v6.6). False while every mapping of the page is "
               "declared `start M unfaulted` and none has been touched yet",
}
START_WORDS = {
    "any": "each line the mapping reaches may be absent, clean or dirty at the start (the "
           "process has been using it); the default",
    "clean": "each line may be absent or clean at the start (the page was only read through "
             "this alias)",
    "empty": "nothing of this alias is cached at the start",
    "dirty": "the kernel wrote every word of the page through its linear alias before the "
             "protocol began: the write is dirty in the first write-back level (with none, "
             "in memory), and memory holds the old value",
    "unfaulted": "the mapping exists (mmap'ed without MAP_POPULATE) but has no page-table "
                 "entry: nothing of it is cached, and its first access is a page fault that "
                 "runs the arch's `on user_map` first",
}


def _word(occurrence: names.Occurrence) -> str | None:
    word = occurrence.text
    if occurrence.head == "start" and word in START_WORDS:
        return f"**start state `{word}`**: {START_WORDS[word]}."
    if occurrence.role == names.KEYWORD and word in PAGE_WORDS:
        shown = f"page {word}" if occurrence.head == "page" else f"{word}(p)"
        return f"**`{shown}`**: {PAGE_WORDS[word]}."
    return None


def _declaration(document: Document, occurrence: names.Occurrence) -> str | None:
    """A page, mapping, variable, event or thread: the line that declares or binds it."""
    found = document.outline.declaration_of(occurrence)
    if not found:
        return None
    declared = found[0]
    text = document.analysis.text
    start = text.rfind("\n", 0, declared.token.start) + 1
    end = text.find("\n", declared.token.end)
    line = text[start: end if end >= 0 else len(text)].strip()
    kind = {names.BINDING: "mapping variable", names.PARAM: "parameter",
            names.EVENT: "event", names.LOCK: "lock"}.get(declared.role, declared.role)
    number = text.count("\n", 0, declared.token.start) + 1
    return f"**{kind}** `{occurrence.text}` (line {number})\n```flow\n{line}\n```"
