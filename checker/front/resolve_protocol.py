"""Protocol blocks -> model.Protocol: declarations, thread bodies and expects."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace

from checker.errors import ErrorList, FlowError
from checker.front import model
from checker.front import syntax as st
from checker.front.resolve_body import Binding, Body, count, resolve_body, suggest, unique_options
from checker.front.source import Span


def resolve_protocol(block: st.ProtocolBlock, arches: Collection[str]) -> model.Protocol:
    """One protocol; `arches` are the names an `expect` may use. Declarations, threads and
    expects are checked one by one and all their errors raised together."""
    errors = ErrorList()
    doc = _doc(block, errors)
    page_decls = _items(block, st.PageDecl)
    mapping_decls = _items(block, st.MappingDecl)
    thread_decls = _items(block, st.ThreadDecl)
    page_decls, mapping_decls = _unique_decls(page_decls, mapping_decls, errors)
    thread_decls = _unique(thread_decls, errors)
    pages = tuple(_each(_page, page_decls, errors))
    # A page or mapping whose declaration has an error still names something, so that its
    # uses in threads bring no second error.
    words: dict[str, int | None] = {decl.name.text: None for decl in page_decls}
    words.update({page.name: page.words for page in pages})
    mappings = tuple(_each(lambda decl: _mapping(decl, words), mapping_decls, errors))
    pages, mappings = _starts(_items(block, st.StartDecl), pages, mappings, words, errors)
    bindings = {decl.name.text: Binding("declared", None) for decl in mapping_decls}
    bindings.update({m.name: Binding("declared", m.page) for m in mappings})
    threads = []
    for decl in thread_decls:
        body = Body(
            kind="device" if decl.is_device else "thread",
            name=decl.name,
            pages=dict(words),
            mappings=dict(bindings),
        )
        with errors.catch():
            statements = resolve_body(decl.body, body)
            threads.append(model.Thread(decl.name.text, decl.is_device, statements, decl.span))
    expects = _expects(_items(block, st.ExpectDecl), arches, errors)
    if len(threads) == len(thread_decls):  # a thread in error would give follow-on errors
        _check_lines(_items(block, st.ExpectDecl), threads, errors)
    errors.raise_any()
    return model.Protocol(
        block.name.text, doc, pages, mappings, tuple(threads), expects, block.span
    )


def _items(block: st.ProtocolBlock, kind: type) -> list:
    return [item for item in block.items if isinstance(item, kind)]


def _each(resolve: Callable, decls: list, errors: ErrorList) -> list:
    """resolve(decl) for each declaration that resolves; the errors of the others go to
    `errors`."""
    out = []
    for decl in decls:
        with errors.catch():
            out.append(resolve(decl))
    return out


def _unique_decls(
    pages: list[st.PageDecl], mappings: list[st.MappingDecl], errors: ErrorList
) -> tuple[list[st.PageDecl], list[st.MappingDecl]]:
    """Pages and mappings share one namespace; a name declared again is an error, and the
    later declaration is left out."""
    kept = _unique([*pages, *mappings], errors)
    return (
        [d for d in kept if isinstance(d, st.PageDecl)],
        [d for d in kept if isinstance(d, st.MappingDecl)],
    )


def _unique(decls: list, errors: ErrorList) -> list:
    """The declarations whose name is new in their namespace; each other one is an error."""
    seen: dict[str, tuple[str, Span]] = {}
    kept = []
    for decl in decls:
        name, kind = decl.name, _kind(decl)
        if name.text in seen:
            other, span = seen[name.text]
            message = f"'{name.text}' is already declared as a {other} at {span}"
            errors.add(FlowError(name.span, message))
            continue
        seen[name.text] = (kind, name.span)
        kept.append(decl)
    return kept


def _kind(decl: st.PageDecl | st.MappingDecl | st.ThreadDecl) -> str:
    if isinstance(decl, st.ThreadDecl):
        return "device" if decl.is_device else "thread"
    return "page" if isinstance(decl, st.PageDecl) else "mapping"


def _doc(block: st.ProtocolBlock, errors: ErrorList) -> str:
    docs = _items(block, st.DocDecl)
    for doc in docs[1:]:
        errors.add(FlowError(doc.span, f"doc is already given in this protocol at {docs[0].span}"))
    return docs[0].text if docs else ""


def _page(decl: st.PageDecl) -> model.Page:
    seen = unique_options(decl.options)
    if "anon" in seen and "file" in seen:
        later = max(seen["anon"], seen["file"], key=lambda option: option.span)
        raise FlowError(later.span, "a page is anon or file, not both")
    size = seen.get("words")
    words = count(size.value, "words") if size and size.value else 1
    kind = "file" if "file" in seen else "anon"
    return model.Page(decl.name.text, kind, "highmem" in seen, words, decl.span)


def _mapping(decl: st.MappingDecl, pages: dict[str, int | None]) -> model.UserMapping:
    """A declared user mapping; `pages` holds every page declared."""
    page = decl.page
    if page.text not in pages:
        raise FlowError(page.span, f"unknown page '{page.text}'{suggest(page.text, set(pages))}")
    colour = decl.colour
    if colour is not None and isinstance(colour.value, str) and colour.value != "any":
        raise FlowError(colour.span, "a user mapping's colour is a number or 'any'")
    value = colour.value if colour is not None and isinstance(colour.value, int) else None
    return model.UserMapping(decl.name.text, page.text, value, decl.span)


MAPPING_STARTS = {
    "empty": "no line of the mapping is cached",
    "clean": "its lines are absent or clean: the process has only read the page",
    "any": "its lines are absent, clean or dirty (the default)",
    "unfaulted": "the mapping exists but its page is not faulted in yet: nothing cached, no "
                 "TLB entry, and the first access through it faults (the arch's `on user_map` "
                 "runs then)",
}
KERNEL_STARTS = {
    "empty": "the linear alias holds nothing (the default)",
    "clean": "the kernel read the page: its linear-alias lines may be cached, clean",
    "dirty": "the kernel wrote the page through the linear alias before the protocol; "
             "the data may still be dirty in the cache",
}


def _starts(
    decls: list[st.StartDecl],
    pages: tuple[model.Page, ...],
    mappings: tuple[model.UserMapping, ...],
    declared: dict[str, int | None],
    errors: ErrorList,
) -> tuple[tuple[model.Page, ...], tuple[model.UserMapping, ...]]:
    """Apply each `start` declaration to its mapping or page; each is checked on its own."""
    page_starts: dict[str, str] = {}
    mapping_starts: dict[str, str] = {}
    seen: dict[tuple[str, str], Span] = {}
    by_page = {p.name: p for p in pages}
    for decl in decls:
        with errors.catch():
            key = (decl.kind, decl.name.text)
            if key in seen:
                raise FlowError(decl.span, f"the start of {_start_target(decl)} is already "
                                           f"given at {seen[key]}")
            seen[key] = decl.span
            states = MAPPING_STARTS if decl.kind == "mapping" else KERNEL_STARTS
            state = decl.state.text
            if state not in states:
                choices = ", ".join(f"'{s}'" for s in states)
                raise FlowError(decl.state.span, f"unknown start '{state}' for "
                                f"{_start_target(decl)}: one of {choices}"
                                f"{suggest(state, set(states))}")
            name = decl.name
            if decl.kind == "kernel":
                if name.text not in declared:
                    raise FlowError(name.span, f"unknown page '{name.text}'"
                                               f"{suggest(name.text, set(declared))}")
                page = by_page.get(name.text)
                if page is not None and page.highmem and state != "empty":
                    raise FlowError(name.span, f"'{name.text}' is highmem: it has no linear "
                                               "alias to start with data in")
                page_starts[name.text] = state
            else:
                if name.text not in {m.name for m in mappings}:
                    if name.text in declared:
                        raise FlowError(name.span, f"'{name.text}' is a page: write "
                                        f"'start kernel({name.text}) {state}' for its linear "
                                        "alias, or name a declared mapping")
                    known = {m.name for m in mappings}
                    raise FlowError(name.span, f"unknown mapping '{name.text}': `start` names a "
                                    f"declared mapping{suggest(name.text, known)}")
                mapping_starts[name.text] = state
    pages = tuple(replace(p, kernel_start=page_starts.get(p.name, "empty")) for p in pages)
    mappings = tuple(replace(m, start=mapping_starts.get(m.name, "any")) for m in mappings)
    return pages, mappings


def _start_target(decl: st.StartDecl) -> str:
    return f"kernel({decl.name.text})" if decl.kind == "kernel" else f"'{decl.name.text}'"


def _expects(
    decls: list[st.ExpectDecl], arches: Collection[str], errors: ErrorList
) -> tuple[model.Expect, ...]:
    """One model.Expect per arch named; an arch may be named by one expect line only. Each
    line is checked on its own."""
    expects: list[model.Expect] = []
    seen: dict[str, Span] = {}
    for decl in decls:
        with errors.catch():
            kinds = _verdicts(decl.verdicts)
            lines = None
            for verdict, numbers in decl.lines:
                if verdict != "redundant_flush":
                    raise FlowError(numbers[0].span, f"only redundant_flush takes 'at' lines "
                                    f"(the statements whose maintenance can go), not {verdict}")
                lines = frozenset(n.value for n in numbers)
            for arch in decl.arches:
                if arch.text not in arches:
                    hint = suggest(arch.text, set(arches))
                    raise FlowError(arch.span, f"unknown arch '{arch.text}'{hint}")
                if arch.text in seen:
                    raise FlowError(
                        arch.span,
                        f"arch '{arch.text}' already has an expect at {seen[arch.text]}",
                    )
                seen[arch.text] = arch.span
                expects.append(model.Expect(kinds, arch.text, arch.span, lines))
    return tuple(expects)


def _check_lines(decls: list[st.ExpectDecl], threads: list[model.Thread],
                 errors: ErrorList) -> None:
    """`redundant_flush at N`: line N must hold a statement of this protocol's threads."""
    lines: set[int] = set()
    stack = [s for t in threads for s in t.body]
    while stack:
        s = stack.pop()
        lines.add(s.span.line)
        for block in _blocks(s):
            stack.extend(block)
    for decl in decls:
        for verdict, numbers in decl.lines:
            for number in numbers if verdict == "redundant_flush" else ():
                if number.value not in lines:
                    errors.add(FlowError(number.span, f"line {number.value} holds no statement "
                                                      "of this protocol's threads"))


def _blocks(s: model.Statement) -> tuple[tuple[model.Statement, ...], ...]:
    if isinstance(s, model.Either):
        return s.branches
    if isinstance(s, model.Repeat):
        return (s.body,)
    return ()


def _verdicts(names: tuple[st.Name, ...]) -> frozenset[str]:
    seen: set[str] = set()
    for name in names:
        if name.text not in model.VERDICTS:
            raise FlowError(
                name.span,
                f"unknown verdict '{name.text}' (valid: {', '.join(model.VERDICTS)})",
            )
        if name.text in seen:
            raise FlowError(name.span, f"verdict '{name.text}' is given twice")
        seen.add(name.text)
    if "safe" in seen and len(seen) > 1:
        where = next(name for name in names if name.text == "safe")
        raise FlowError(where.span, "'safe' means no finding: it cannot go with another verdict")
    return frozenset(seen - {"safe"})
