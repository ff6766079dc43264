"""Completion: API names, the page and mapping names in scope, arch names, events, keywords.

What is offered depends on where the cursor is, read from the statement typed so far (the
document rarely parses while a word is half typed, so this goes by outline.py's scan), and
is only what the checker accepts there (checker/front/resolve_body.py):
- where a statement starts in a thread or function: the API functions the arches define
  (with their signature, and which arches override them), `munmap`, the pages and mappings in
  scope, and the statement keywords (in a protocol, not the arch-only ones: the cache
  micro-operations, `if`, `return`); in a device, only the statements a device may use;
- after `=`: the API functions that return a mapping and `mmap` (and `map`, in an arch);
  after `return` in an arch: those, `map`, and the mappings in scope;
- where an operand goes (`read `, `copy k <- `, `dma_read `, inside a call's parentheses):
  the names in scope of the kind taken there (outline.OPERANDS): mappings after `read`,
  pages after `dma_read` or `map`, either in a call (the protocol's pages and mappings, the
  thread's variables bound above the cursor; a function's parameters and variables);
- after `expect ... on` or `extends`: arch names; after `signal` or `wait`: the events;
  after `lock` or `unlock`: the locks;
- at the top of a block: the declarations that block takes.
The word being typed is never offered as a name: it is in the text, but not a name yet.
"""

from __future__ import annotations

import bisect

from lsprotocol import types

from checker.front.model import VERDICTS
from checker.front.resolve_arch import signature
from checker.lsp import outline as names
from checker.lsp.calls import HOOKS
from checker.lsp.document import Document

_TOP = ("arch", "protocol")
_ARCH_ITEMS = ("doc", "kernel", "cache", "speculative_fill", "dma_coherent", "fn", "on")
_PROTOCOL_ITEMS = ("doc", "page", "mapping", "start", "thread", "device", "expect")
# Statements a protocol cannot use: it reaches the cache only through the arch's API
# (docs/language.md, section 7).
_ARCH_ONLY = frozenset(("flush", "writeback", "invalidate", "purge_tlb", "map", "unmap", "set",
                        "clear", "if", "else", "return"))
# What a device may use (resolve_body.DEVICE_STATEMENTS, and `either`/`repeat` around them).
_DEVICE_WORDS = frozenset(("dma_read", "dma_write", "signal", "wait", "lock", "unlock",
                           "either", "or", "repeat"))
_MAINTENANCE = frozenset(("flush", "writeback", "invalidate", "purge_tlb"))
_ALIAS_SETS = ("kernel", "user", "all")  # `flush kernel(P)`: a page's aliases
# What munmap takes: a user mapping, declared or made by mmap (not a kmap handle, nor a
# parameter): a narrower kind than names.MAPPING.
_USER_MAPPING = "user mapping"


