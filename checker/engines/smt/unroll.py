"""The bounded unrolling: start state, then K steps of (environment phase, thread step).

K is the largest number of thread steps any execution can take (the longest path through
each thread's control graph, summed over threads), so every execution fits: a run that
ends sooner idles, and idling is allowed only when no thread can move. Together with the
exact environment relation this makes the unrolling complete (docs/engines.md).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import z3

from checker.engines.smt.environment import environment
from checker.engines.smt.shape import Shape
from checker.engines.smt.shape import bits_for as shape_bits
from checker.engines.smt.step import StepEncoder, StepVars
from checker.machine.program import END, Program
from checker.machine.state import LIVE, Layout

SILENT = ("move", "choice")


def thread_nodes(program: Program, t: int) -> list[int]:
    """The non-silent nodes thread t can stand at."""
    nodes = program.nodes
    seen: set[int] = set()
    stack = [program.threads[t].entry]
    while stack:
        pc = stack.pop()
        if pc == END or pc in seen:
            continue
        seen.add(pc)
        stack.extend(nodes[pc].next)
    return sorted(pc for pc in seen if nodes[pc].kind not in SILENT)


def step_bound(program: Program) -> int:
    """The most thread steps one execution can take."""
    nodes = program.nodes

    @functools.cache
    def longest(pc: int) -> int:
        if pc == END:
            return 0
        here = 0 if nodes[pc].kind in SILENT else 1
        return here + max(longest(n) for n in nodes[pc].next)

    return sum(longest(code.entry) for code in program.threads)


@dataclass
class Unrolling:
    """The constraints, and the terms the solver driver asks about and decodes."""

    states: list[list]  # states[k]: before the environment phase of step k
    envs: list[list]  # envs[k]: after it
    selected: list[z3.BitVecRef]  # which thread moved at step k (n_threads: none)
    findings: dict[str, list[z3.BoolRef]]  # kind -> per step (at states[k] for end kinds)
    constraints: list[z3.BoolRef]
    bound: int
    ran: dict[int, list[z3.BoolRef]]  # maintenance node -> per step: it runs at that step


def unroll(program: Program, layout: Layout, shape: Shape) -> Unrolling:
    enc = StepEncoder(program, layout, shape)
    n_threads = len(program.threads)
    bound = step_bound(program)
    tbits = shape.sorts.thread
    s0 = shape.fresh("0")
    constraints = initial(program, layout, shape, enc, s0)
    states, envs, selected = [s0], [], []
    findings: dict[str, list] = {"stale_read": [], "use_after_unmap": [], "deadlock": [],
                                 "lost_write": []}
    per_thread = [thread_nodes(program, t) for t in range(n_threads)]
    # The `either` path variable must hold every path number (a narrower one wraps around
    # and silently loses paths: a vacuous "safe").
    widest = max([len(enc.paths(nxt)) for node in program.nodes for nxt in node.next] or [1])
    choice_bits = shape_bits(widest)
    ran: dict[int, list] = {}
    for k in range(bound + 1):
        s = states[k]
        done = [s[shape.pc[t]] == enc.pc_val(END) for t in range(n_threads)]
        findings["lost_write"].append(z3.And(*done, lost(program, layout, shape, s)))
        if k == bound:
            findings["deadlock"].append(z3.BoolVal(False))
            break
        e, env_cons = environment(program, layout, shape, s, str(k))
        constraints.extend(env_cons)
        envs.append(e)
        sel = z3.BitVec(f"sel@{k}", tbits)
        selected.append(sel)
        v = StepVars(
            z3.BitVec(f"choice@{k}", choice_bits),
            z3.BitVec(f"colour@{k}", shape.sorts.colour),
            z3.BitVec(f"dma@{k}", shape.sorts.value),
        )
        cases = []
        enabled = []
        for t in range(n_threads):
            can = []
            for pc in per_thread[t]:
                at = e[shape.pc[t]] == enc.pc_val(pc)
                can.append(z3.And(at, enc.enabled(e, t, pc)))
                here = z3.And(sel == t, at)
                if program.nodes[pc].kind == "maint":
                    ran.setdefault(pc, []).append(here)
                node_cases = enc.cases(e, t, pc, v)
                constraints.append(z3.Implies(here, z3.Or([c.guard for c in node_cases])))
                for c in node_cases:
                    c.guard = z3.And(here, c.guard)
                    constraints.extend(z3.Implies(c.guard, r) for r in c.requires)
                cases.extend(node_cases)
            enabled.append(z3.Or(can) if can else z3.BoolVal(False))
            constraints.append(z3.Implies(sel == t, enabled[t]))
        idle = sel == n_threads
        constraints.append(z3.ULE(sel, n_threads))
        constraints.append(z3.Implies(idle, z3.Not(z3.Or(enabled))))
        findings["deadlock"].append(z3.And(z3.Or([z3.Not(d) for d in done]),
                                           z3.Not(z3.Or(enabled))))
        for kind in ("stale_read", "use_after_unmap"):
            hits = [z3.And(c.guard, c.findings[kind]) for c in cases if kind in c.findings]
            findings[kind].append(z3.Or(hits) if hits else z3.BoolVal(False))
        states.append(merge(e, cases))
    return Unrolling(states, envs, selected, findings, constraints, bound, ran)


def merge(e: list, cases) -> list:
    """The state after the step: each component as the case that changed it says."""
    nxt = list(e)
    for c in cases:
        for i, term in enumerate(c.state):
            if term is not e[i]:
                nxt[i] = z3.If(c.guard, term, nxt[i])
    return nxt


def initial(program: Program, layout: Layout, shape: Shape, enc: StepEncoder, s: list) -> list:
    """Constraints of the start states (semantics.Semantics.initial_states)."""
    sh, cons = shape, []
    moved = {d for code in program.threads for _, mv in enc.paths(code.entry) for d, _ in mv}
    for t, code in enumerate(program.threads):
        paths = enc.paths(code.entry)
        own = {d for _, mv in paths for d, _ in mv}  # registers this thread's start may move
        options = []
        for end, moves in paths:
            regs = list(program.initial_registers)
            for dst, src in moves:
                regs[dst] = regs[src]
            # Every register a start path of this thread may move is fixed on every path
            # (to its initial value where this path does not move it).
            options.append(z3.And(s[sh.pc[t]] == enc.pc_val(end),
                                  *[s[sh.reg[r]] == enc.handle_val(regs[r]) for r in own]))
        cons.append(z3.Or(options))
    for r, h in enumerate(program.initial_registers):
        if r not in moved:
            cons.append(s[sh.reg[r]] == enc.handle_val(h))
    for h, info in enumerate(program.handles):
        cons.append(s[sh.hstat[h]] == z3.BitVecVal(LIVE if info.declared else 0, 2))
        col = s[sh.hcol[h]]
        if info.declared and info.colour is None:
            cons.append(z3.ULT(col, program.colour_count))
        elif info.declared:
            cons.append(col == info.colour % program.colour_count)
        else:
            cons.append(col == 0)
    cons.extend(_start_colour_symmetry(program, shape, s))
    for a, alias in enumerate(program.aliases):
        declared = alias.handle >= 0 and program.handles[alias.handle].declared
        cons.append(s[sh.tlb[a]] == declared)
    for x, slot in enumerate(layout.slots):
        may = _declared_reach(program, layout, shape, s, slot)
        level = program.levels[slot.level]
        cons.append(z3.Implies(s[sh.present[x]], may))
        cons.append(z3.Implies(s[sh.dirty[x]], s[sh.present[x]]))
        if not level.write_back:
            cons.append(z3.Not(s[sh.dirty[x]]))
        cons.extend(s[i] == 0 for i in sh.data[x])
    zero_blocks = [sh.mem, sh.last, *sh.view, *sh.sigview, *sh.lockview, [sh.counter]]
    cons.extend(s[i] == 0 for block in zero_blocks for i in block)
    cons.extend(z3.Not(s[i]) for i in [*sh.flag, *sh.sig])
    cons.extend(s[i] == sh.no_thread for i in sh.holder)
    return cons


def _start_colour_symmetry(program: Program, shape: Shape, s: list) -> list:
    """Colour symmetry at the start (docs/engines.md, reduction 1): the free colours of the
    declared `colour any` mappings first appear, in handle order, as the smallest free
    colours in increasing order. Every other start colouring is a renaming of one of these,
    and renaming free colours maps executions to executions with the same findings, except
    where a writeback of `all(p)` races dirty copies in colour order (reduction 3), which is
    excluded here statically (the Z3 engine models one level)."""
    count = program.colour_count
    fixed = {0} | {h.colour % count for h in program.handles if isinstance(h.colour, int)}
    free = [c for c in range(count) if c not in fixed]
    colour_order = any(n.kind == "maint" and n.op in ("writeback", "flush")
                       and n.target == "all" for n in program.nodes)
    vipt = [lv for lv in program.levels if lv.indexing == "vipt"]
    if len(free) < 2 or colour_order or any(lv.colours != count for lv in vipt):
        return []
    anys = [h for h, info in enumerate(program.handles) if info.declared and info.colour is None]
    cons = []
    for i, h in enumerate(anys):
        for j in range(1, len(free)):
            earlier = [s[shape.hcol[e]] == free[j - 1] for e in anys[:i]]
            cons.append(z3.Implies(s[shape.hcol[h]] == free[j], z3.Or(earlier) if earlier
                                   else z3.BoolVal(False)))
    return cons


def _declared_reach(program: Program, layout: Layout, shape: Shape, s: list, slot) -> z3.BoolRef:
    """Whether a declared mapping's alias reaches `slot` (only those may start filled)."""
    indexing = program.levels[slot.level].indexing
    reach = []
    for h, info in enumerate(program.handles):
        if not info.declared or info.page != slot.page:
            continue
        if indexing == "pipt":
            reach.append(z3.BoolVal(True))
        elif indexing == "vivt":
            reach.append(z3.BoolVal(info.alias == slot.key))
        else:
            width = layout.level_width[slot.level]
            reach.append(shape.colour_mod(s[shape.hcol[h]], width) == slot.key)
    return z3.Or(reach) if reach else z3.BoolVal(False)


def lost(program: Program, layout: Layout, shape: Shape, s: list) -> z3.BoolRef:
    """Some order of draining the dirty lines leaves a word without its last write (one
    level: any dirty copy can be the last written out)."""
    sh, out = shape, []
    for (page, line), slots in layout.line_slots.items():
        dirty = [z3.And(s[sh.present[x]], s[sh.dirty[x]]) for x in slots]
        for o, w in enumerate(layout.line_words(page, line)):
            wrong = [z3.And(d, s[sh.data[x][o]] != s[sh.last[w]]) for d, x in zip(dirty, slots,
                                                                               strict=True)]
            none_dirty = z3.Not(z3.Or(dirty)) if dirty else z3.BoolVal(True)
            wrong.append(z3.And(none_dirty, s[sh.mem[w]] != s[sh.last[w]]))
            out.append(z3.Or(wrong))
    return z3.Or(out) if out else z3.BoolVal(False)
