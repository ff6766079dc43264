"""The layout of a symbolic machine state: one flat list of Z3 terms per BMC step.

The components mirror machine.State one for one (pcs, registers, handles, TLB, cache slots,
memory, views, flags, signals, locks, the write counter), so a model decodes straight back
into a State that semantics.py can run. Only bit-vectors and Booleans are used, so Z3 can
bit-blast the whole query to SAT (perf-notes.md: 30-50x faster than the default solver).
"""

from __future__ import annotations

from dataclasses import dataclass

import z3

from checker.machine.program import END, Program, used_flags
from checker.machine.state import Layout, State


def bits_for(count: int) -> int:
    """Bits to hold the numbers 0..count (at least 1)."""
    return max(1, count.bit_length())


@dataclass(frozen=True)
class Sorts:
    pc: int
    handle: int
    status: int
    colour: int
    value: int
    thread: int


class Shape:
    """Indices of every state component in the flat list, and their sorts."""

    def __init__(self, program: Program, layout: Layout, ctx: z3.Context | None = None) -> None:
        self.program = program
        self.layout = layout
        # Every term of one check lives in this context. solve.search_z3 gives each check a
        # fresh one: in z3's shared global context the terms of earlier checks (same names,
        # other ids) changed the solver's choices, so one check's trace depended on the
        # checks run before it in the same process (--jobs, other arches in the run).
        self.ctx = ctx if ctx is not None else z3.main_ctx()
        nodes = program.nodes
        self.end_pc = len(nodes)  # how END is written in a pc bit-vector
        self.no_handle = len(program.handles)
        self.no_thread = len(program.threads)
        self.max_writes = _count_writes(program)
        self.sorts = Sorts(
            pc=bits_for(len(nodes)),
            handle=bits_for(len(program.handles)),
            status=2,
            colour=bits_for(program.colour_count),  # holds colour_count itself
            value=bits_for(self.max_writes),
            thread=bits_for(len(program.threads)),
        )
        self.flags = sorted(used_flags(nodes))
        self.kinds: list[str] = []  # per index: the component's name
        self.widths: list[int] = []  # 0 for Booleans
        n_threads, words = len(program.threads), program.total_words
        self.pc = self._block("pc", n_threads, self.sorts.pc)
        self.reg = self._block("reg", len(program.registers), self.sorts.handle)
        self.hstat = self._block("hstat", len(program.handles), self.sorts.status)
        self.hcol = self._block("hcol", len(program.handles), self.sorts.colour)
        self.tlb = self._block("tlb", len(program.aliases), 0)
        self.present = self._block("present", len(layout.slots), 0)
        self.dirty = self._block("dirty", len(layout.slots), 0)
        lw = program.line_words
        self.data = [self._block(f"data{x}_", lw, self.sorts.value)
                     for x in range(len(layout.slots))]
        self.mem = self._block("mem", words, self.sorts.value)
        self.last = self._block("last", words, self.sorts.value)
        self.view = [self._block(f"view{t}_", words, self.sorts.value) for t in range(n_threads)]
        self.flag = self._block("flag", len(self.flags), 0)
        self.sig = self._block("sig", len(program.events), 0)
        self.sigview = [self._block(f"sigview{e}_", words, self.sorts.value)
                        for e in range(len(program.events))]
        self.holder = self._block("holder", len(program.locks), self.sorts.thread)
        self.lockview = [self._block(f"lockview{lk}_", words, self.sorts.value)
                         for lk in range(len(program.locks))]
        self.counter = self._block("counter", 1, self.sorts.value)[0]
        self.size = len(self.kinds)

    def _block(self, name: str, count: int, width: int) -> list[int]:
        start = len(self.kinds)
        for i in range(count):
            self.kinds.append(f"{name}{i}")
            self.widths.append(width)
        return list(range(start, start + count))

    # Constants and variables in this check's context (z3's constructors would otherwise
    # put them in the global one, where they cannot meet this check's terms).

    def boolval(self, value: bool) -> z3.BoolRef:
        return z3.BoolVal(value, self.ctx)

    def bv(self, value: int, width: int) -> z3.BitVecRef:
        return z3.BitVecVal(value, width, self.ctx)

    def bool_var(self, name: str) -> z3.BoolRef:
        return z3.Bool(name, self.ctx)

    def bv_var(self, name: str, width: int) -> z3.BitVecRef:
        return z3.BitVec(name, width, self.ctx)

    def any_of(self, terms: list) -> z3.BoolRef:
        """The disjunction of `terms` (false, in this context, when there are none)."""
        return z3.Or(terms) if terms else self.boolval(False)

    def fresh(self, tag: str) -> list:
        """A state of fresh constants named `component@tag`."""
        return [
            self.bool_var(f"{k}@{tag}") if w == 0 else self.bv_var(f"{k}@{tag}", w)
            for k, w in zip(self.kinds, self.widths, strict=True)
        ]

    def colour_mod(self, colour: z3.BitVecRef, width: int) -> z3.BitVecRef:
        """colour modulo a level's colour count, computed wide enough not to wrap."""
        if width == self.program.colour_count:
            return colour  # colours are kept below colour_count
        bits = bits_for(max(width, self.program.colour_count))
        wide = z3.ZeroExt(bits - self.sorts.colour, colour) if bits > self.sorts.colour else colour
        return z3.URem(wide, self.bv(width, bits))

    def decode(self, model: z3.ModelRef, terms: list) -> State:
        """The concrete State a model gives to a symbolic state (absent lines as None)."""
        p, lay = self.program, self.layout

        def num(i: int) -> int:
            return model.eval(terms[i], model_completion=True).as_long()

        def flag(i: int) -> bool:
            return z3.is_true(model.eval(terms[i], model_completion=True))

        cache = []
        for x in range(len(lay.slots)):
            if flag(self.present[x]):
                cache.append((flag(self.dirty[x]), tuple(num(i) for i in self.data[x])))
            else:
                cache.append(None)
        pcs = tuple(END if num(i) == self.end_pc else num(i) for i in self.pc)
        regs = tuple(-1 if num(i) == self.no_handle else num(i) for i in self.reg)
        signals = tuple(
            tuple(num(i) for i in self.sigview[e]) if flag(self.sig[e]) else None
            for e in range(len(p.events))
        )
        holders = tuple(-1 if num(i) == self.no_thread else num(i) for i in self.holder)
        return State(
            pcs=pcs,
            regs=regs,
            hstat=tuple(num(i) for i in self.hstat),
            hcol=tuple(num(i) for i in self.hcol),
            tlb=tuple(flag(i) for i in self.tlb),
            cache=tuple(cache),
            mem=tuple(num(i) for i in self.mem),
            last=tuple(num(i) for i in self.last),
            flags=frozenset(pf for j, pf in enumerate(self.flags) if flag(self.flag[j])),
            views=tuple(tuple(num(i) for i in self.view[t]) for t in range(len(p.threads))),
            signals=signals,
            holders=holders,
            lock_views=tuple(tuple(num(i) for i in self.lockview[lk])
                             for lk in range(len(p.locks))),
            counter=num(self.counter),
        )


def _count_writes(program: Program) -> int:
    """An upper bound on the write ids one execution makes (each node runs at most once)."""
    nodes = program.nodes
    # `start kernel(P) dirty`: write #1 was made before the start.
    total = int(any(p.kernel_start == "dirty" for p in program.pages))
    for node in nodes:
        if node.kind in ("write", "dma_write"):
            total += 1
        elif node.kind == "copy":
            total += max(p.words for p in program.pages)
    return total
