"""The bounded unrolling: start state, then K steps of (environment phase, thread step).

K is the largest number of thread steps any execution can take (the longest path through
each thread's control graph, summed over threads), so every execution fits: a run that
ends sooner idles, and idling is allowed only when no thread can move. Together with the
exact environment relation this makes the unrolling complete (docs/engines.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import z3

from checker.engines.memory import over_memory, resident_bytes
from checker.engines.smt.environment import environment
from checker.engines.smt.graph import postorder
from checker.engines.smt.shape import Shape
from checker.engines.smt.shape import bits_for as shape_bits
from checker.engines.smt.step import StepEncoder, StepVars
from checker.machine.program import END, Program
from checker.machine.semantics import Semantics
from checker.machine.state import LIVE, Layout, start_status

SILENT = ("move", "choice")


def _longest_from(program: Program) -> dict[int, int]:
    """For every node any thread reaches: the most thread steps from it to the end."""
    nodes = program.nodes
    # Successors before the node itself, without recursion (a thread of a few hundred
    # steps passed Python's recursion limit; the language allows 50,000).
    longest: dict[int, int] = {END: 0}
    for pc in postorder([code.entry for code in program.threads], lambda pc: nodes[pc].next):
        here = 0 if nodes[pc].kind in SILENT else 1
        longest[pc] = here + max(longest[n] for n in nodes[pc].next)
    return longest


def step_bound(program: Program) -> int:
    """The most thread steps one execution can take."""
    longest = _longest_from(program)
    return sum(longest[code.entry] for code in program.threads)


def step_windows(program: Program) -> list[dict[int, tuple[int, int | None]]]:
    """For each thread, each non-silent node it can stand at, and the first and last BMC
    step (counted from 0) at which it can stand there; None: no last step.

    Why these bounds hold (docs/engines.md, "Which nodes a step encodes"): a thread standing
    at `pc` at step k has taken j of the k thread steps, where j is the length of some path
    from its entry to `pc`, so j >= the shortest such path, and k >= j. Unless the run has
    idled, the other k - j steps were other threads' steps, at most the sum of their
    longest paths, so k <= the longest such path plus that sum. A run idles only when no
    thread can move, and then idles for good (the environment changes no signal, lock or
    pc), so a thread that idles stands at a `wait` or `lock` (or has ended): those nodes
    get no last step.
    """
    nodes = program.nodes
    longest = _longest_from(program)
    bound = sum(longest[code.entry] for code in program.threads)
    windows = []
    for code in program.threads:
        others = bound - longest[code.entry]
        order = postorder([code.entry], lambda pc: nodes[pc].next)
        fewest: dict[int, int] = {code.entry: 0}  # thread steps taken before standing at pc
        most: dict[int, int] = {code.entry: 0}
        for pc in reversed(order):  # every node after all of its predecessors
            here = 0 if nodes[pc].kind in SILENT else 1
            for n in nodes[pc].next:
                if n != END:
                    fewest[n] = min(fewest.get(n, fewest[pc] + here), fewest[pc] + here)
                    most[n] = max(most.get(n, 0), most[pc] + here)
        windows.append({
            pc: (fewest[pc], None if nodes[pc].kind in ("wait", "lock") else most[pc] + others)
            for pc in order if nodes[pc].kind not in SILENT
        })
    return windows


OUT_OF_TIME = "out of time (--timeout)"  # as the explicit engine says it


class OutOfBudget(Exception):
    """The deadline passed, or the process passed --max-memory, while the unrolling was
    built or a model decoded; `reason` says which."""

    def __init__(self, reason: str = OUT_OF_TIME) -> None:
        super().__init__(reason)
        self.reason = reason


class Clock:
    """Checks the check's deadline (a time.monotonic() value) and, every 256 ticks, its
    memory limit (bytes) while the unrolling is built: building alone took minutes and
    gigabytes on large programs, past any --timeout."""

    def __init__(self, deadline: float | None, max_memory: int | None = None) -> None:
        self.deadline = deadline
        self.max_memory = max_memory
        self.ticks = 0

    def tick(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise OutOfBudget
        self.ticks += 1
        if (self.max_memory is not None and not self.ticks & 255
                and resident_bytes() > self.max_memory):
            raise OutOfBudget(over_memory(self.max_memory))


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


def unroll(program: Program, layout: Layout, shape: Shape,
           deadline: float | None = None, max_memory: int | None = None) -> Unrolling:
    """The unrolling; raises OutOfBudget once `deadline` (time.monotonic()) has passed or
    the process holds more than `max_memory` bytes."""
    clock = Clock(deadline, max_memory)
    enc = StepEncoder(program, layout, shape)
    n_threads = len(program.threads)
    bound = step_bound(program)
    tbits = shape.sorts.thread
    s0 = shape.fresh("0")
    constraints = initial(program, layout, shape, enc, s0)
    states, envs, selected = [s0], [], []
    findings: dict[str, list] = {"stale_read": [], "use_after_unmap": [], "deadlock": [],
                                 "lost_write": []}
    windows = step_windows(program)
    per_thread = [sorted(w) for w in windows]
    # The `either` path variable must hold every path number (a narrower one wraps around
    # and silently loses paths: a vacuous "safe").
    widest = max([len(enc.paths(nxt)) for node in program.nodes for nxt in node.next] or [1])
    choice_bits = shape_bits(widest)
    ran: dict[int, list] = {}
    for k in range(bound + 1):
        clock.tick()
        s = states[k]
        done = [s[shape.pc[t]] == enc.pc_val(END) for t in range(n_threads)]
        findings["lost_write"].append(z3.And(*done, lost(program, layout, shape, s)))
        if k == bound:
            findings["deadlock"].append(shape.boolval(False))
            break
        e, env_cons = environment(program, layout, shape, s, str(k), clock.tick)
        constraints.extend(env_cons)
        envs.append(e)
        sel = shape.bv_var(f"sel@{k}", tbits)
        selected.append(sel)
        v = StepVars(
            shape.bv_var(f"choice@{k}", choice_bits),
            shape.bv_var(f"colour@{k}", shape.sorts.colour),
            shape.bv_var(f"dma@{k}", shape.sorts.value),
        )
        cases = []
        enabled = []
        for t in range(n_threads):
            can = []
            # Only the nodes thread t can stand at in step k (step_windows): every other
            # node's cases would have a false guard, and a long thread made the unrolling
            # quadratic in its length.
            for pc in per_thread[t]:
                first, last = windows[t][pc]
                if k < first or (last is not None and k > last):
                    continue
                clock.tick()
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
            enabled.append(shape.any_of(can))
            constraints.append(z3.Implies(sel == t, enabled[t]))
        idle = sel == n_threads
        constraints.append(z3.ULE(sel, n_threads))
        constraints.append(z3.Implies(idle, z3.Not(z3.Or(enabled))))
        findings["deadlock"].append(z3.And(z3.Or([z3.Not(d) for d in done]),
                                           z3.Not(z3.Or(enabled))))
        for kind in ("stale_read", "use_after_unmap"):
            hits = [z3.And(c.guard, c.findings[kind]) for c in cases if kind in c.findings]
            findings[kind].append(shape.any_of(hits))
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
        cons.append(s[sh.hstat[h]] == shape.bv(start_status(info), 2))
        col = s[sh.hcol[h]]
        if info.declared and info.colour is None:
            cons.append(z3.ULT(col, program.colour_count))
        elif info.declared:
            cons.append(col == info.colour % program.colour_count)
        else:
            cons.append(col == 0)
    cons.extend(_start_colour_symmetry(program, shape, s))
    for a, alias in enumerate(program.aliases):
        # The TLB entries of the declared mappings faulted in (semantics.each_initial_state).
        faulted = alias.handle >= 0 and start_status(program.handles[alias.handle]) == LIVE
        cons.append(s[sh.tlb[a]] == faulted)
    # The start contents (semantics.Semantics.start_line_options).
    prewritten = _prewritten_lines(program, layout)
    for x, slot in enumerate(layout.slots):
        level = program.levels[slot.level]
        if x in prewritten:
            data, dirty = prewritten[x]
            if dirty:
                cons.append(s[sh.present[x]])
            cons.append(s[sh.dirty[x]] == dirty)
            cons.extend(s[i] == v for i, v in zip(sh.data[x], data, strict=True))
            continue
        may = _declared_reach(program, layout, shape, s, slot, ("clean", "any"))
        may_dirty = _declared_reach(program, layout, shape, s, slot, ("any",))
        cons.append(z3.Implies(s[sh.present[x]], may))
        cons.append(z3.Implies(s[sh.dirty[x]], z3.And(s[sh.present[x]], may_dirty)))
        if not level.write_back:
            cons.append(z3.Not(s[sh.dirty[x]]))
        cons.extend(s[i] == 0 for i in sh.data[x])
    pre = Semantics(program).prewritten_words()
    through = not any(level.write_back for level in program.levels)
    cons.extend(s[i] == int(w in pre and through) for w, i in enumerate(sh.mem))
    cons.extend(s[i] == int(w in pre) for block in (sh.last, *sh.view) for w, i in enumerate(block))
    cons.append(s[sh.counter] == int(bool(pre)))
    zero_blocks = [*sh.sigview, *sh.lockview]
    cons.extend(s[i] == 0 for block in zero_blocks for i in block)
    cons.extend(z3.Not(s[i]) for i in sh.sig)
    # The flags of the start (machine/start_flags.py): one of the program's start flag sets.
    cons.append(sh.any_of([
        z3.And([s[sh.flag[j]] if pf in start else z3.Not(s[sh.flag[j]])
                for j, pf in enumerate(sh.flags)] or [sh.boolval(True)])
        for start in program.start_flags
    ]))
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
            cons.append(z3.Implies(s[shape.hcol[h]] == free[j], shape.any_of(earlier)))
    return cons


def _prewritten_lines(program: Program, layout: Layout) -> dict[int, tuple[tuple, bool]]:
    """The slots `start kernel(P) dirty` fixes (their data and dirty bit): the linear alias
    has colour 0, so they do not depend on the handles' colours."""
    options = Semantics(program).start_line_options([0] * len(program.handles))
    out = {}
    for page, info in enumerate(program.pages):
        if info.kernel_start != "dirty":
            continue
        for level in range(len(program.levels)):
            for line in range(program.lines(page)):
                x = layout.alias_slot([0] * len(program.handles), level, page, line)
                held = [o for o in options.get(x, ()) if o is not None]
                if held and held[0][1] != (0,) * program.line_words:
                    out[x] = (held[0][1], held[0][0])
    return out


