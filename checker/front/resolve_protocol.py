"""Protocol blocks -> model.Protocol: declarations, thread bodies, events and expects."""

from __future__ import annotations

from collections.abc import Collection

from checker.errors import FlowError
from checker.front import model
from checker.front import syntax as st
from checker.front.resolve_body import Binding, Body, count, resolve_body, suggest, unique_options
from checker.front.source import Span


def resolve_protocol(block: st.ProtocolBlock, arches: Collection[str]) -> model.Protocol:
    """One protocol; `arches` are the names an `expect` may use."""
    doc = _doc(block)
    page_decls = _items(block, st.PageDecl)
    mapping_decls = _items(block, st.MappingDecl)
    thread_decls = _items(block, st.ThreadDecl)
    _unique([(d.name, "page") for d in page_decls] + [(d.name, "mapping") for d in mapping_decls])
    _unique([(d.name, "device" if d.is_device else "thread") for d in thread_decls])
    pages = tuple(_page(decl) for decl in page_decls)
    words = {page.name: page.words for page in pages}
    mappings = tuple(_mapping(decl, words) for decl in mapping_decls)
    threads, signals, waits = [], [], []
    for decl in thread_decls:
        body = Body(
            kind="device" if decl.is_device else "thread",
            name=decl.name,
            pages=dict(words),
            mappings={m.name: Binding("declared", m.page) for m in mappings},
        )
        statements = resolve_body(decl.body, body)
        threads.append(model.Thread(decl.name.text, decl.is_device, statements, decl.span))
        signals += body.signals
        waits += body.waits
    _check_events(signals, waits)
    expects = _expects(_items(block, st.ExpectDecl), arches)
    return model.Protocol(
        block.name.text, doc, pages, mappings, tuple(threads), expects, block.span
    )


def _items(block: st.ProtocolBlock, kind: type) -> list:
    return [item for item in block.items if isinstance(item, kind)]


def _unique(names: list[tuple[st.Name, str]]) -> None:
    """Names that share a namespace, each with the kind of thing it names."""
    seen: dict[str, tuple[str, Span]] = {}
    for name, kind in names:
        if name.text in seen:
            other, span = seen[name.text]
            raise FlowError(name.span, f"'{name.text}' is already declared as a {other} at {span}")
        seen[name.text] = (kind, name.span)


def _doc(block: st.ProtocolBlock) -> str:
    docs = _items(block, st.DocDecl)
    if len(docs) > 1:
        raise FlowError(docs[1].span, f"doc is already given in this protocol at {docs[0].span}")
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


def _mapping(decl: st.MappingDecl, pages: dict[str, int]) -> model.UserMapping:
    page = decl.page
    if page.text not in pages:
        raise FlowError(page.span, f"unknown page '{page.text}'{suggest(page.text, set(pages))}")
    colour = decl.colour
    if colour is not None and isinstance(colour.value, str) and colour.value != "any":
        raise FlowError(colour.span, "a user mapping's colour is a number or 'any'")
    value = colour.value if colour is not None and isinstance(colour.value, int) else None
    return model.UserMapping(decl.name.text, page.text, value, decl.span)


def _check_events(signals: list[st.Name], waits: list[st.Name]) -> None:
    signalled = {name.text for name in signals}
    for wait in waits:
        if wait.text not in signalled:
            raise FlowError(
                wait.span,
                f"unknown event '{wait.text}': no thread signals it{suggest(wait.text, signalled)}",
            )


def _expects(decls: list[st.ExpectDecl], arches: Collection[str]) -> tuple[model.Expect, ...]:
    """One model.Expect per arch named; an arch may be named by one expect line only."""
    expects: list[model.Expect] = []
    seen: dict[str, Span] = {}
    for decl in decls:
        kinds = _verdicts(decl.verdicts)
        for arch in decl.arches:
            if arch.text not in arches:
                raise FlowError(
                    arch.span, f"unknown arch '{arch.text}'{suggest(arch.text, set(arches))}"
                )
            if arch.text in seen:
                raise FlowError(
                    arch.span,
                    f"arch '{arch.text}' already has an expect at {seen[arch.text]}",
                )
            seen[arch.text] = arch.span
            expects.append(model.Expect(kinds, arch.text, arch.span))
    return tuple(expects)


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
