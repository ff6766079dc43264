"""Dead lines: physical lines no thread will touch again, reduced to what they still decide.

A line is *dead* in a state when no node reachable from any thread's pc can read, write,
flush, map or unmap anything of it (registers are resolved to every page they can ever hold).
From then on only environment events could change it, and the search defers those to steps
that touch the line (explicit.py), so they never run: its content is frozen until the end of
the run, where it decides one thing, whether draining its dirty copies can lose a last write.
So every dead line is rewritten to one of two contents: no copy cached and memory holding its
last writes (nothing lost), or the same with the first word's memory changed (lost).
docs/engines.md, "Dead lines", gives the argument. With several levels, whether a line's
drain can lose a write is found by trying every order of writing its dirty copies out, as
semantics.py does at the end of a run, on that line alone (lines never mix).
"""

from __future__ import annotations

from checker.engines.explicit.flat import FlatMachine
from checker.machine.state import UNFAULTED, start_status


class DeadLines:
    def __init__(self, m: FlatMachine) -> None:
        self.m = m
        p = m.program
        self.active = m.n_levels >= 1 and m.freeze is bytes
        pages = _register_pages(p)
        lay = m.layout
        n_lines = lay.total_lines

        def page_mask(page: int) -> int:
            first = lay.line_offset[page]
            return ((1 << p.lines(page)) - 1) << first

        # Registers that may hold a mapping that starts unfaulted (only its own: lower.py
        # refuses to move it): an access through one may fault the mapping in, which makes
        # every line of its page reachable by speculative fills, as a map does.
        faulting = {r for r, h in enumerate(p.initial_registers)
                    if h >= 0 and start_status(p.handles[h]) == UNFAULTED}

        def touched(node) -> int:
            mask = 0
            kind = node.kind
            regs = [r for r in (node.reg, node.reg2) if r >= 0]
            if kind in ("read", "write") and node.reg in faulting:
                for page in pages[node.reg]:
                    mask |= page_mask(page)
            elif kind in ("read", "write"):
                for page in pages[node.reg]:
                    line = node.index // m.LW
                    if line < p.lines(page):
                        mask |= 1 << (lay.line_offset[page] + line)
            elif kind in ("copy", "unmap", "munmap") or (kind == "maint" and node.page < 0):
                for reg in regs:
                    for page in pages[reg]:
                        mask |= page_mask(page)
            elif kind in ("dma_read", "dma_write"):
                mask |= 1 << (lay.line_offset[node.page] + node.index // m.LW)
            elif kind in ("map", "mmap"):
                mask |= page_mask(p.handles[node.handle].page)
            elif kind == "maint":
                mask |= page_mask(node.page)
            return mask

        own = [touched(node) for node in p.nodes]
        future = [-1] * len(p.nodes)

        def reach(pc: int) -> int:
            if pc < 0:
                return 0
            if future[pc] < 0:
                stack = [pc]
                while stack:  # iterative post-order: control graphs are acyclic
                    at = stack[-1]
                    pending = [n for n in p.nodes[at].next if n >= 0 and future[n] < 0]
                    if pending:
                        stack.extend(pending)
                        continue
                    stack.pop()
                    mask = own[at]
                    for n in p.nodes[at].next:
                        if n >= 0:
                            mask |= future[n]
                    future[at] = mask
            return future[pc]

        self.future = [0] + [reach(pc) for pc in range(len(p.nodes))]  # by stored pc+1
        self.all_lines = (1 << n_lines) - 1
        # Per line: its index, the span of its slots at each level (a physical line's slots
        # at one level are consecutive: one per colour or alias), of its memory and of its
        # last writes.
        self.lines = []
        for (page, line), positions in sorted(m.line_positions.items()) if self.active else ():
            words = lay.line_words(page, line)
            blocks = []
            for level in range(m.n_levels):
                at = [pos for pos in positions if m._slot_level[(pos - m.CACHE) // m.SW] == level]
                blocks.append((at[0], at[-1] + m.SW))
                assert at[-1] + m.SW - at[0] == len(at) * m.SW
            self.lines.append((lay.line_offset[page] + line, tuple(blocks),
                               (m.MEM + words[0], m.MEM + words[-1] + 1),
                               (m.LAST + words[0], m.LAST + words[-1] + 1), (page, line)))
        # Where a line goes when it leaves a VIVT level depends on its alias's colour.
        vivt = m.n_levels > 1 and any(lv.indexing == "vivt" for lv in p.levels)
        self.handles = (m.HST, m.HCOL + len(p.handles)) if vivt else (0, 0)
        self._dead: dict = {}  # pcs -> dead line mask
        self._reduced: dict = {}  # what a line's reduction depends on -> None or its result

    def canonical(self, s):
        m = self.m
        pcs = s[m.PC : m.PC + m.n_threads]
        dead = self._dead.get(pcs)
        if dead is None:
            live = 0
            for pcv in pcs:
                live |= self.future[pcv]
            dead = self._dead[pcs] = self.all_lines & ~live
        if not dead:
            return s
        w = None
        h0, h1 = self.handles
        for index, blocks, (m0, m1), (l0, l1), page_line in self.lines:
            if not dead >> index & 1:
                continue
            key = (index, *(s[b0:b1] for b0, b1 in blocks), s[m0:m1], s[l0:l1], s[h0:h1])
            reduced = self._reduced.get(key, 0)
            if reduced == 0:
                reduced = self._reduced[key] = self._reduce(s, blocks, (m0, m1), (l0, l1),
                                                            page_line)
            if reduced is None:
                continue
            if w is None:
                w = m.thaw(s)
            for b0, b1 in blocks:
                w[b0:b1] = bytes(b1 - b0)
            w[m0:m1] = reduced
        return s if w is None else m.freeze(w)

    def _reduce(self, s, blocks, memory_span, last_span, page_line) -> bytes | tuple | None:
        """The reduced memory of one dead line (its slots are then emptied), or None if the
        line is reduced already."""
        memory, last = s[slice(*memory_span)], s[slice(*last_span)]
        lost = self.m.line_lost(s, *page_line)
        new = self.m.thaw(last)
        new[0] ^= lost
        new_memory = self.m.freeze(new)
        if not any(any(s[b0:b1]) for b0, b1 in blocks) and memory == new_memory:
            return None
        return new_memory


def _register_pages(p) -> list[set[int]]:
    """Every page each register can ever hold a handle of."""
    pages: list[set[int]] = [set() for _ in p.registers]
    for reg, handle in enumerate(p.initial_registers):
        if handle >= 0:
            pages[reg].add(p.handles[handle].page)
    for node in p.nodes:
        if node.kind in ("map", "mmap"):
            pages[node.reg].add(p.handles[node.handle].page)
    changed = True
    while changed:
        changed = False
        for node in p.nodes:
            if node.kind == "move" and not pages[node.reg2] <= pages[node.reg]:
                pages[node.reg] |= pages[node.reg2]
                changed = True
    return pages