def completion(document: Document, offset: int) -> types.CompletionList:
    outline = document.outline
    before = _statement_before(outline, offset)
    block, body = outline.scope_at(offset)
    previous = before[-1].text if before else ""
    head = before[0].text if before else ""
    typed = _typed(outline, offset)
    items: list[types.CompletionItem] = []
    if head == "expect" and any(t.text == "on" for t in before) or previous == "extends":
        items = _arches(document)
    elif head == "expect":
        items = [_keyword(v, "verdict") for v in VERDICTS]
    elif previous in ("signal", "wait"):
        items = [_item(e, types.CompletionItemKind.Event, "event")
                 for e in _named(outline, block, names.EVENT, typed)]
    elif previous in ("lock", "unlock"):
        items = [_item(lock, types.CompletionItemKind.Variable, "lock")
                 for lock in _named(outline, block, names.LOCK, typed)]
    elif body is not None:
        in_arch = body.kind in ("fn", "on")
        takes = _operand(before)
        if body.kind == "device":
            # A device only moves data by DMA and synchronises: no call, no assignment.
            if not before:
                items = [_keyword(w, "statement") for w in sorted(_DEVICE_WORDS)]
            elif previous in ("dma_read", "dma_write"):
                items = _in_scope(document, offset, names.PAGE)
        elif not before:
            words = names.STATEMENT_WORDS - (frozenset() if in_arch else _ARCH_ONLY)
            items = [*_in_scope(document, offset), *_functions(document, returning=False),
                     *(_keyword(w, "statement") for w in sorted(words))]
        elif previous == "=":
            items = _functions(document, returning=True)
            if in_arch:
                items.append(_keyword("map", "arch statement: a new mapping handle"))
        elif previous == "return":
            # `return` is arch-only, and returns a mapping: not mmap's (the checker says
            # "'return' cannot return mmap(...)").
            if in_arch:
                items = [*_in_scope(document, offset, names.MAPPING),
                         *_functions(document, returning=True, hooks=False),
                         _keyword("map", "arch statement: a new mapping handle")]
        elif takes is not None:
            items = _in_scope(document, offset, takes)
            if previous in _MAINTENANCE and len(before) == 1:
                items += [_keyword(w, f"alias set: {w}(PAGE)") for w in _ALIAS_SETS]
        elif previous in ("if", "not", "and", "or"):
            items = _in_scope(document, offset)
        else:
            items = [*_in_scope(document, offset), *_functions(document, returning=False)]
    elif block is not None and not before:
        words = _ARCH_ITEMS if block.kind == "arch" else _PROTOCOL_ITEMS
        items = [_keyword(w, "declaration") for w in words]
    elif block is not None and head == "mapping" and previous == "(":
        items = _in_scope(document, offset, names.PAGE)  # `mapping M = user(PAGE)`
    elif block is not None and head == "start" and len(before) == 1:
        items = _in_scope(document, offset, names.MAPPING)  # `start MAPPING STATE`
    elif block is not None and head == "start" and previous == "(":
        items = _in_scope(document, offset, names.PAGE)  # `start kernel(PAGE) STATE`
    elif block is None and not before:
        items = [_keyword(w, "block") for w in _TOP]
    return types.CompletionList(is_incomplete=False, items=items)


def _operand(before: list[names.Token]) -> str | None:
    """What the name at the cursor must be when it is an operand, by the words before it:
    names.PAGE, names.MAPPING or names.EITHER; None when it is no operand."""
    if not before:
        return None  # where a statement starts
    previous = before[-1].text
    if previous == "(" and len(before) >= 2:
        called = before[-2].text
        if called == "mmap":
            return names.PAGE
        if called == "munmap":
            return _USER_MAPPING
        if called == "user" and len(before) >= 3 and before[-3].text in ("colour", "color"):
            return names.PAGE  # `map P colour user(Q)`: at the colour of a mapping of page Q
    return names.OPERANDS.get(previous)


def _typed(outline: names.Outline, offset: int) -> names.Token | None:
    """The name being typed: the one the cursor is in or just after."""
    token = outline.token_at(offset)
    return token if token is not None and token.kind == "name" and token.start < offset \
        else None


def _named(outline: names.Outline, block: names.Block | None, role: str,
           typed: names.Token | None) -> list[str]:
    """The events or locks of a block, each once, but for the word being typed: `signal d`
    half typed is no event `d`."""
    return list(dict.fromkeys(o.text for o in outline.in_block(block, role)
                              if o.token != typed))


def _statement_before(outline: names.Outline, offset: int) -> list[names.Token]:
    """The tokens of the statement the cursor is in, before the word being typed."""
    tokens: list[names.Token] = []
    for token in outline.tokens:
        if token.start >= offset or token.kind == "name" and token.end >= offset:
            break  # the word under the cursor (its prefix) is not part of what comes before
        if token.kind == "newline" or token.text in (";", "{", "}"):
            tokens = []
        else:
            tokens.append(token)
    return tokens


