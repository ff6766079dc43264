"""Hypothesis strategies: random protocols and arches, built directly as model objects.

They exercise every statement kind the machine has (accesses, copies, DMA from CPU threads
and from devices, signals, locks, either, kmap/kunmap, mmap/munmap with their hooks, the
page fault of a mapping that starts unfaulted, the maintenance operations on every alias
set, flags and conditions, `mapped` and `faulted` among them), on random cache geometries
(0-2 levels, every indexing, colours, write policy, line size, speculation, DMA coherence,
victim_fill). Every protocol statement gets its own line number, so that the redundant-flush
analysis (keyed by statement) can be compared between engines. The differential test
(tests/test_differential.py) and bench/differential.py run both engines on them.
"""

from __future__ import annotations

import dataclasses
import itertools

from hypothesis import strategies as st

from checker.front import model as m
from checker.front.source import Span

S = Span("random.flow", 1, 1)


def _alias_set(draw, page: str, mapping: str | None) -> m.AliasSet:
    kinds = ["kernel", "user", "all"] + (["mapping"] if mapping else [])
    kind = draw(st.sampled_from(kinds))
    return m.AliasSet(kind, mapping if kind == "mapping" else page)


def _maintenance(draw, page: str, mapping: str | None) -> m.Maintenance:
    op = draw(st.sampled_from(["flush", "writeback", "invalidate", "purge_tlb"]))
    return m.Maintenance(op, _alias_set(draw, page, mapping), None, S)


def _condition(draw, page: str) -> m.Condition:
    atoms = [m.PagePredicate(k, page)
             for k in ("anon", "file", "highmem", "mapped", "faulted")]
    atoms.append(m.FlagTest(page, "dirty"))
    a = draw(st.sampled_from(atoms))
    if draw(st.booleans()):
        return m.Not(a)
    return a


def _body(draw, page: str, mapping: str | None, depth: int = 0) -> tuple:
    stmts = []
    for _ in range(draw(st.integers(0, 2))):
        choice = draw(st.integers(0, 4 if depth == 0 else 2))
        if choice <= 1:
            stmts.append(_maintenance(draw, page, mapping))
        elif choice == 2:
            flag = m.SetFlag if draw(st.booleans()) else m.ClearFlag
            stmts.append(flag(page, "dirty", S))
        else:
            then = _body(draw, page, mapping, depth + 1)
            orelse = _body(draw, page, mapping, depth + 1)
            stmts.append(m.If(_condition(draw, page), then, orelse, S))
    return tuple(stmts)


@st.composite
def arches(draw, max_levels: int = 1, max_colours: int = 4) -> m.Arch:
    levels = []
    n_levels = draw(st.integers(0, max_levels))
    line_words = draw(st.integers(1, 2))
    for i in range(n_levels):
        indexing = draw(st.sampled_from(["pipt", "vipt", "vivt"])) if i == 0 else "pipt"
        colours = draw(st.integers(1, max_colours)) if indexing == "vipt" else 1
        levels.append(m.CacheLevel(f"L{i + 1}", indexing, colours, draw(st.booleans()),
                                   line_words, i > 0 and draw(st.booleans()), S))
    colour = draw(st.sampled_from(["linear", "any", "user", 1]))
    fns = {
        "kmap": m.Function("kmap", (m.Param("p", "page"),), True,
                           (*_body(draw, "p", None), m.Return(m.MapOp("p", colour, None, S), S)),
                           "rand", S),
        "kunmap": m.Function("kunmap", (m.Param("k", "mapping"),), False,
                             (*_mapping_body(draw, "k"), m.Unmap("k", S)), "rand", S),
        "fdp": m.Function("fdp", (m.Param("p", "page"),), False, _body(draw, "p", None),
                          "rand", S),
    }
    hooks = {}
    for hook in ("user_map", "user_unmap"):
        if draw(st.booleans()):
            hooks[hook] = m.Function(hook, (m.Param("p", "page"),), False,
                                     _body(draw, "p", None), "rand", S)
    return m.Arch("rand", "", "", tuple(levels), draw(st.sampled_from(["no", "yes", "tlb"])),
                  draw(st.booleans()), fns, hooks, None, False, S)


