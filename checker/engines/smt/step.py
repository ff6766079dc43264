"""One thread step as Z3 terms: a symbolic copy of semantics.Semantics._execute.

For the node a thread is at, the step is split into cases on everything that decides which
cache slot is touched (the handle a register holds, the handle's colour), so that inside a
case the slots are concrete and only data is symbolic. Each case yields a guard and a new
flat state; unroll.py merges them. The code follows semantics.py branch for branch: when
one changes, so must the other (the differential tests hold them together).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import z3

from checker.engines.smt.graph import postorder
from checker.engines.smt.shape import Shape
from checker.machine.program import END, LCond, Node, Program
from checker.machine.state import ENDED, LIVE, UNFAULTED, Layout, start_status


@dataclass
class Case:
    guard: z3.BoolRef
    state: list
    findings: dict[str, z3.BoolRef] = field(default_factory=dict)
    requires: list[z3.BoolRef] = field(default_factory=list)  # must hold when guard does


@dataclass(frozen=True)
class StepVars:
    """The free choices of one BMC step."""

    choice: z3.BitVecRef  # which `either` path is taken after the step
    colour: z3.BitVecRef  # the colour a `map` picks
    dma: z3.BitVecRef  # the value a coherent `dma_read` returns


def _max(a, b):
    return z3.If(z3.ULT(a, b), b, a)


class StepEncoder:
    def __init__(self, program: Program, layout: Layout, shape: Shape) -> None:
        self.p, self.lay, self.sh = program, layout, shape
        self.nodes: tuple[Node, ...] = program.nodes
        self.reg_handles = _possible_handles(program)
        # The mappings that start unfaulted (state.UNFAULTED): an access faults them in.
        self.unfaulted = frozenset(h for h, info in enumerate(program.handles)
                                   if start_status(info) == UNFAULTED)
        self.settle_paths: dict[int, list[tuple[int, tuple[tuple[int, int], ...]]]] = {}

    # -- helpers ---------------------------------------------------------------------------

    def pc_val(self, pc: int) -> z3.BitVecRef:
        return self.sh.bv(self.sh.end_pc if pc == END else pc, self.sh.sorts.pc)

    def handle_val(self, h: int) -> z3.BitVecRef:
        return self.sh.bv(self.sh.no_handle if h < 0 else h, self.sh.sorts.handle)

    def colour_val(self, c: int) -> z3.BitVecRef:
        return self.sh.bv(c, self.sh.sorts.colour)

    def val(self, n: int) -> z3.BitVecRef:
        return self.sh.bv(n, self.sh.sorts.value)

    def paths(self, pc: int) -> list[tuple[int, tuple[tuple[int, int], ...]]]:
        """Every (pc, register moves) the silent nodes from `pc` can lead to, each once.

        Computed without recursion (a chain of hundreds of silent nodes, e.g. `x = id(x)`
        in a `repeat`, would pass Python's recursion limit): the silent nodes reachable
        from `pc` are visited successors first, so each one's paths are built from its
        successors' paths, already known. Equal paths are kept once (two empty branches of
        an `either` lead to the same place): they make the same step."""
        if pc in self.settle_paths:
            return self.settle_paths[pc]

        def silent(n: int) -> bool:
            return n != END and self.nodes[n].kind in ("move", "choice")

        def below(n: int) -> tuple[int, ...]:
            if not silent(n) or n in self.settle_paths:
                return ()
            return self.nodes[n].next

        for n in postorder([pc], below):
            if n in self.settle_paths:
                continue
            if not silent(n):
                self.settle_paths[n] = [(n, ())]
                continue
            node = self.nodes[n]
            if node.kind == "move":
                move = (node.reg, node.reg2)
                result = [(end, (move, *moves)) for end, moves in self._known(node.next[0])]
            else:
                result = [path for branch in node.next for path in self._known(branch)]
            self.settle_paths[n] = list(dict.fromkeys(result))
        return self._known(pc)

    def _known(self, pc: int) -> list[tuple[int, tuple[tuple[int, int], ...]]]:
        """The paths from `pc` once its silent successors are done (END: no moves)."""
        return [(END, ())] if pc == END else self.settle_paths[pc]

    def enabled(self, s: list, t: int, pc: int) -> z3.BoolRef:
        node = self.nodes[pc]
        if node.kind == "wait":
            return s[self.sh.sig[node.event]]
        if node.kind == "lock":
            return s[self.sh.holder[node.lock]] == self.sh.bv(self.sh.no_thread,
                                                               self.sh.sorts.thread)
        return self.sh.boolval(True)

    def handle_cases(self, s: list, reg: int) -> list[tuple[z3.BoolRef, int, int]]:
        """(guard, handle, colour) for every value the register and colour may have;
        handle -1 is unbound, colour -1 means the colour does not decide the slot."""
        out = []
        for h in self.reg_handles[reg]:
            g = s[self.sh.reg[reg]] == self.handle_val(h)
            vipt = self.p.levels and self.p.levels[0].indexing == "vipt"
            if h >= 0 and vipt and self.p.handles[h].alias != self.p.handles[h].page:
                for c in range(self.p.colour_count):
                    out.append((z3.And(g, s[self.sh.hcol[h]] == self.colour_val(c)), h, c))
            else:
                out.append((g, h, 0 if h >= 0 and vipt else -1))
        return out

    def slot(self, alias: int, colour: int, line: int) -> int:
        """The level-1 slot of an alias whose colour is known (0 for linear aliases)."""
        indexing = self.p.levels[0].indexing
        page = self.p.aliases[alias].page
        key = {"pipt": 0, "vipt": max(colour, 0) % self.lay.level_width[0], "vivt": alias}
        return self.lay.slot(0, page, line, key[indexing])

    # -- the cases of one node ---------------------------------------------------------------

    def cases(self, s: list, t: int, pc: int, v: StepVars) -> list[Case]:
        node = self.nodes[pc]
        base = self.sh.boolval(True)
        raw: list[Case] = []
        kind = node.kind
        if kind in ("read", "write"):
            for g, h, c in self.handle_cases(s, node.reg):
                case = Case(g, list(s))
                if self.through(case, t, node.reg, h, access=True):
                    alias = self.p.handles[h].alias
                    page = self.p.aliases[alias].page
                    if kind == "read":
                        self.cpu_read(case, t, alias, c, page, node.index)
                    else:
                        self.cpu_write(case, t, alias, c, page, node.index)
                raw.append(case)
        elif kind == "copy":
            for g1, h1, c1 in self.handle_cases(s, node.reg2):
                for g2, h2, c2 in self.handle_cases(s, node.reg):
                    if h1 >= 0 and h2 >= 0 and self.words_of(h1) != self.words_of(h2):
                        # A register may hold handles of pages of other sizes on other paths
                        # (`k = kmap(a)` ... `k = kmap(b)`), but a copy that runs has pages
                        # of one size (the front end checks every path): such a pair of
                        # handles never meets here, so it gets no case.
                        continue
                    case = Case(z3.And(g1, g2), list(s))
                    if h1 < 0 or h2 < 0:
                        # As semantics._bound: report the unbound ones, access nothing.
                        for h in (h1, h2):
                            if h < 0:
                                self.check_live(case, h)
                    else:
                        self.through(case, t, node.reg2, h1, access=True)
                        self.through(case, t, node.reg, h2, access=True)
                        self.copy(case, t, h1, c1, h2, c2)
                    raw.append(case)
        elif kind == "maint":
            raw = self.maintenance(s, t, node)
        elif kind in ("map", "mmap"):
            raw = [self.map(s, node, v)]
        elif kind in ("unmap", "munmap"):
            for g, h, _c in self.handle_cases(s, node.reg):
                case = Case(g, list(s))
                if kind == "unmap":
                    self.check_live(case, h)
                if h >= 0:
                    case.state[self.sh.hstat[h]] = self.sh.bv(ENDED, 2)
                raw.append(case)
        elif kind == "fault":
            status = s[self.sh.hstat[node.handle]]
            faults = z3.And(s[self.sh.reg[node.reg]] == self.handle_val(node.handle),
                            status == self.sh.bv(UNFAULTED, 2))
            return (self.settle(Case(faults, list(s)), t, node.next[0], v)
                    + self.settle(Case(z3.Not(faults), list(s)), t, node.next[1], v))
        elif kind == "test":
            cond = self.condition(s, node.cond)
            return (self.settle(Case(cond, list(s)), t, node.next[0], v)
                    + self.settle(Case(z3.Not(cond), list(s)), t, node.next[1], v))
        else:
            case = Case(base, list(s))
            self.simple(case, t, node, v)
            raw = [case]
        return [c2 for c in raw for c2 in self.settle(c, t, node.next[0], v)]

    def settle(self, case: Case, t: int, nxt: int, v: StepVars) -> list[Case]:
        paths = self.paths(nxt)
        out = []
        for i, (end, moves) in enumerate(paths):
            state = list(case.state)
            for dst, src in moves:
                state[self.sh.reg[dst]] = state[self.sh.reg[src]]
            state[self.sh.pc[t]] = self.pc_val(end)
            guard = case.guard
            if len(paths) > 1:
                guard = z3.And(guard, v.choice == i)
            out.append(Case(guard, state, dict(case.findings), list(case.requires)))
        return out

    def simple(self, case: Case, t: int, node: Node, v: StepVars) -> None:
        st, sh = case.state, self.sh
        kind = node.kind
        if kind == "dma_write":
            self.dma_write(case, t, node)
        elif kind == "dma_read":
            self.dma_read(case, t, node, v)
        elif kind == "signal":
            for w in range(self.p.total_words):
                i, j = sh.sigview[node.event][w], sh.view[t][w]
                st[i] = z3.If(st[sh.sig[node.event]], _max(st[i], st[j]), st[j])
            st[sh.sig[node.event]] = self.sh.boolval(True)
        elif kind == "wait":
            for w in range(self.p.total_words):
                i = sh.view[t][w]
                st[i] = _max(st[i], st[sh.sigview[node.event][w]])
        elif kind == "lock":
            st[sh.holder[node.lock]] = self.sh.bv(t, sh.sorts.thread)
            for w in range(self.p.total_words):
                i = sh.view[t][w]
                st[i] = _max(st[i], st[sh.lockview[node.lock][w]])
        elif kind == "unlock":
            st[sh.holder[node.lock]] = self.sh.bv(sh.no_thread, sh.sorts.thread)
            for w in range(self.p.total_words):
                i = sh.lockview[node.lock][w]
                st[i] = _max(st[i], st[sh.view[t][w]])
        elif kind in ("set", "clear"):
            st[sh.flag[sh.flags.index((node.page, node.flag))]] = self.sh.boolval(kind == "set")
        elif kind != "nop":
            raise AssertionError(f"unexpected node kind {kind}")

    # -- accesses ----------------------------------------------------------------------------

    def mapped(self, s: list, h: int) -> z3.BoolRef:
        """Whether handle h is live or unfaulted (state.MAPPED)."""
        return z3.Or(s[self.sh.hstat[h]] == self.sh.bv(LIVE, 2),
                     s[self.sh.hstat[h]] == self.sh.bv(UNFAULTED, 2))

    def check_live(self, case: Case, h: int) -> None:
        bad = self.sh.boolval(True) if h < 0 else z3.Not(self.mapped(case.state, h))
        previous = case.findings.get("use_after_unmap", self.sh.boolval(False))
        case.findings["use_after_unmap"] = z3.Or(previous, bad)

    def through(self, case: Case, t: int, reg: int, h: int, access: bool = False) -> bool:
        """Check the handle, load its TLB entry; False if the register is unbound. A load
        or store (`access`) faults an unfaulted mapping in (semantics._access_through)."""
        if access and h >= 0 and h in self.unfaulted:
            status = case.state[self.sh.hstat[h]]
            case.state[self.sh.hstat[h]] = z3.If(status == self.sh.bv(UNFAULTED, 2),
                                                 self.sh.bv(LIVE, 2), status)
        self.check_live(case, h)
        if h < 0:
            return False
        tlb = self.sh.tlb[self.p.handles[h].alias]
        # No page-table entry, no TLB entry (semantics._through).
        case.state[tlb] = z3.Or(case.state[tlb],
                                case.state[self.sh.hstat[h]] != self.sh.bv(UNFAULTED, 2))
        return True

    def line_words(self, page: int, line: int) -> list[int | None]:
        """Flat word index of each position of a line (None: padding past the page)."""
        words = list(self.lay.line_words(page, line))
        return words + [None] * (self.p.line_words - len(words))

    def fill(self, st: list, x: int, page: int, line: int) -> None:
        """Make slot x present, filled from memory if it was absent (one level only)."""
        sh = self.sh
        present = st[sh.present[x]]
        for o, w in enumerate(self.line_words(page, line)):
            from_mem = st[sh.mem[w]] if w is not None else self.val(0)
            st[sh.data[x][o]] = z3.If(present, st[sh.data[x][o]], from_mem)
        st[sh.dirty[x]] = z3.And(present, st[sh.dirty[x]])
        st[sh.present[x]] = self.sh.boolval(True)

    def observe(self, case: Case, t: int, word: int, value) -> None:
        st, i = case.state, self.sh.view[t][word]
        stale = z3.ULT(value, st[i])
        case.findings["stale_read"] = z3.Or(case.findings.get("stale_read", False), stale)
        st[i] = z3.If(stale, st[i], value)

    def cpu_read(self, case: Case, t: int, alias: int, colour: int, page: int, index: int):
        st, sh = case.state, self.sh
        word = self.lay.word_offset[page] + index
        if not self.p.levels:
            self.observe(case, t, word, st[sh.mem[word]])
            return
        line, offset = divmod(index, self.p.line_words)
        x = self.slot(alias, colour, line)
        self.fill(st, x, page, line)
        self.observe(case, t, word, st[sh.data[x][offset]])

    def new_write(self, case: Case, t: int, word: int):
        st, sh = case.state, self.sh
        value = st[sh.counter] + 1
        st[sh.counter] = value
        st[sh.last[word]] = value
        st[sh.view[t][word]] = value
        return value

    def cpu_write(self, case: Case, t: int, alias: int, colour: int, page: int, index: int):
        st, sh = case.state, self.sh
        word = self.lay.word_offset[page] + index
        value = self.new_write(case, t, word)
        if self.p.levels:
            line, offset = divmod(index, self.p.line_words)
            x = self.slot(alias, colour, line)
            if self.p.levels[0].write_back:
                self.fill(st, x, page, line)
                st[sh.data[x][offset]] = value
                st[sh.dirty[x]] = self.sh.boolval(True)
                return
            st[sh.data[x][offset]] = z3.If(st[sh.present[x]], value, st[sh.data[x][offset]])
        st[sh.mem[word]] = value

    def copy(self, case: Case, t: int, h1: int, c1: int, h2: int, c2: int) -> None:
        src, dst = self.p.handles[h1].alias, self.p.handles[h2].alias
        src_page, dst_page = self.p.aliases[src].page, self.p.aliases[dst].page
        for i in range(self.p.pages[dst_page].words):
            self.cpu_read(case, t, src, c1, src_page, i)
            self.cpu_write(case, t, dst, c2, dst_page, i)

    def dma_write(self, case: Case, t: int, node: Node) -> None:
        st, sh = case.state, self.sh
        word = self.lay.word_offset[node.page] + node.index
        value = self.new_write(case, t, word)
        st[sh.mem[word]] = value
        if self.p.arch.dma_coherent:
            line, offset = divmod(node.index, self.p.line_words)
            for x in self.lay.line_slots[(node.page, line)]:
                i = sh.data[x][offset]
                st[i] = z3.If(st[sh.present[x]], value, st[i])

    def dma_read(self, case: Case, t: int, node: Node, v: StepVars) -> None:
        st, sh = case.state, self.sh
        word = self.lay.word_offset[node.page] + node.index
        value = st[sh.mem[word]]
        if self.p.arch.dma_coherent and self.p.levels:
            line, offset = divmod(node.index, self.p.line_words)
            dirty = [(z3.And(st[sh.present[x]], st[sh.dirty[x]]), st[sh.data[x][offset]])
                     for x in self.lay.line_slots[(node.page, line)]]
            any_dirty = z3.Or([d for d, _ in dirty])
            some = z3.Or([z3.And(d, v.dma == val) for d, val in dirty])
            case.requires.append(z3.If(any_dirty, some, v.dma == value))
            value = v.dma
        self.observe(case, t, word, value)

    # -- maps ----------------------------------------------------------------------------------

    def map(self, s: list, node: Node, v: StepVars) -> Case:
        case = Case(self.sh.boolval(True), list(s))
        st, sh, p = case.state, self.sh, self.p
        info = p.handles[node.handle]
        spec = info.colour
        if spec == "linear" or p.colour_count == 1:
            allowed = v.colour == 0
        elif isinstance(spec, int):
            allowed = v.colour == spec % p.colour_count
        elif spec == "same":
            allowed = self.sh.any_of([z3.And(s[sh.reg[info.same_as]] == self.handle_val(h),
                                             v.colour == s[sh.hcol[h]])
                                      for h in range(len(p.handles))])
        else:
            in_range = z3.ULT(v.colour, p.colour_count)
            allowed = in_range
            if spec == "user":
                of = info.user_of if info.user_of >= 0 else info.page
                lives = [(self.mapped(s, h), s[sh.hcol[h]]) for h in self.lay.user_handles[of]]
                if lives:
                    any_live = z3.Or([lv for lv, _ in lives])
                    some = z3.Or([z3.And(lv, v.colour == col) for lv, col in lives])
                    allowed = z3.If(any_live, some, in_range)
        case.requires.append(allowed)
        st[sh.hstat[node.handle]] = self.sh.bv(LIVE, 2)
        st[sh.hcol[node.handle]] = v.colour
        st[sh.reg[node.reg]] = self.handle_val(node.handle)
        return case

    def condition(self, s: list, c: LCond | None) -> z3.BoolRef:
        # Recursive, unlike the passes over control graphs: the front end caps the nesting
        # of condition operators at 64 (checker/front/nesting.py MAX_NESTING).
        assert c is not None
        if c.op == "pred":
            page = self.p.pages[c.page]
            if c.pred == "mapped":
                return self.sh.any_of([self.mapped(s, h) for h in self.lay.user_handles[c.page]])
            if c.pred == "faulted":
                return self.sh.any_of([s[self.sh.hstat[h]] == self.sh.bv(LIVE, 2)
                                       for h in self.lay.user_handles[c.page]])
            value = {"anon": page.kind == "anon", "file": page.kind == "file",
                     "highmem": page.highmem}[c.pred]
            return self.sh.boolval(value)
        if c.op == "flag":
            return s[self.sh.flag[self.sh.flags.index((c.page, c.flag))]]
        if c.op == "not":
            return z3.Not(self.condition(s, c.left))
        combine = z3.And if c.op == "and" else z3.Or
        return combine(self.condition(s, c.left), self.condition(s, c.right))

    # -- maintenance -------------------------------------------------------------------------

    def maintenance(self, s: list, t: int, node: Node) -> list[Case]:
        """Cases of one flush/writeback/invalidate/purge_tlb, in semantics' slot order."""
        p = self.p
        if node.target == "mapping" and node.op == "purge_tlb":
            # As semantics: a purge is no use of the handle and loads nothing.
            cases = []
            for g, h, c in self.handle_cases(s, node.reg):
                case = Case(g, list(s))
                if h >= 0:
                    self.apply(case, node, [(self.sh.boolval(True), p.handles[h].alias, c)])
                cases.append(case)
            return cases
        if node.target == "mapping":
            cases = []
            for g, h, c in self.handle_cases(s, node.reg):
                case = Case(g, list(s))
                if self.through(case, t, node.reg, h):
                    alias = p.handles[h].alias
                    self.apply(case, node, [(self.sh.boolval(True), alias, c)])
                cases.append(case)
            return cases
        if node.page < 0:  # kernel(m), user(m), all(m): one case per handle m may hold
            cases = []
            for g, h in self.register_cases(s, node.reg):
                if h < 0:
                    cases.append(Case(g, list(s)))
                    continue
                for case in self.page_maintenance(s, node, p.handles[h].page):
                    cases.append(Case(z3.And(g, case.guard), case.state))
            return cases
        return self.page_maintenance(s, node, node.page)

    def words_of(self, handle: int) -> int:
        return self.p.pages[self.p.handles[handle].page].words

    def register_cases(self, s: list, reg: int) -> list[tuple[z3.BoolRef, int]]:
        return [(s[self.sh.reg[reg]] == self.handle_val(h), h) for h in self.reg_handles[reg]]

    def page_maintenance(self, s: list, node: Node, page: int) -> list[Case]:
        """The case of a maintenance operation on kernel(page), user(page) or all(page)."""
        p = self.p
        case = Case(self.sh.boolval(True), list(s))
        if node.target == "kernel":
            targets = [] if p.pages[page].highmem else [(self.sh.boolval(True), page, 0)]
        elif node.target == "user":
            targets = []
            for h in self.lay.user_handles[page]:
                live = self.mapped(s, h)  # the VMA walk meets an unfaulted mapping too
                alias = p.handles[h].alias
                if p.levels and p.levels[0].indexing == "vipt":
                    for c in range(p.colour_count):
                        col = s[self.sh.hcol[h]] == self.colour_val(c)
                        targets.append((z3.And(live, col), alias, c))
                else:
                    targets.append((live, alias, 0))
        else:
            self.apply_all(case, node, page)
            return [case]
        self.apply(case, node, targets)
        return [case]

    def apply(self, case: Case, node: Node, targets: list) -> None:
        """Apply the operation to each (condition, alias, colour) in order."""
        st, sh = case.state, self.sh
        if node.op == "purge_tlb":
            for cond, alias, _c in targets:
                st[sh.tlb[alias]] = z3.If(cond, False, st[sh.tlb[alias]])
            return
        if not self.p.levels:
            return
        hits = []
        for cond, alias, colour in targets:
            page = self.p.aliases[alias].page
            for line in range(self.p.lines(page)):
                hits.append((cond, self.slot(alias, colour, line), page, line))
        self.apply_slots(case, node.op, hits)

    def apply_all(self, case: Case, node: Node, page: int) -> None:
        st, sh = case.state, self.sh
        if node.op == "purge_tlb":
            for alias in self.lay.page_aliases[page]:
                st[sh.tlb[alias]] = self.sh.boolval(False)
            return
        hits = [(self.sh.boolval(True), x, page, self.lay.slots[x].line)
                for x in self.lay.page_slots[page]]
        self.apply_slots(case, node.op, hits)

    def apply_slots(self, case: Case, op: str, hits: list) -> None:
        st, sh = case.state, self.sh
        if op in ("writeback", "flush"):
            for cond, x, page, line in hits:
                dirty = z3.And(cond, st[sh.present[x]], st[sh.dirty[x]])
                for o, w in enumerate(self.line_words(page, line)):
                    if w is not None:
                        st[sh.mem[w]] = z3.If(dirty, st[sh.data[x][o]], st[sh.mem[w]])
                st[sh.dirty[x]] = z3.And(z3.Not(dirty), st[sh.dirty[x]])
                if op == "flush":
                    st[sh.present[x]] = z3.And(z3.Not(dirty), st[sh.present[x]])
        if op in ("invalidate", "flush"):
            for cond, x, _page, _line in hits:
                st[sh.present[x]] = z3.And(z3.Not(cond), st[sh.present[x]])
                st[sh.dirty[x]] = z3.And(z3.Not(cond), st[sh.dirty[x]])


def _possible_handles(program: Program) -> list[list[int]]:
    """For each register, every handle it may hold (-1: unbound): what the map and mmap
    sites put in it, and what moves copy into it, followed along the moves with a worklist
    (a round-robin fixed point over the nodes took one round per move of a long chain)."""
    holds: list[set[int]] = [{h} if h >= 0 else {-1} for h in program.initial_registers]
    copies_to: dict[int, set[int]] = {}  # register -> registers a move copies it into
    for node in program.nodes:
        if node.kind in ("map", "mmap"):
            holds[node.reg].add(node.handle)
        elif node.kind == "move":
            copies_to.setdefault(node.reg2, set()).add(node.reg)
    pending = sorted(copies_to)
    while pending:
        src = pending.pop()
        for dst in sorted(copies_to.get(src, ())):
            if not holds[src] <= holds[dst]:
                holds[dst] |= holds[src]
                pending.append(dst)
    return [sorted(h) for h in holds]
