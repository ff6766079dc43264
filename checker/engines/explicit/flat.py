"""The machine of semantics.py on flat states, for the explicit search.

A state is one `bytes` object (one byte per field; or a tuple of ints when some field can
exceed 255) at fixed offsets, so a step is one copy into a bytearray, a few stores and one
copy back, and the visited set hashes a short byte string. Everything a step can know
before it runs is resolved here once: the slots an alias reaches at each colour, the silent
nodes that follow each node, each node's handler.

Fields (value stored; "+1" fields keep 0 for "none"):
    pc+1 per thread | handle+1 per register | handle status | handle colour | TLB per alias
    | per cache slot: 0 absent / 1 clean / 2 dirty, then its words | memory | last write
    | flags | views (thread x word) | per event: signalled, then its view (event x word)
    | lock holder+1 | lock views (lock x word) | write counter

semantics.py stays the reference: tests/test_engines.py holds this machine to it state for
state, and every witness found here is replayed there before it is printed. What a thread
step does to a state is in checker/engines/explicit/steps.py; this module holds the layout, the
conversions, the successor functions and what the reductions ask of a state.
"""

from __future__ import annotations

from collections.abc import Callable

from checker.engines.explicit.steps import KIND_BITS, STALE, UNMAPPED, Steps, Work
from checker.machine.program import LCond, Program, used_flags
from checker.machine.silent import apply_moves, silent_paths
from checker.machine.state import LIVE, UNFAULTED, Layout, State, start_status


