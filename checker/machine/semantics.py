"""The reference interpreter: one step of the machine of flow-language.md section 3, in plain
Python. Both engines answer to it: the explicit search runs it, and every counterexample the
Z3 engine finds is replayed through it before it is printed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace

from checker.machine.program import END, LCond, Node, Program
from checker.machine.silent import apply_moves, silent_paths
from checker.machine.state import (
    ENDED,
    LIVE,
    MAPPED,
    UNFAULTED,
    Layout,
    State,
    start_status,
)


@dataclass(frozen=True)
class Label:
    """What one transition did: a thread ran `node`, or the environment acted (actor -1).

    `choice` says which of several outcomes: ("colour", c), ("value", v), ("branch", ...),
    ("evict", slot), ("fill", alias, line).
    """

    actor: int
    node: int
    choice: tuple = ()
    to: int = -1  # the thread's pc after the step (tells `either` branches apart)


@dataclass(frozen=True)
class Finding:
    """A finding at a transition (or, with thread -1, at the end of a run).

    `data` carries what the report needs: for stale_read (word, got, newest known), for
    lost_write (word, memory value, last write, slot drained last or -1), for
    use_after_unmap (register), for deadlock the blocked threads.
    """

    kind: str
    thread: int
    node: int
    data: tuple = ()


class _Work:
    """A mutable copy of a State, for the duration of one step."""

    def __init__(self, s: State) -> None:
        self.pcs = list(s.pcs)
        self.regs = list(s.regs)
        self.hstat = list(s.hstat)
        self.hcol = list(s.hcol)
        self.tlb = list(s.tlb)
        self.cache = list(s.cache)
        self.mem = list(s.mem)
        self.last = list(s.last)
        self.flags = set(s.flags)
        self.views = [list(v) for v in s.views]
        self.signals = list(s.signals)
        self.holders = list(s.holders)
        self.lock_views = list(s.lock_views)
        self.counter = s.counter
        self.findings: list[Finding] = []

    def copy(self) -> _Work:
        other = _Work.__new__(_Work)
        for name, value in self.__dict__.items():
            if name == "views":
                value = [list(v) for v in value]
            elif isinstance(value, list | set):
                value = value.copy()
            setattr(other, name, value)
        return other

    def freeze(self) -> State:
        return State(
            tuple(self.pcs), tuple(self.regs), tuple(self.hstat), tuple(self.hcol),
            tuple(self.tlb), tuple(self.cache), tuple(self.mem), tuple(self.last),
            frozenset(self.flags), tuple(tuple(v) for v in self.views), tuple(self.signals),
            tuple(self.holders), tuple(self.lock_views), self.counter,
        )


def _join(a: tuple[int, ...] | list[int], b: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    return tuple(max(x, y) for x, y in zip(a, b, strict=True))


class Semantics:
    """The transitions of one Program."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.layout = Layout(program)
        self.nodes: tuple[Node, ...] = program.nodes
        self.words = program.total_words

    # -- start -----------------------------------------------------------------------------

    def start_colours(self) -> list[tuple[int, ...]]:
        """Per handle, the colours it can have at the start: each colour for a declared
        `colour any` mapping, its own for another declared one, 0 (unused) for the rest."""
        p = self.program
        colour_sets: list[tuple[int, ...]] = []
        for h in p.handles:
            if h.declared and h.colour is None:
                colour_sets.append(tuple(range(p.colour_count)))
            elif h.declared:
                colour_sets.append((h.colour % p.colour_count,))
            else:
                colour_sets.append((0,))
        return colour_sets

    def is_start(self, state: State) -> bool:
        """Whether `state` is one of initial_states(), without building them all."""
        sets = self.start_colours()
        if len(state.hcol) != len(sets):
            return False
        if any(c not in s for c, s in zip(state.hcol, sets, strict=True)):
            return False
        return state in self.initial_states([state.hcol])

    def initial_states(self, colourings=None) -> list[State]:
        """Every start state: each colour of each `colour any` mapping (or only the handle
        colourings given), and each content (absent, clean, dirty on write-back levels) of
        every line its alias reaches."""
        return list(dict.fromkeys(self.each_initial_state(colourings)))

    def each_initial_state(self, colourings=None) -> Iterator[State]:
        """initial_states one at a time, maybe with repeats: the explicit search looks at
        its limits while they come (there can be millions)."""
        p = self.program
        n_threads = len(p.threads)
        if colourings is None:
            colourings = itertools.product(*self.start_colours())
        hstat = tuple(start_status(h) for h in p.handles)
        tlb = tuple(a.handle >= 0 and hstat[a.handle] == LIVE for a in p.aliases)
        # `start kernel(P) dirty`: the kernel wrote every word of P (write #1) before the
        # protocol, and every thread knows of it; memory still holds the initial value.
        pre = tuple(int(w in self.prewritten_words()) for w in range(self.words))
        # With no write-back level the write went through to memory.
        mem = pre if not any(level.write_back for level in p.levels) else (0,) * self.words
        base = State(
            pcs=tuple(t.entry for t in p.threads),
            regs=p.initial_registers,
            hstat=hstat,
            hcol=(0,) * len(p.handles),
            tlb=tlb,
            cache=(None,) * len(self.layout.slots),
            mem=mem,
            last=pre,
            flags=frozenset(),
            views=(pre,) * n_threads,
            signals=(None,) * len(p.events),
            holders=(-1,) * len(p.locks),
            lock_views=((0,) * self.words,) * len(p.locks),
            counter=int(any(pre)),
        )
        for colours in colourings:
            for flags in p.start_flags:
                yield from self._start_caches(replace(base, hcol=tuple(colours), flags=flags))

    def prewritten_words(self) -> set[int]:
        """The words of the pages declared `start kernel(P) dirty` (flat memory indices)."""
        out: set[int] = set()
        for page, info in enumerate(self.program.pages):
            if info.kernel_start == "dirty":
                base = self.layout.word_offset[page]
                out.update(range(base, base + info.words))
        return out

    def start_line_options(self, hcol) -> dict[int, tuple]:
        """Per slot that may hold something at the start (given the handles' colours), the
        contents it may start with. A declared mapping's lines: absent, clean, or dirty on a
        write-back level, as its `start` allows (`empty`: absent only; `clean`: no dirty);
        a slot two aliases share takes the most either allows. `start kernel(P) clean`: the
        linear alias's lines too may be clean. `start kernel(P) dirty`: the kernel's write
        #1 sits dirty at the first write-back level (a write-through level before it may
        hold it clean), whatever else shares that line; every other outcome of it (written
        back, evicted) the environment reaches from there."""
        p, lay = self.program, self.layout
        rank: dict[int, int] = {}
        wanted = {"empty": 0, "unfaulted": 0, "clean": 1, "any": 2}

        def reach(alias: int, page: int, level_rank: int) -> None:
            for level in range(len(p.levels)):
                for line in range(p.lines(page)):
                    slot = lay.alias_slot(hcol, level, alias, line)
                    rank[slot] = max(rank.get(slot, 0), level_rank)

        for h in p.handles:
            if h.declared:
                reach(h.alias, h.page, wanted[h.start])
        for page, info in enumerate(p.pages):
            if info.kernel_start == "clean":
                reach(page, page, 1)  # the linear alias of page P is alias P
        clean, dirty = (False, (0,) * p.line_words), (True, (0,) * p.line_words)
        options: dict[int, tuple] = {}
        for slot, r in rank.items():
            if r == 0:
                options[slot] = (None,)
            elif r == 1 or not p.levels[lay.slots[slot].level].write_back:
                options[slot] = (None, clean)
            else:
                options[slot] = (None, clean, dirty)
        for page, info in enumerate(p.pages):
            if info.kernel_start != "dirty":
                continue
            for line in range(p.lines(page)):
                words = lay.line_words(page, line)
                data = tuple(int(i < len(words)) for i in range(p.line_words))
                for level, lv in enumerate(p.levels):
                    slot = lay.alias_slot(hcol, level, page, line)
                    if lv.write_back:
                        options[slot] = ((True, data),)
                        break
                    options[slot] = (None, (False, data))
        return options

    def _start_caches(self, coloured: State) -> Iterator[State]:
        """Each start content of the cache, from `coloured` (start_line_options)."""
        options = self.start_line_options(coloured.hcol)
        slots = sorted(options)
        for contents in itertools.product(*(options[slot] for slot in slots)):
            cache = list(coloured.cache)
            for slot, line in zip(slots, contents, strict=True):
                cache[slot] = line
            start = replace(coloured, cache=tuple(cache))
            yield from self._settle_all(start)

    def _settle_all(self, state: State) -> list[State]:
        works = [_Work(state)]
        for t in range(len(self.program.threads)):
            works = [w2 for w in works for w2 in self._settle(w, t)]
        return [w.freeze() for w in works]

    # -- successors ------------------------------------------------------------------------

    def thread_successors(self, state: State, t: int) -> list[tuple[Label, State, tuple]]:
        """Every outcome of thread t's next step (empty if it is finished or blocked)."""
        pc = state.pcs[t]
        if pc == END:
            return []
        node = self.nodes[pc]
        if node.kind == "wait" and state.signals[node.event] is None:
            return []
        if node.kind == "lock" and state.holders[node.lock] != -1:
            return []
        results = []
        for choice, work in self._execute(state, t, node):
            for settled in self._settle(work, t):
                label = Label(t, pc, choice, settled.pcs[t])
                results.append((label, settled.freeze(), tuple(settled.findings)))
        return results

    def env_successors(self, state: State) -> list[tuple[Label, State]]:
        """Every environment event: evict any line, or (speculation) fill one."""
        results = []
        for slot, line in enumerate(state.cache):
            if line is not None:
                w = _Work(state)
                self._evict(w, slot)
                results.append((Label(-1, -1, ("evict", slot)), w.freeze()))
        for alias in self._speculative_aliases(state):
            page = self.program.aliases[alias].page
            for line in range(self.program.lines(page)):
                slot = self.layout.alias_slot(state.hcol, 0, alias, line)
                if state.cache[slot] is None:
                    w = _Work(state)
                    w.cache[slot] = (False, self._fetch(w, alias, line, 1))
                    results.append((Label(-1, -1, ("fill", alias, line)), w.freeze()))
        return results

    def _speculative_aliases(self, state: State) -> list[int]:
        p = self.program
        if not p.levels or p.arch.speculative_fill == "no":
            return []
        if p.arch.speculative_fill == "tlb":
            return [a for a, present in enumerate(state.tlb) if present]
        live = {h.alias for h, status in zip(p.handles, state.hstat, strict=True)
                if status == LIVE}
        # The linear alias of a lowmem page is always live (the linear map).
        live |= {page for page, info in enumerate(p.pages) if not info.highmem}
        return sorted(live)

    # -- the end of a run ------------------------------------------------------------------

    def deadlocked(self, state: State) -> bool:
        """No thread can move and one has not finished."""
        if all(pc == END for pc in state.pcs):
            return False
        return not any(self.thread_successors(state, t) for t in range(len(state.pcs)))

    def lost_words(self, state: State) -> list[tuple[int, int, int, tuple[int, ...]]]:
        """At the end of a run: (word, memory value, last write, drain order) for the first
        word of each line that some order of draining the dirty lines leaves without its
        last write. The drain order lists the slots written out, first to last."""
        lost = []
        for (page, line), slots in self.layout.line_slots.items():
            words = self.layout.line_words(page, line)
            found = None
            for order, content in self._drain_outcomes(state, slots, words):
                for offset, word in enumerate(words):
                    if content[offset] != state.last[word]:
                        found = (word, content[offset], state.last[word], order)
                        break
                if found:
                    break
            if found:
                lost.append(found)
        return lost

    def drained(self, state: State, order: tuple[int, ...]) -> State:
        """The state after writing out `order`'s slots, first to last (a lost write's drain
        order), as the lost-write check drains them."""
        w = _Work(state)
        for slot in order:
            self._evict(w, slot)
        return w.freeze()

    def _drain_outcomes(self, state: State, slots: tuple[int, ...], words: range):
        """Every (order, memory content of the line) that writing out the line's dirty
        copies in some order can leave."""
        seen: set[tuple[int, ...]] = set()
        stack: list[tuple[tuple[int, ...], _Work]] = [((), _Work(state))]
        while stack:
            order, w = stack.pop()
            pending = [s for s in slots if w.cache[s] is not None and w.cache[s][0]]
            if not pending:
                content = tuple(w.mem[i] for i in words)
                if content not in seen:
                    seen.add(content)
                    yield order, content
                continue
            for slot in reversed(pending):
                w2 = w.copy()
                self._evict(w2, slot)
                stack.append(((*order, slot), w2))

    # -- executing one node ----------------------------------------------------------------

    def _settle(self, w: _Work, t: int) -> list[_Work]:
        """Run the silent nodes (move, choice) after a step; a choice forks (silent.py: each
        distinct outcome once)."""
        pc = w.pcs[t]
        if pc == END:
            return [w]
        paths = silent_paths(self.nodes, pc)
        forks = []
        for at, moves in paths:
            w2 = w.copy() if len(paths) > 1 else w
            apply_moves(w2.regs, 0, moves)
            w2.pcs[t] = at
            forks.append(w2)
        return forks

    def _execute(self, state: State, t: int, node: Node) -> list[tuple[tuple, _Work]]:
        w = _Work(state)
        pc = state.pcs[t]
        w.pcs[t] = node.next[0]
        kind = node.kind
        if kind in ("read", "write", "copy") and not self._bound(w, t, pc, node):
            return [((), w)]
        if kind in ("read", "write"):
            alias = self._access_through(w, t, pc, node.reg)
            page = self.program.aliases[alias].page
            if kind == "read":
                self._cpu_read(w, t, pc, alias, page, node.index)
            else:
                self._cpu_write(w, t, alias, page, node.index)
        elif kind == "copy":
            src = self._access_through(w, t, pc, node.reg2)
            dst = self._access_through(w, t, pc, node.reg)
            src_page = self.program.aliases[src].page
            dst_page = self.program.aliases[dst].page
            for i in range(self.program.pages[dst_page].words):
                self._cpu_read(w, t, pc, src, src_page, i)
                self._cpu_write(w, t, dst, dst_page, i)
        elif kind == "dma_read":
            return self._dma_read(w, t, pc, node)
        elif kind == "dma_write":
            self._dma_write(w, t, node)
        elif kind == "signal":
            prev = w.signals[node.event]
            view = tuple(w.views[t])
            w.signals[node.event] = view if prev is None else _join(prev, view)
        elif kind == "wait":
            w.views[t] = list(_join(w.views[t], w.signals[node.event]))
        elif kind == "lock":
            w.holders[node.lock] = t
            w.views[t] = list(_join(w.views[t], w.lock_views[node.lock]))
        elif kind == "unlock":
            w.holders[node.lock] = -1
            w.lock_views[node.lock] = _join(w.lock_views[node.lock], w.views[t])
        elif kind == "maint":
            self._maintenance(w, t, pc, node)
        elif kind in ("map", "mmap"):
            return self._map(w, node)
        elif kind in ("unmap", "munmap"):
            handle = w.regs[node.reg]
            if kind == "unmap":
                self._check_live(w, t, pc, node.reg)
            if handle >= 0:
                w.hstat[handle] = ENDED
        elif kind in ("set", "clear"):
            if kind == "set":
                w.flags.add((node.page, node.flag))
            else:
                w.flags.discard((node.page, node.flag))
        elif kind == "test":
            taken = self._condition(w, node.cond)
            w.pcs[t] = node.next[0] if taken else node.next[1]
            return [(("branch", taken), w)]
        elif kind == "fault":
            faults = w.regs[node.reg] == node.handle and w.hstat[node.handle] == UNFAULTED
            w.pcs[t] = node.next[0] if faults else node.next[1]
            return [(("fault", faults), w)]
        elif kind != "nop":
            raise AssertionError(f"unknown node kind {kind}")
        return [((), w)]

    def _bound(self, w: _Work, t: int, pc: int, node: Node) -> bool:
        """Whether the node's registers hold handles; an unbound one is reported like an
        ended handle (the access has no alias to go through, so it does not happen)."""
        regs = [node.reg] + ([node.reg2] if node.kind == "copy" else [])
        unbound = [r for r in regs if w.regs[r] < 0]
        for reg in unbound:
            self._check_live(w, t, pc, reg)
        return not unbound

    def _check_live(self, w: _Work, t: int, pc: int, reg: int) -> None:
        handle = w.regs[reg]
        if handle < 0 or w.hstat[handle] not in MAPPED:
            w.findings.append(Finding("use_after_unmap", t, pc, (reg, handle)))

    def _through(self, w: _Work, t: int, pc: int, reg: int) -> int:
        """The alias an access through register `reg` uses (checking the handle is live)."""
        self._check_live(w, t, pc, reg)
        handle = w.regs[reg]
        alias = self.program.handles[handle].alias
        # No page-table entry, no TLB entry (only a flush by address meets an unfaulted
        # mapping here: an access faults first).
        w.tlb[alias] = w.tlb[alias] or w.hstat[handle] != UNFAULTED
        return alias

    def _access_through(self, w: _Work, t: int, pc: int, reg: int) -> int:
        """_through for a load or store: an unfaulted mapping is faulted in by it (its
        page-table entry made, after the fault node's hook if any)."""
        handle = w.regs[reg]
        if w.hstat[handle] == UNFAULTED:
            w.hstat[handle] = LIVE
        return self._through(w, t, pc, reg)

    def _map(self, w: _Work, node: Node) -> list[tuple[tuple, _Work]]:
        p = self.program
        handle = p.handles[node.handle]
        spec = handle.colour
        if spec == "linear" or p.colour_count == 1:
            colours: list[int] = [0]
        elif isinstance(spec, int):
            colours = [spec % p.colour_count]
        elif spec == "same":
            colours = [w.hcol[w.regs[handle.same_as]]]
        elif spec == "user":
            of = handle.user_of if handle.user_of >= 0 else handle.page
            live = {w.hcol[h] for h in self.layout.user_handles[of] if w.hstat[h] in MAPPED}
            colours = sorted(live) if live else list(range(p.colour_count))
        else:
            colours = list(range(p.colour_count))
        results = []
        for colour in colours:
            w2 = w.copy() if len(colours) > 1 else w
            w2.hstat[node.handle] = LIVE
            w2.hcol[node.handle] = colour
            w2.regs[node.reg] = node.handle
            results.append((("colour", colour) if len(colours) > 1 else (), w2))
        return results

    def _condition(self, w: _Work, c: LCond | None) -> bool:
        assert c is not None
        if c.op == "pred":
            page = self.program.pages[c.page]
            if c.pred == "anon":
                return page.kind == "anon"
            if c.pred == "file":
                return page.kind == "file"
            if c.pred == "highmem":
                return page.highmem
            if c.pred == "faulted":
                return any(w.hstat[h] == LIVE for h in self.layout.user_handles[c.page])
            return any(w.hstat[h] in MAPPED for h in self.layout.user_handles[c.page])
        if c.op == "flag":
            return (c.page, c.flag) in w.flags
        if c.op == "not":
            return not self._condition(w, c.left)
        if c.op == "and":
            return self._condition(w, c.left) and self._condition(w, c.right)
        return self._condition(w, c.left) or self._condition(w, c.right)

    # -- memory and caches -----------------------------------------------------------------

    def _fetch(self, w: _Work, alias: int, line: int, start: int) -> tuple[int, ...]:
        """The line as the nearest level from `start` outward (or memory) holds it."""
        for level in range(start, len(self.program.levels)):
            held = w.cache[self.layout.alias_slot(w.hcol, level, alias, line)]
            if held is not None:
                return held[1]
        page = self.program.aliases[alias].page
        words = [w.mem[i] for i in self.layout.line_words(page, line)]
        return tuple(words + [0] * (self.program.line_words - len(words)))

    def _cpu_read(self, w: _Work, t: int, pc: int, alias: int, page: int, index: int) -> None:
        lw = self.program.line_words
        line, offset = divmod(index, lw)
        if self.program.levels:
            slot = self.layout.alias_slot(w.hcol, 0, alias, line)
            held = w.cache[slot]
            if held is None:
                held = (False, self._fetch(w, alias, line, 1))
                w.cache[slot] = held
            value = held[1][offset]
        else:
            value = w.mem[self.layout.word_offset[page] + index]
        self._observe(w, t, pc, self.layout.word_offset[page] + index, value)

    def _observe(self, w: _Work, t: int, pc: int, word: int, value: int) -> None:
        known = w.views[t][word]
        if value < known:
            w.findings.append(Finding("stale_read", t, pc, (word, value, known)))
        else:
            w.views[t][word] = value

    def _new_write(self, w: _Work, t: int, word: int) -> int:
        w.counter += 1
        w.last[word] = w.counter
        w.views[t][word] = w.counter
        return w.counter

    def _cpu_write(self, w: _Work, t: int, alias: int, page: int, index: int) -> None:
        word = self.layout.word_offset[page] + index
        value = self._new_write(w, t, word)
        line, offset = divmod(index, self.program.line_words)
        for level, info in enumerate(self.program.levels):
            slot = self.layout.alias_slot(w.hcol, level, alias, line)
            held = w.cache[slot]
            if info.write_back:
                data = held[1] if held is not None else self._fetch(w, alias, line, level + 1)
                w.cache[slot] = (True, _set(data, offset, value))
                return
            if held is not None:
                w.cache[slot] = (held[0], _set(held[1], offset, value))
        w.mem[word] = value

    def _dma_write(self, w: _Work, t: int, node: Node) -> None:
        word = self.layout.word_offset[node.page] + node.index
        value = self._new_write(w, t, word)
        w.mem[word] = value
        if self.program.arch.dma_coherent:
            line, offset = divmod(node.index, self.program.line_words)
            for slot in self.layout.line_slots[(node.page, line)]:
                held = w.cache[slot]
                if held is not None:
                    w.cache[slot] = (held[0], _set(held[1], offset, value))

    def _dma_read(self, w: _Work, t: int, pc: int, node: Node) -> list[tuple[tuple, _Work]]:
        word = self.layout.word_offset[node.page] + node.index
        values = [w.mem[word]]
        if self.program.arch.dma_coherent:
            line, offset = divmod(node.index, self.program.line_words)
            dirty = sorted({w.cache[s][1][offset] for s in self.layout.line_slots[(node.page, line)]
                            if w.cache[s] is not None and w.cache[s][0]})
            values = dirty or values
        results = []
        for value in values:
            w2 = w.copy() if len(values) > 1 else w
            self._observe(w2, t, pc, word, value)
            results.append((("value", value) if len(values) > 1 else (), w2))
        return results

    def _evict(self, w: _Work, slot: int) -> None:
        """Write a line out of its level: dirty lines go one level out (or to memory), clean
        ones are dropped or, into a victim_fill level, installed there."""
        held = w.cache[slot]
        if held is None:
            return
        w.cache[slot] = None
        info = self.layout.slots[slot]
        last_level = info.level + 1 == len(self.program.levels)
        if held[0]:
            self._write_out(w, slot, held[1])
        elif not last_level and self.program.levels[info.level + 1].victim_fill:
            outer = self.layout.outer_slot(w.hcol, slot)
            if w.cache[outer] is not None and w.cache[outer][0]:
                self._evict(w, outer)
            w.cache[outer] = (False, held[1])

    def _write_out(self, w: _Work, slot: int, data: tuple[int, ...]) -> None:
        """A dirty line leaving `slot`: installed dirty in the next write-back level, passing
        through write-through levels (which update a present line and never hold a dirty
        one), or written to memory."""
        info = self.layout.slots[slot]
        for level in range(info.level + 1, len(self.program.levels)):
            slot = self.layout.outer_slot(w.hcol, slot)
            if self.program.levels[level].write_back:
                w.cache[slot] = (True, data)
                return
            if w.cache[slot] is not None:
                w.cache[slot] = (False, data)
        for offset, word in enumerate(self.layout.line_words(info.page, info.line)):
            w.mem[word] = data[offset]

    def _target_slots(self, w: _Work, t: int, pc: int, node: Node) -> tuple[list[int], list[int]]:
        """The aliases and, per level, the slots an alias set reaches."""
        p, lay = self.program, self.layout
        if node.target == "mapping" and node.op == "purge_tlb":
            # Dropping a translation is no use of the handle: the kernel purges after it
            # clears the PTE. It neither checks the handle nor loads the entry.
            handle = w.regs[node.reg]
            return ([p.handles[handle].alias] if handle >= 0 else []), []
        if node.target == "mapping":
            # A flush by virtual address needs the translation: it loads the TLB entry.
            aliases = [self._through(w, t, pc, node.reg)] if w.regs[node.reg] >= 0 else []
            if not aliases:
                self._check_live(w, t, pc, node.reg)
            page = p.aliases[aliases[0]].page if aliases else -1
        else:
            page = node.page
            if page < 0:  # kernel(m), user(m), all(m): the page behind the handle in m
                handle = w.regs[node.reg]
                if handle < 0:
                    return [], []
                page = p.handles[handle].page
            if node.target == "kernel":
                aliases = [] if p.pages[page].highmem else [page]
            elif node.target == "user":
                # The kernel walks the VMAs (i_mmap): an unfaulted mapping is among them.
                aliases = [p.handles[h].alias for h in lay.user_handles[page]
                           if w.hstat[h] in MAPPED]
            else:
                return list(lay.page_aliases[page]), list(lay.page_slots[page])
        slots: list[int] = []
        for level in range(len(p.levels)):
            for alias in aliases:
                for line in range(p.lines(page)):
                    slot = lay.alias_slot(w.hcol, level, alias, line)
                    if slot not in slots:
                        slots.append(slot)
        return aliases, slots

    def _maintenance(self, w: _Work, t: int, pc: int, node: Node) -> None:
        aliases, slots = self._target_slots(w, t, pc, node)
        if node.op == "purge_tlb":
            for alias in aliases:
                w.tlb[alias] = False
            return
        # Slots are in level order, CPU outward, so a line written back from one level is
        # met again (and written on) at the next.
        if node.op in ("writeback", "flush"):
            for slot in slots:
                held = w.cache[slot]
                if held is not None and held[0]:
                    self._evict(w, slot)
                    if node.op == "writeback":
                        w.cache[slot] = (False, held[1])
        if node.op in ("invalidate", "flush"):
            for slot in slots:
                w.cache[slot] = None


def _set(data: tuple[int, ...], offset: int, value: int) -> tuple[int, ...]:
    return data[:offset] + (value,) + data[offset + 1 :]