def _mapping_body(draw, mapping: str) -> tuple:
    ops = []
    for _ in range(draw(st.integers(0, 2))):
        op = draw(st.sampled_from(["flush", "writeback", "invalidate", "purge_tlb"]))
        # the mapping itself, or an alias set of the page behind it (`kernel(m)` ...)
        kind = draw(st.sampled_from(["mapping", "mapping", "kernel", "user", "all"]))
        ops.append(m.Maintenance(op, m.AliasSet(kind, mapping, kind != "mapping"), None, S))
    return tuple(ops)


@st.composite
def protocols(draw, max_words: int = 2, symmetric: bool = False) -> m.Protocol:
    """A random protocol. With `symmetric`, user mappings may also take colours 2 and 3, and
    some threads get a twin (a second thread with the same body, and the same body with its
    own user mapping), so the symmetry reductions of the explicit engine have work to do."""
    n_pages = draw(st.integers(1, 2))
    pages = []
    for i in range(n_pages):
        highmem = draw(st.booleans())
        # `start kernel(P) ...` (lowmem pages only), mostly the default
        start = "empty" if highmem else draw(st.sampled_from(["empty", "empty", "clean", "dirty"]))
        pages.append(m.Page(f"p{i}", draw(st.sampled_from(["anon", "file"])), highmem,
                            draw(st.integers(1, max_words)), S, start))
    pages = tuple(pages)
    mappings = []
    for i in range(draw(st.integers(0, 2))):
        page = draw(st.sampled_from(pages))
        colour = draw(st.sampled_from([None, 0, 1, None, 2, 3] if symmetric else [None, 0, 1]))
        start = draw(st.sampled_from(["any", "any", "clean", "empty", "unfaulted"]))
        mappings.append(m.UserMapping(f"u{i}", page.name, colour, S, start))
    threads = []
    events = ["e0", "e1"]
    signalled: set[str] = set()
    for t in range(draw(st.integers(1, 3))):
        body = []
        bound: dict[str, m.Page] = {mp.name: next(p for p in pages if p.name == mp.page)
                                    for mp in mappings}
        for _ in range(draw(st.integers(1, 5))):
            body.extend(_statement(draw, pages, bound, events, signalled, t))
        threads.append(m.Thread(f"t{t}", False, tuple(body), S))
        if symmetric and draw(st.booleans()):
            twin = tuple(body)
            used = [mp for mp in mappings if _mentions(twin, mp.name)]
            if used and draw(st.booleans()):  # the twin gets its own copy of one mapping
                mp = draw(st.sampled_from(used))
                mappings.append(m.UserMapping(f"{mp.name}_t{t}", mp.page, mp.colour, S,
                                              mp.start))
                twin = _rename(twin, mp.name, f"{mp.name}_t{t}")
            threads.append(m.Thread(f"t{t}_twin", False, twin, S))
    if draw(st.integers(0, 3)) == 0:
        threads.append(m.Thread("dev", True, _device_body(draw, pages, events, signalled), S))
    # Waits only on events someone signals, as the resolver demands.
    threads = [m.Thread(th.name, th.is_device, _drop_unsignalled(th.body, signalled), S)
               for th in threads]
    lines = itertools.count(1)
    threads = [dataclasses.replace(th, body=_number(th.body, lines)) for th in threads]
    return m.Protocol("random", "", pages, tuple(mappings), tuple(threads), (), S)


def _device_body(draw, pages, events, signalled: set) -> tuple:
    body = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.integers(0, 2))
        page = draw(st.sampled_from(pages))
        if kind == 0:
            dma = draw(st.sampled_from(["read", "write"]))
            body.append(m.DmaAccess(dma, page.name, draw(st.integers(0, page.words - 1)), S))
        else:
            event = draw(st.sampled_from(events))
            if kind == 1:
                signalled.add(event)
                body.append(m.Signal(event, S))
            else:
                body.append(m.Wait(event, S))
    return tuple(body)


