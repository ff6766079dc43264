"""The calls `check --fix` may insert: which, where, and what each does on each arch.

A candidate is one cache-API call at one statement boundary of one kernel thread: before
statement i of the thread's body (or after its last statement), at the top level of the
body. Only threads that already call the arch API are kernel code; user threads and devices
cannot call it. The calls are the cache API of the arch library that takes a page or a
mapping (CACHE_API, DMA_API when the protocol has a device), as long as every selected arch
defines them; the arguments are every page of the protocol, and every kernel mapping the
thread holds at that point (bound by an earlier call, not yet ended by an unmap).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from checker.front import model
from checker.front.resolve_calls import walk_statements
from checker.front.source import Span
from checker.machine.lower import lower

# In order of preference when all else is equal (the order candidates are numbered in).
CACHE_API = (
    ("flush_dcache_page", "page"),
    ("flush_anon_page", "page"),
    ("flush_kernel_dcache_page", "page"),
    ("flush_cache_page", "page"),
    ("flush_kernel_vmap_range", "mapping"),
    ("invalidate_kernel_vmap_range", "mapping"),
)
# Offered only when --fix-api names them, because a fix for today's kernel would not call
# them: flush_kernel_dcache_page went in v5.15 (f358afc52c30 "mm: remove
# flush_kernel_dcache_page"; its callers moved to flush_dcache_page), and flush_anon_page is
# get_user_pages()'s own (Documentation/core-api/cachetlb.rst: the kernel calls it when it is
# about to access an anonymous page, "currently only get_user_pages()").
ASKED_ONLY_API = frozenset({"flush_kernel_dcache_page", "flush_anon_page"})
# The vmap range calls take a vmap area (Documentation/core-api/cachetlb.rst,
# flush_kernel_vmap_range: "the specified virtual address range in the vmap area"): they are
# offered on mappings a call of these made, never on a kmap or the linear map.
VMAP_MAKERS = frozenset({"vmap"})
DMA_API = tuple(
    (f"dma_sync_single_for_{side}_{direction}", "page")
    for side in ("device", "cpu") for direction in ("to_device", "from_device", "bidirectional")
)


@dataclass(frozen=True)
class Candidate:
    index: int  # its number: also its span's column (see span_of)
    thread: int
    position: int  # before body statement `position` (len(body): after the last one)
    function: str
    arg: str
    mapping: bool  # the argument is a mapping (else a page)
    # The page whose state it can change (the page argument, or the page behind the
    # mapping); None when not known: then any page.
    page: str | None = None

    def text(self) -> str:
        return f"{self.function}({self.arg})"


def span_of(protocol: model.Protocol, candidate: Candidate) -> Span:
    """The span an inserted candidate carries in the model: line 0 of the protocol's file
    (no statement has it), column its number, so that each is its own unit for lowering."""
    return Span(protocol.span.path, 0, candidate.index + 1)


def kernel_threads(protocol: model.Protocol) -> list[int]:
    return [i for i, t in enumerate(protocol.threads)
            if not t.is_device and any(isinstance(s, model.Call) for s in walk_statements(t.body))]


def candidates(protocol: model.Protocol, arches: Sequence[model.Arch],
               functions: Sequence[str] | None = None) -> list[Candidate]:
    """Every candidate, numbered in order of thread, boundary, then CACHE_API's order
    (`functions`: only these of the API; None: all of it but ASKED_ONLY_API)."""
    has_device = any(t.is_device for t in protocol.threads)
    api = [*CACHE_API, *(DMA_API if has_device else ())]
    api = [(name, kind) for name, kind in api
           if all(name in arch.functions for arch in arches)
           and (name in functions if functions is not None else name not in ASKED_ONLY_API)]
    inert = inert_statements(protocol, arches)
    found: list[Candidate] = []
    for t in kernel_threads(protocol):
        body = protocol.threads[t].body
        live: list[str] = []
        behind: dict[str, str | None] = {}  # mapping -> the page the call that made it took
        made_by: dict[str, str] = {}  # mapping -> the function that made it
        for position in range(len(body) + 1):
            if position > 0:
                previous = body[position - 1]
                live = _after(previous, live, arches[0])
                if isinstance(previous, model.Call) and previous.result is not None:
                    pages = [a.name for a in previous.args if isinstance(a, model.PageArg)]
                    behind[previous.result] = pages[0] if len(pages) == 1 else None
                    made_by[previous.result] = previous.function
                if (t, position - 1) in inert:
                    # Just past a call that is a no-op on every arch: the same boundary as
                    # the one before it, up to no-op steps. Only the first is a candidate.
                    continue
            for name, kind in api:
                if kind == "page":
                    for page in protocol.pages:
                        found.append(Candidate(len(found), t, position, name, page.name,
                                               False, page.name))
                else:
                    for handle in live:
                        if made_by.get(handle) not in VMAP_MAKERS:
                            continue
                        found.append(Candidate(len(found), t, position, name, handle, True,
                                               behind.get(handle)))
    return found


def inert_statements(protocol: model.Protocol,
                      arches: Sequence[model.Arch]) -> set[tuple[int, int]]:
    """(thread, index) of the top-level calls whose steps are all no-ops on every arch
    (set_page_dirty_lock, put_page on most arches)."""
    inert = {(t, i) for t, thread in enumerate(protocol.threads)
             for i, s in enumerate(thread.body) if isinstance(s, model.Call)}
    for arch in arches:
        program = lower(protocol, arch)
        at = {(t, i): s.span for t, thread in enumerate(protocol.threads)
              for i, s in enumerate(thread.body)}
        busy = {n.unit[0] for n in program.nodes if n.kind != "nop"}
        inert = {key for key in inert if at[key] not in busy}
    return inert


def _after(statement: model.Statement, live: list[str], arch: model.Arch) -> list[str]:
    """The kernel mappings held after `statement`, from those held before it."""
    if isinstance(statement, model.Call):
        ended = {a.name for i, a in enumerate(statement.args)
                 if isinstance(a, model.MappingArg) and _ends(arch, statement.function, i)}
        live = [m for m in live if m not in ended]
        if statement.result is not None and statement.result not in live:
            live = [*live, statement.result]
    elif isinstance(statement, model.Munmap):
        live = [m for m in live if m != statement.mapping]
    return live


def _ends(arch: model.Arch, function: str, position: int, depth: int = 0) -> bool:
    """Whether calling `function` ends the mapping passed as argument `position`."""
    fn = arch.functions.get(function)
    if fn is None or position >= len(fn.params) or depth > 32:
        return False
    param = fn.params[position].name
    for statement in walk_statements(fn.body):
        if isinstance(statement, model.Unmap) and statement.mapping == param:
            return True
        if isinstance(statement, model.Call):
            for i, arg in enumerate(statement.args):
                if (isinstance(arg, model.MappingArg) and arg.name == param
                        and _ends(arch, statement.function, i, depth + 1)):
                    return True
    return False


def insert(protocol: model.Protocol, chosen: Sequence[Candidate]) -> model.Protocol:
    """The protocol with the chosen calls inserted (those at one boundary in number order)."""
    threads = list(protocol.threads)
    for t, thread in enumerate(threads):
        mine = sorted((c for c in chosen if c.thread == t), key=lambda c: c.index)
        if not mine:
            continue
        body: list[model.Statement] = []
        for position in range(len(thread.body) + 1):
            for c in mine:
                if c.position == position:
                    arg = model.MappingArg(c.arg) if c.mapping else model.PageArg(c.arg)
                    body.append(model.Call(c.function, (arg,), None, span_of(protocol, c)))
            if position < len(thread.body):
                body.append(thread.body[position])
        threads[t] = dataclasses.replace(thread, body=tuple(body))
    return dataclasses.replace(protocol, threads=tuple(threads))


_PURE = ("nop", "maint", "test", "choice", "move")


@dataclass(frozen=True)
class Effect:
    """What a candidate does on one arch: whether it does anything at all (a step other
    than a no-op), and its cost (the arch's `cost` annotations of its maintenance, a
    maintenance operation without one counting 1)."""

    acts: bool
    maintains: bool
    cost: int
    # Only maintenance (and tests, no-ops): with its maintenance dropped it does nothing.
    pure: bool = True


def effects(protocol: model.Protocol, cands: Sequence[Candidate],
            arch: model.Arch) -> list[Effect]:
    """The effect of every candidate on `arch`: lowering is per statement, so one program
    with them all inserted gives each one's steps."""
    program = lower(insert(protocol, cands), arch)
    by_span: dict[Span, list] = {}
    for node in program.nodes:
        by_span.setdefault(node.unit[0], []).append(node)
    out = []
    for c in cands:
        nodes = by_span.get(span_of(protocol, c), [])
        maint = [n for n in nodes if n.kind == "maint"]
        out.append(Effect(acts=any(n.kind != "nop" for n in nodes),
                          maintains=bool(maint),
                          cost=sum(1 if n.cost is None else n.cost for n in maint),
                          pure=all(n.kind in _PURE for n in nodes)))
    return out
