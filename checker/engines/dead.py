"""Dead lines: physical lines no thread will touch again, reduced to what they still decide.

A line is *dead* in a state when no node reachable from any thread's pc can read, write,
flush, map or unmap anything of it (registers are resolved to every page they can ever hold).
From then on only environment events could change it, and the search defers those to steps
that touch the line (explicit.py), so they never run: its content is frozen until the end of
the run, where it decides one thing, whether draining its dirty copies can lose a last write.
So every dead line is rewritten to one of two contents: no copy cached and memory holding its
last writes (nothing lost), or the same with the first word's memory changed (lost).
docs/engines.md, "Dead lines", gives the argument. Only for one cache level, where the
lost-write check of a line is local (FlatMachine.lost).
"""

from __future__ import annotations

from checker.engines.flat import FlatMachine


class DeadLines:
    def __init__(self, m: FlatMachine) -> None:
        self.m = m
        p = m.program
        self.active = m.n_levels == 1 and m.freeze is bytes
        pages = _register_pages(p)
        lay = m.layout
        n_lines = lay.total_lines

        def page_mask(page: int) -> int:
            first = lay.line_offset[page]
            return ((1 << p.lines(page)) - 1) << first

        def touched(node) -> int:
            mask = 0
            kind = node.kind
            regs = [r for r in (node.reg, node.reg2) if r >= 0]
            if kind in ("read", "write"):
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
        self.lines = sorted(
            (lay.line_offset[page] + line, positions, tuple(lay.line_words(page, line)))
            for (page, line), positions in m.line_positions.items()
        )

    def canonical(self, s):
        m = self.m
        live = 0
        future = self.future
        for pcv in s[m.PC : m.PC + m.n_threads]:
            live |= future[pcv]
        dead = self.all_lines & ~live
        if not dead:
            return s
        w = None
        MEM, LAST, SW = m.MEM, m.LAST, m.SW
        for index, positions, words in self.lines:
            if not dead >> index & 1:
                continue
            dirty = [pos for pos in positions if s[pos] == 2]
            if dirty:
                lost = any(s[pos + 1 + k] != s[LAST + i]
                           for pos in dirty for k, i in enumerate(words))
            else:
                lost = any(s[MEM + i] != s[LAST + i] for i in words)
            if not any(s[pos] for pos in positions) and \
                    all(s[MEM + i] == s[LAST + i] ^ (lost and k == 0)
                        for k, i in enumerate(words)):
                continue  # already in its reduced form
            if w is None:
                w = m.thaw(s)
            for pos in positions:
                w[pos : pos + SW] = bytes(SW)
            for k, i in enumerate(words):
                w[MEM + i] = s[LAST + i] ^ (lost and k == 0)
        return s if w is None else m.freeze(w)


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