def _number(body: tuple, lines: itertools.count) -> tuple:
    """The statements with a line number each (in order, branches included)."""
    out = []
    for s in body:
        span = Span("random.flow", next(lines), 1)
        if isinstance(s, m.Either):
            s = m.Either(tuple(_number(b, lines) for b in s.branches), span)
        else:
            s = dataclasses.replace(s, span=span)
        out.append(s)
    return tuple(out)


def _drop_unsignalled(body: tuple, signalled: set[str]) -> tuple:
    out = []
    for s in body:
        if isinstance(s, m.Wait) and s.event not in signalled:
            continue
        if isinstance(s, m.Either):
            s = m.Either(tuple(_drop_unsignalled(b, signalled) for b in s.branches), S)
        out.append(s)
    return tuple(out)


def _statement(draw, pages, bound: dict, events, signalled: set, t: int) -> list:
    kind = draw(st.integers(0, 9))
    page = draw(st.sampled_from(pages))
    if kind <= 2 and bound:
        name = draw(st.sampled_from(sorted(bound)))
        index = draw(st.integers(0, bound[name].words - 1))
        return [m.Access(draw(st.sampled_from(["read", "write"])), name, index, S)]
    if kind == 3:
        var = f"k{t}_{len(bound)}"
        bound[var] = page
        stmts = [m.Call("kmap", (m.PageArg(page.name),), var, S)]
        stmts.append(m.Access(draw(st.sampled_from(["read", "write"])), var, 0, S))
        if draw(st.booleans()):
            stmts.append(m.Call("kunmap", (m.MappingArg(var),), None, S))
        return stmts
    if kind == 4:
        return [m.Call("fdp", (m.PageArg(page.name),), None, S)]
    if kind == 5:
        event = draw(st.sampled_from(events))
        if draw(st.booleans()):
            signalled.add(event)
            return [m.Signal(event, S)]
        return [m.Wait(event, S)]
    if kind == 6:
        return [m.Lock("l", S), *(_statement(draw, pages, bound, events, signalled, t)
                                  if draw(st.booleans()) else []), m.Unlock("l", S)]
    if kind == 7:
        dma = draw(st.sampled_from(["read", "write"]))
        return [m.DmaAccess(dma, page.name, draw(st.integers(0, page.words - 1)), S)]
    if kind == 8:
        first = _statement(draw, pages, dict(bound), events, signalled, t)
        second = _statement(draw, pages, dict(bound), events, signalled, t)
        return [m.Either((tuple(first), tuple(second)), S)]
    if kind == 9 and draw(st.booleans()):
        var = f"u{t}_{page.name}_{len(bound)}"  # an mmap name keeps one page
        at = draw(st.sampled_from([None, None, *sorted(bound)]))  # `mmap(p) at v`
        stmts = [m.Mmap(var, page.name, S, at)]
        if draw(st.booleans()):
            stmts.append(m.Access(draw(st.sampled_from(["read", "write"])), var, 0, S))
        if draw(st.booleans()):
            stmts.append(m.Munmap(var, S))
        else:
            bound[var] = page
        return stmts
    same = [(a, b) for a in bound for b in bound if bound[a].words == bound[b].words]
    if same:
        dst, src = draw(st.sampled_from(sorted(same)))
        return [m.Copy(dst, src, S)]
    return [m.Signal(draw(st.sampled_from(events)), S)]


def _rename(value, old: str, new: str):
    """`value` with every string field equal to `old` (a mapping name) replaced by `new`."""
    if isinstance(value, str):
        return new if value == old else value
    if isinstance(value, tuple):
        return tuple(_rename(v, old, new) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, Span):
        changes = {f.name: _rename(getattr(value, f.name), old, new)
                   for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    return value


def _mentions(value, name: str) -> bool:
    return _rename(value, name, name + "\0") != value