def _declared_reach(program: Program, layout: Layout, shape: Shape, s: list, slot,
                    starts: tuple[str, ...]) -> z3.BoolRef:
    """Whether an alias whose start is one of `starts` reaches `slot` (only those may start
    filled): a declared mapping's, or the linear alias of a `start kernel(P) clean` page."""
    indexing = program.levels[slot.level].indexing
    reach = []
    if "clean" in starts and program.pages[slot.page].kernel_start == "clean":
        reach.append(shape.boolval(indexing == "pipt"
                                   or (indexing == "vivt" and slot.key == slot.page)
                                   or (indexing == "vipt" and slot.key == 0)))
    for h, info in enumerate(program.handles):
        if not info.declared or info.page != slot.page or info.start not in starts:
            continue
        if indexing == "pipt":
            reach.append(shape.boolval(True))
        elif indexing == "vivt":
            reach.append(shape.boolval(info.alias == slot.key))
        else:
            width = layout.level_width[slot.level]
            reach.append(shape.colour_mod(s[shape.hcol[h]], width) == slot.key)
    return shape.any_of(reach)


def lost(program: Program, layout: Layout, shape: Shape, s: list) -> z3.BoolRef:
    """Some order of draining the dirty lines leaves a word without its last write (one
    level: any dirty copy can be the last written out)."""
    sh, out = shape, []
    for (page, line), slots in layout.line_slots.items():
        dirty = [z3.And(s[sh.present[x]], s[sh.dirty[x]]) for x in slots]
        for o, w in enumerate(layout.line_words(page, line)):
            wrong = [z3.And(d, s[sh.data[x][o]] != s[sh.last[w]]) for d, x in zip(dirty, slots,
                                                                               strict=True)]
            none_dirty = z3.Not(sh.any_of(dirty))
            wrong.append(z3.And(none_dirty, s[sh.mem[w]] != s[sh.last[w]]))
            out.append(z3.Or(wrong))
    return sh.any_of(out)