def _in_scope(document: Document, offset: int,
              takes: str = names.EITHER) -> list[types.CompletionItem]:
    """The names in scope at `offset` that can stand where a `takes` goes (names.PAGE,
    names.MAPPING or either)."""
    outline = document.outline
    items = []
    for occurrence in outline.names_in_scope(offset):
        kind = _kind(occurrence)
        if takes == _USER_MAPPING:
            if not (occurrence.role == names.MAPPING
                    or (occurrence.role == names.BINDING and _bound_by_mmap(outline, occurrence))):
                continue
        elif takes != names.EITHER and kind not in (takes, names.EITHER):
            continue
        if occurrence.role == names.PAGE:
            detail = "page"
        elif occurrence.role == names.MAPPING:
            detail = "mapping (declared)"
        elif occurrence.role == names.PARAM:
            detail = f"parameter ({kind})" if kind != names.EITHER else "parameter"
        else:
            detail = "mapping variable"
        items.append(_item(occurrence.text, types.CompletionItemKind.Variable, detail, "0"))
    return items


def _kind(occurrence: names.Occurrence) -> str:
    """Whether a name in scope is a page or a mapping (a parameter by its declared kind,
    either while that is not typed yet)."""
    if occurrence.role == names.PAGE:
        return names.PAGE
    if occurrence.role == names.PARAM and occurrence.body is not None:
        declared = {token: kind for token, kind in occurrence.body.params}
        kind = declared.get(occurrence.token, "")
        return kind if kind in (names.PAGE, names.MAPPING) else names.EITHER
    return names.MAPPING  # a declared mapping, or a variable (only mappings are bound)


def _bound_by_mmap(outline: names.Outline, binding: names.Occurrence) -> bool:
    """Whether a variable's binding is `NAME = mmap(...)`."""
    tokens = outline.tokens
    at = bisect.bisect_left(tokens, binding.token.start, key=lambda token: token.start)
    following = [t.text for t in tokens[at + 1: at + 3]]
    return following == ["=", "mmap"]


def _functions(document: Document, returning: bool,
               hooks: bool = True) -> list[types.CompletionItem]:
    """Every function an arch of the library defines, with its signature (from the first
    arch that has it, in the arches' order) and the arches whose own body it has. Where the
    result is kept (`returning`), only those that return a mapping, and `mmap`; else
    `munmap`, not `mmap` (whose mapping must be kept: `u = mmap(P)`)."""
    library = document.library
    selected = document.arches
    order = [*selected, *(k for k in library.arches if k not in selected)]
    seen: dict[str, types.CompletionItem | None] = {}
    for key in order:
        for name, function in library.arches[key].functions.items():
            if name in seen:
                continue
            if returning and not function.returns_mapping:
                seen[name] = None  # `x = f(...)`: "'f' does not return a mapping"
                continue
            defined = sorted({a.functions[name].arch for a in library.arches.values()
                              if name in a.functions})
            text = f"defined in: {', '.join(defined)}"
            seen[name] = types.CompletionItem(
                name, kind=types.CompletionItemKind.Function, detail=signature(function),
                documentation=types.MarkupContent(types.MarkupKind.Markdown, text),
                sort_text=f"1{name}")
    # `mmap` makes a mapping to keep (`u = mmap(P)`); `munmap` returns nothing.
    for name in (("mmap",) if returning else ("munmap",)) if hooks else ():
        seen.setdefault(name, _item(name, types.CompletionItemKind.Keyword,
                                    f"statement: runs the arch's on {HOOKS[name]} hook", "1"))
    return sorted((item for item in seen.values() if item is not None),
                  key=lambda item: item.label)


def _arches(document: Document) -> list[types.CompletionItem]:
    library = document.library
    found = {}
    for arch in library.arches.values():
        found.setdefault(arch.name, _item(arch.name, types.CompletionItemKind.Module,
                                          arch.doc or "arch", "0"))
    return [found[name] for name in sorted(found)]


def _keyword(word: str, detail: str) -> types.CompletionItem:
    return _item(word, types.CompletionItemKind.Keyword, detail, "2")


def _item(label: str, kind: types.CompletionItemKind, detail: str,
          rank: str = "1") -> types.CompletionItem:
    return types.CompletionItem(label, kind=kind, detail=detail, sort_text=f"{rank}{label}")
