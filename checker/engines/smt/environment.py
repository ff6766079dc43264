"""Every environment event between two thread steps, as one relation (one cache level).

Why one relation is exact, for one physical line of a single-level cache (docs/engines.md
has the full argument): between two thread steps the environment can only evict lines and,
with speculation, fill absent lines from memory. Fills make clean lines, so each line that
was dirty is written back at most once; if the dirty lines written back are d1..dj in that
order, memory takes the values h0 (as it was), data(d1), ..., data(dj) and ends at h_j. A
line ends as it was (dirty lines not written back always do), absent, or, if speculation may
reach it, clean holding some h_k; a dirty line written back at position i can only be
refilled afterwards, with h_k for k >= i. Conversely every such outcome is reached by: drop
the clean lines that change, then for k = 0..j fill the lines that take h_k and write back
d_{k+1}. So the relation below allows exactly the states the events reach.
"""

from __future__ import annotations

from collections.abc import Callable

import z3

from checker.engines.smt import Unsupported
from checker.engines.smt.shape import Shape, bits_for
from checker.machine.program import Program
from checker.machine.state import LIVE, Layout


def environment(program: Program, layout: Layout, shape: Shape, s: list, tag: str,
                tick: Callable[[], None] | None = None):
    """(state after the environment acted, constraints relating it to `s`); `tick` is
    called before each line (unroll.py's deadline check: a large cache makes one phase
    slow to build)."""
    if not program.levels:
        return list(s), []
    if len(program.levels) > 1:
        raise Unsupported("the Z3 engine handles one cache level; this arch has "
                          f"{len(program.levels)}")
    e = shape.fresh(f"env{tag}")
    sh = shape
    cons: list = []
    cache_indices = set(sh.present) | set(sh.dirty) | {i for d in sh.data for i in d}
    cache_indices |= set(sh.mem)
    for i in range(sh.size):
        if i not in cache_indices:
            cons.append(e[i] == s[i])
    for (page, line), slots in layout.line_slots.items():
        if tick is not None:
            tick()
        cons.extend(_line(program, layout, sh, s, e, page, line, slots, f"{tag}_{page}_{line}"))
    return e, cons


def _fillable(program: Program, layout: Layout, sh: Shape, s: list, slot: int) -> z3.BoolRef:
    """Whether speculation may fill `slot` (constant over one environment phase)."""
    mode = program.arch.speculative_fill
    if mode == "no":
        return sh.boolval(False)
    info = layout.slots[slot]
    indexing = program.levels[0].indexing
    reach = []
    for alias in layout.page_aliases[info.page]:
        handle = program.aliases[alias].handle
        if indexing == "vivt" and alias != info.key:
            continue
        match = sh.boolval(True)
        if indexing == "vipt":
            if handle < 0:
                match = sh.boolval(info.key == 0)
            else:
                match = sh.colour_mod(s[sh.hcol[handle]], layout.level_width[0]) == info.key
        live = [s[sh.hstat[h]] == sh.bv(LIVE, 2)
                for h, hinfo in enumerate(program.handles) if hinfo.alias == alias]
        if mode == "tlb":
            allowed = s[sh.tlb[alias]]
        elif handle < 0:
            # The linear alias: always live for a lowmem page, else while a handle is on it.
            allowed = z3.Or(sh.boolval(not program.pages[info.page].highmem), *live)
        else:
            allowed = sh.any_of(live)
        reach.append(z3.And(match, allowed))
    return sh.any_of(reach)


def _line(program, layout, sh: Shape, s: list, e: list, page: int, line: int, slots, tag):
    cons = []
    words = list(layout.line_words(page, line))
    n = len(slots)
    rbits = bits_for(n)
    ev = [sh.bool_var(f"ev{x}@{tag}") for x in slots]
    rank = [sh.bv_var(f"rank{x}@{tag}", rbits) for x in slots]
    dirty0 = [z3.And(s[sh.present[x]], s[sh.dirty[x]]) for x in slots]
    for i in range(n):
        cons.append(z3.Implies(ev[i], dirty0[i]))
        for j in range(i + 1, n):
            cons.append(z3.Implies(z3.And(ev[i], ev[j]), rank[i] != rank[j]))
    top = [
        z3.And(ev[i], *[z3.Implies(ev[j], z3.ULT(rank[j], rank[i])) for j in range(n) if j != i])
        for i in range(n)
    ]
    for o, w in enumerate(words):
        value = s[sh.mem[w]]
        for i in range(n):
            value = z3.If(top[i], s[sh.data[slots[i]][o]], value)
        cons.append(e[sh.mem[w]] == value)
    sbits = bits_for(n)
    for i, x in enumerate(slots):
        fate = sh.bv_var(f"fate{x}@{tag}", 2)
        src = sh.bv_var(f"src{x}@{tag}", sbits)
        same = [e[sh.data[x][o]] == s[sh.data[x][o]] for o in range(len(sh.data[x]))]
        p1, d1 = e[sh.present[x]], e[sh.dirty[x]]
        kept_dirty = z3.And(dirty0[i], z3.Not(ev[i]))
        # Where a fill takes its data: memory as it was (src 0) or the line written back
        # by slot j (src j+1), at or after this slot's own write-back.
        source_ok = [z3.Implies(src == 0, z3.Not(ev[i]))]
        for j in range(n):
            source_ok.append(z3.Implies(src == j + 1, z3.And(
                ev[j], z3.Implies(ev[i], z3.UGE(rank[j], rank[i])))))
        cons.append(z3.ULE(src, n))
        filled = []
        for o, w in enumerate(words):
            value = s[sh.mem[w]]
            for j in range(n):
                value = z3.If(src == j + 1, s[sh.data[slots[j]][o]], value)
            filled.append(e[sh.data[x][o]] == value)
        for o in range(len(words), program.line_words):
            filled.append(e[sh.data[x][o]] == 0)  # padding past the page, as semantics fills
        cons.append(z3.If(
            kept_dirty,
            z3.And(p1, d1, *same),
            z3.And(
                z3.ULE(fate, 2),
                z3.Implies(fate == 0, z3.And(z3.Not(p1), z3.Not(d1))),
                z3.Implies(fate == 1, z3.And(s[sh.present[x]], z3.Not(s[sh.dirty[x]]),
                                             p1, z3.Not(d1), *same)),
                z3.Implies(fate == 2, z3.And(_fillable(program, layout, sh, s, x), p1,
                                             z3.Not(d1), *filled, *source_ok)),
            ),
        ))
    return cons
