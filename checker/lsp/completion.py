"""Completion: API names, the page and mapping names in scope, arch names, events, keywords.

What is offered depends on where the cursor is, read from the statement typed so far (the
document rarely parses while a word is half typed, so this goes by outline.py's scan):
- where a statement starts in a thread or function: the API functions the arches define
  (with their signature, and which arches override them), the pages and mappings in scope,
  and the statement keywords;
- after `=` or `return`: the API functions (and `mmap`, `map`);
- where an operand goes (`read `, `copy k <- `, inside a call's parentheses): the pages and
  mappings in scope (the protocol's pages and mappings, the thread's variables bound above
  the cursor; a function's parameters and variables);
- after `expect ... on` or `extends`: arch names; after `signal` or `wait`: the events;
- at the top of a block: the declarations that block takes.
"""

from __future__ import annotations

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


def completion(document: Document, offset: int) -> types.CompletionList:
    outline = document.outline
    before = _statement_before(outline, offset)
    block, body = outline.scope_at(offset)
    previous = before[-1].text if before else ""
    head = before[0].text if before else ""
    items: list[types.CompletionItem] = []
    if head == "expect" and any(t.text == "on" for t in before) or previous == "extends":
        items = _arches(document)
    elif head == "expect":
        items = [_keyword(v, "verdict") for v in VERDICTS]
    elif previous in ("signal", "wait"):
        items = [_item(e, types.CompletionItemKind.Event, "event")
                 for e in outline.events(block)]
    elif body is not None:
        if not before:
            words = names.STATEMENT_WORDS - (_ARCH_ONLY if block and block.kind == "protocol"
                                             else frozenset())
            items = [*_in_scope(document, offset), *_functions(document),
                     *(_keyword(w, "statement") for w in sorted(words))]
        elif previous in ("=", "return"):
            items = [*_functions(document), _keyword("mmap", "statement"),
                     _keyword("map", "arch statement")]
        elif previous in names.OPERANDS or previous in ("if", "not", "and", "or"):
            items = _in_scope(document, offset)
        else:
            items = [*_in_scope(document, offset), *_functions(document)]
    elif block is not None and not before:
        words = _ARCH_ITEMS if block.kind == "arch" else _PROTOCOL_ITEMS
        items = [_keyword(w, "declaration") for w in words]
    elif block is not None and (head == "mapping" and previous == "("
                                or head == "start" and len(before) == 1):
        items = _in_scope(document, offset)  # `user(PAGE)`, `start MAPPING`
    elif block is None and not before:
        items = [_keyword(w, "block") for w in _TOP]
    return types.CompletionList(is_incomplete=False, items=items)


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


def _in_scope(document: Document, offset: int) -> list[types.CompletionItem]:
    items = []
    for occurrence in document.outline.names_in_scope(offset):
        if occurrence.role == names.PAGE:
            detail = "page"
        elif occurrence.role == names.MAPPING:
            detail = "mapping (declared)"
        elif occurrence.role == names.PARAM:
            detail = "parameter"
        else:
            detail = "mapping variable"
        items.append(_item(occurrence.text, types.CompletionItemKind.Variable, detail, "0"))
    return items


def _functions(document: Document) -> list[types.CompletionItem]:
    """Every function an arch of the library defines, with its signature (from the first
    arch that has it, in the arches' order) and the arches whose own body it has."""
    library = document.library
    selected = document.arches
    order = [*selected, *(k for k in library.arches if k not in selected)]
    seen: dict[str, types.CompletionItem] = {}
    for key in order:
        for name, function in library.arches[key].functions.items():
            if name in seen:
                continue
            defined = sorted({a.functions[name].arch for a in library.arches.values()
                              if name in a.functions})
            text = f"defined in: {', '.join(defined)}"
            seen[name] = types.CompletionItem(
                name, kind=types.CompletionItemKind.Function, detail=signature(function),
                documentation=types.MarkupContent(types.MarkupKind.Markdown, text),
                sort_text=f"1{name}")
    for name, hook in HOOKS.items():
        seen.setdefault(name, _item(name, types.CompletionItemKind.Keyword,
                                    f"statement: runs the arch's on {hook} hook", "1"))
    return sorted(seen.values(), key=lambda item: item.label)


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