class FlatMachine(Steps):
    """The transitions of one Program on flat states."""

    def __init__(self, program: Program, wide: bool = False) -> None:
        """`wide`: keep states as tuples even when every field fits in a byte (for tests:
        the tuple form is otherwise taken only by programs of 255 nodes or more)."""
        p = program
        self.program = p
        self.layout = lay = Layout(p)
        self.nodes = p.nodes
        T, R, H, A = len(p.threads), len(p.registers), len(p.handles), len(p.aliases)
        self.n_threads = T
        self.n_levels = len(p.levels)
        self.W = W = p.total_words
        self.LW = LW = p.line_words
        self.SW = SW = 1 + LW
        flags = sorted(used_flags(p.nodes))
        self.flag_index = {f: i for i, f in enumerate(flags)}
        self.flags = flags
        E, L = len(p.events), len(p.locks)
        self.PC = 0
        self.REG = self.PC + T
        self.HST = self.REG + R
        self.HCOL = self.HST + H
        self.TLB = self.HCOL + H
        self.CACHE = self.TLB + A
        self.MEM = self.CACHE + len(lay.slots) * SW
        self.LAST = self.MEM + W
        self.FLAG = self.LAST + W
        self.VIEW = self.FLAG + len(flags)
        self.SIGF = self.VIEW + T * W
        self.SIGV = self.SIGF + E
        self.HOLD = self.SIGV + E * W
        self.LVIEW = self.HOLD + L
        self.CNT = self.LVIEW + L * W
        self.size = self.CNT + 1
        writes = sum(1 if n.kind in ("write", "dma_write") else
                     max(pg.words for pg in p.pages) if n.kind == "copy" else 0 for n in p.nodes)
        widest = max(len(p.nodes) + 1, H + 1, T + 1, p.colour_count, writes, 2)
        # bytes when every field fits in a byte (nearly always), else tuples of ints.
        narrow = widest < 256 and not wide
        self.freeze: Callable = bytes if narrow else tuple
        self.thaw: Callable = bytearray if narrow else list
        self.zero_line = self.zeros(LW)
        self._alias_handle = tuple(a.handle for a in p.aliases)
        self._alias_page = tuple(a.page for a in p.aliases)
        self._handle_alias = tuple(h.alias for h in p.handles)
        self.has_unfaulted = any(start_status(h) == UNFAULTED for h in p.handles)
        self._apos: dict[tuple[int, int], tuple[tuple[int, ...], ...]] = {}
        self._slot_level = tuple(s.level for s in lay.slots)
        self._slot_line = tuple(lay.line_offset[s.page] + s.line for s in lay.slots)
        self._page_lines = tuple(
            tuple(range(lay.line_offset[page], lay.line_offset[page] + p.lines(page)))
            for page in range(len(p.pages)))
        self.write_back = tuple(lv.write_back for lv in p.levels)
        self.victim_fill = tuple(lv.victim_fill for lv in p.levels)
        self.line_positions = {
            key: tuple(self.CACHE + s * SW for s in slots) for key, slots in lay.line_slots.items()
        }
        self.page_positions = tuple(tuple(self.CACHE + s * SW for s in slots)
                                    for slots in lay.page_slots)
        # Set when a step wrote back two different dirty copies of one line at one level in
        # an order that follows colours (order_colour) or handles or aliases (order_thread).
        self.order_colour = False
        self.order_thread = False
        self._settle = [silent_paths(p.nodes, pc) for pc in range(len(p.nodes))]
        self._handlers = [self._handler(node) for node in p.nodes]
        self._touch = [self._touches(node) for node in p.nodes]
        # Steps that read and write nothing shared: `nop`, and a test of a page's kind.
        self._local = [n.kind == "nop" or (n.kind == "test" and _static(n.cond))
                       for n in p.nodes]
        # focus(): a read or write may count only its own slot (one write-back level).
        self._narrow = self.n_levels == 1 and self.write_back[0]

    def zeros(self, n: int) -> bytearray | list:
        """n zero fields, in the mutable form of this machine's states."""
        return self.thaw(bytes(n))

    # -- converting to and from the reference State ---------------------------------------

    def encode(self, s: State) -> bytes | tuple:
        p, W = self.program, self.W
        w = self.zeros(self.size)
        for t, pc in enumerate(s.pcs):
            w[self.PC + t] = pc + 1
        for r, h in enumerate(s.regs):
            w[self.REG + r] = h + 1
        for h, (status, colour) in enumerate(zip(s.hstat, s.hcol, strict=True)):
            w[self.HST + h], w[self.HCOL + h] = status, colour
        for a, present in enumerate(s.tlb):
            w[self.TLB + a] = int(present)
        for slot, line in enumerate(s.cache):
            if line is not None:
                pos = self.CACHE + slot * self.SW
                w[pos] = 2 if line[0] else 1
                w[pos + 1 : pos + self.SW] = self.thaw(line[1])
        for i in range(W):
            w[self.MEM + i], w[self.LAST + i] = s.mem[i], s.last[i]
        for flag in s.flags:
            w[self.FLAG + self.flag_index[flag]] = 1
        for t, view in enumerate(s.views):
            w[self.VIEW + t * W : self.VIEW + (t + 1) * W] = self.thaw(view)
        for e, view in enumerate(s.signals):
            if view is not None:
                w[self.SIGF + e] = 1
                w[self.SIGV + e * W : self.SIGV + (e + 1) * W] = self.thaw(view)
        for lk, holder in enumerate(s.holders):
            w[self.HOLD + lk] = holder + 1
            w[self.LVIEW + lk * W : self.LVIEW + (lk + 1) * W] = self.thaw(s.lock_views[lk])
        w[self.CNT] = s.counter
        assert len(p.threads) == len(s.pcs)
        return self.freeze(w)

    def decode(self, s: bytes | tuple) -> State:
        p, W, SW = self.program, self.W, self.SW
        T, H = len(p.threads), len(p.handles)

        def field(base: int, n: int, shift: int = 0) -> tuple[int, ...]:
            return tuple(v - shift for v in s[base : base + n])

        cache = []
        for slot in range(len(self.layout.slots)):
            pos = self.CACHE + slot * SW
            status = s[pos]
            cache.append(None if status == 0 else (status == 2, tuple(s[pos + 1 : pos + SW])))
        return State(
            pcs=field(self.PC, T, 1),
            regs=field(self.REG, len(p.registers), 1),
            hstat=field(self.HST, H),
            hcol=field(self.HCOL, H),
            tlb=tuple(bool(v) for v in s[self.TLB : self.TLB + len(p.aliases)]),
            cache=tuple(cache),
            mem=field(self.MEM, W),
            last=field(self.LAST, W),
            flags=frozenset(f for i, f in enumerate(self.flags) if s[self.FLAG + i]),
            views=tuple(field(self.VIEW + t * W, W) for t in range(T)),
            signals=tuple(field(self.SIGV + e * W, W) if s[self.SIGF + e] else None
                          for e in range(len(p.events))),
            holders=field(self.HOLD, len(p.locks), 1),
            lock_views=tuple(field(self.LVIEW + k * W, W) for k in range(len(p.locks))),
            counter=s[self.CNT],
        )

    # -- successors ------------------------------------------------------------------------

    def ended(self, s) -> bool:
        return not any(s[self.PC : self.PC + self.n_threads])

    def thread_successors(self, s, t: int, colours: Callable | None = None) -> list:
        """(label key (t, pc, choice, to), state, finding bits) of each outcome of thread
        t's next step; `colours(w, handle, colours)` may narrow the colours `map` tries."""
        pcv = s[self.PC + t]
        if not pcv:
            return []
        pc = pcv - 1
        handler, blocked = self._handlers[pc]
        if blocked is not None and blocked(s):
            return []
        w = self.thaw(s)
        w[self.PC + t] = self.nodes[pc].next[0] + 1
        out = []
        for choice, work, kinds in handler(w, t, colours):
            for settled in self._settle_work(work, t):
                to = settled[self.PC + t] - 1
                out.append(((t, pc, choice, to), self.freeze(settled), kinds))
        return out

    def env_successors(self, s, focus: tuple[set[int], set[int]] | None = None) -> list:
        """(label key (-1, -1, choice, -1), state) of each environment event; with `focus`
        (lines, slot positions: from `focus`), only the events on those lines and slots."""
        out = []
        CACHE, SW, thaw, freeze = self.CACHE, self.SW, self.thaw, self.freeze
        slot_line = self._slot_line
        lines, slots = focus if focus is not None else (None, None)
        for slot in range(len(self._slot_level)):
            pos = CACHE + slot * SW
            if s[pos] and (lines is None or slot_line[slot] in lines or pos in slots):
                w = thaw(s)
                self._evict(w, pos)
                out.append(((-1, -1, ("evict", slot), -1), freeze(w)))
        for alias in self._speculative_aliases(s):
            page = self._alias_page[alias]
            colour = self.alias_colour(s, alias)
            positions = self.alias_positions(alias, colour)[0]
            first = self.layout.line_offset[page]
            for line in range(len(positions)):
                pos = positions[line]
                if not s[pos] and (lines is None or first + line in lines or pos in slots):
                    w = thaw(s)
                    w[pos] = 1
                    w[pos + 1 : pos + SW] = self._fetch(w, alias, colour, page, line, 1)
                    out.append(((-1, -1, ("fill", alias, line), -1), freeze(w)))
        return out

    def local_thread(self, s) -> int:
        """A thread whose next step is local (reads and writes nothing another step or the
        environment uses: a call with no effect, a test of a page's kind), or -1."""
        local = self._local
        for t, pcv in enumerate(s[self.PC : self.PC + self.n_threads]):
            if pcv and local[pcv - 1]:
                return t
        return -1

    def focus(self, s) -> tuple[set[int], set[int]]:
        """Where the environment events that can matter next are (the environment
        reduction, docs/engines.md): (physical lines, numbered as in Layout.line_offset, all
        of whose events count; cache slot positions whose events count).

        A line counts whole when the next step of some unfinished thread may use or change
        its memory or any of its copies, or a TLB entry or handle of its page. With one
        write-back level, a read or write of a line none of whose copies is dirty only
        counts its own slot: the other copies' evictions and fills commute with it."""
        lines: set[int] = set()
        slots: set[int] = set()
        REG, handles = self.REG, self.program.handles
        page_lines, line_offset = self._page_lines, self.layout.line_offset
        narrow = self._narrow
        for t in range(self.n_threads):
            pcv = s[self.PC + t]
            if not pcv:
                continue
            for page, reg, line in self._touch[pcv - 1]:
                handle = -1
                if reg >= 0:
                    handle = s[REG + reg] - 1
                    if handle < 0:
                        continue
                    page = handles[handle].page
                    if s[self.HST + handle] == UNFAULTED:
                        # The access faults the mapping in: its alias becomes reachable
                        # by speculative fills, every line of the page (as a map does).
                        lines.update(page_lines[page])
                        continue
                if line < 0:
                    lines.update(page_lines[page])
                    continue
                index = line_offset[page] + line
                if narrow and handle >= 0 and self.nodes[pcv - 1].kind in ("read", "write"):
                    positions = self.line_positions[(page, line)]
                    if not any(s[pos] == 2 for pos in positions):
                        alias = self._handle_alias[handle]
                        slots.add(self.alias_positions(alias, self.alias_colour(s, alias))
                                  [0][line])
                        continue
                lines.add(index)
        return lines, slots

    def _touches(self, node) -> tuple[tuple[int, int, int], ...]:
        """What a node touches: (page or -1, register holding a handle of the page or -1,
        line of the page or -1 for all of them), each."""
        kind, line = node.kind, node.index // self.LW
        if kind in ("read", "write"):
            return ((-1, node.reg, line),)
        if kind in ("unmap", "munmap"):
            return ((-1, node.reg, -1),)
        if kind == "copy":
            return ((-1, node.reg, -1), (-1, node.reg2, -1))
        if kind in ("dma_read", "dma_write"):
            return ((node.page, -1, line),)
        if kind in ("map", "mmap"):
            return ((self.program.handles[node.handle].page, -1, -1),)
        if kind == "maint":
            return ((node.page, -1, -1),) if node.page >= 0 else ((-1, node.reg, -1),)
        return ()

    def _speculative_aliases(self, s) -> list[int]:
        p = self.program
        mode = p.arch.speculative_fill
        if not p.levels or mode == "no":
            return []
        if mode == "tlb":
            return [a for a in range(len(p.aliases)) if s[self.TLB + a]]
        live = {self._handle_alias[h] for h in range(len(p.handles)) if s[self.HST + h] == LIVE}
        live |= {page for page, info in enumerate(p.pages) if not info.highmem}
        return sorted(live)

    # -- the end of a run ------------------------------------------------------------------

    def lost(self, s) -> bool:
        """Whether some order of draining the dirty lines loses a last write
        (semantics.py lost_words, which drains each physical line on its own)."""
        return any(self.line_lost(s, page, line) for page, line in self.line_positions)

    def line_lost(self, s, page: int, line: int) -> bool:
        """Whether some order of writing out one line's dirty copies leaves memory without
        one of its last writes."""
        positions = self.line_positions[(page, line)]
        words = list(self.layout.line_words(page, line))
        last = [s[self.LAST + i] for i in words]
        if self.n_levels == 1:
            # One level: the copy written out last decides memory; any dirty one can be last.
            dirty = [pos for pos in positions if s[pos] == 2]
            if not dirty:
                return [s[self.MEM + i] for i in words] != last
            return any(s[pos + 1 + k] != value for pos in dirty
                       for k, value in enumerate(last))
        stack = [self.thaw(s)]
        while stack:  # every order of writing the dirty copies out, as semantics.py tries
            w = stack.pop()
            pending = [pos for pos in positions if w[pos] == 2]
            if not pending:
                if [w[self.MEM + i] for i in words] != last:
                    return True
                continue
            for pos in pending:
                w2 = self.thaw(w)
                self._evict(w2, pos)
                stack.append(w2)
        return False

    # -- silent nodes ----------------------------------------------------------------------

    def _settle_work(self, w: Work, t: int) -> list[Work]:
        pcv = w[self.PC + t]
        if not pcv:
            return [w]
        paths = self._settle[pcv - 1]
        if len(paths) == 1 and not paths[0][1]:
            w[self.PC + t] = paths[0][0] + 1
            return [w]
        out = []
        REG = self.REG
        for at, moves in paths:
            w2 = self.thaw(w) if len(paths) > 1 else w
            apply_moves(w2, REG, moves)
            w2[self.PC + t] = at + 1
            out.append(w2)
        return out

    # -- slots -----------------------------------------------------------------------------

    def alias_colour(self, s, alias: int) -> int:
        handle = self._alias_handle[alias]
        return 0 if handle < 0 else s[self.HCOL + handle]

    def alias_positions(self, alias: int, colour: int) -> tuple[tuple[int, ...], ...]:
        """Per level, per line of the alias's page: the position of the slot it uses."""
        key = (alias, colour)
        found = self._apos.get(key)
        if found is None:
            lay, p = self.layout, self.program
            page = self._alias_page[alias]
            hcol = [0] * len(p.handles)
            if self._alias_handle[alias] >= 0:
                hcol[self._alias_handle[alias]] = colour
            found = tuple(
                tuple(self.CACHE + lay.alias_slot(hcol, level, alias, line) * self.SW
                      for line in range(p.lines(page)))
                for level in range(len(p.levels))
            )
            self._apos[key] = found
        return found

    def _outer_position(self, w: Work, pos: int) -> int:
        slot = (pos - self.CACHE) // self.SW
        hcol = [w[self.HCOL + h] for h in range(len(self.program.handles))]
        return self.CACHE + self.layout.outer_slot(hcol, slot) * self.SW


def _static(c: LCond | None) -> bool:
    """Whether a condition only asks what a page is (anon, file, highmem): fixed for a run."""
    if c is None:
        return False
    if c.op == "pred":
        return c.pred not in ("mapped", "faulted")
    if c.op == "flag":
        return False
    return _static(c.left) and (c.op == "not" or _static(c.right))


__all__ = ["FlatMachine", "KIND_BITS", "STALE", "UNMAPPED", "Work"]
