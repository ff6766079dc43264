"""Colour symmetry: states that differ only by a renaming of interchangeable colours.

A colour is *fixed* when something in the program can tell it from the others: colour 0 (the
linear alias of every page) and every colour the protocol or the arch names (`colour N`).
The other colours are *free*. Renaming free colours by a permutation, in every handle's colour
and in the keys of every VIPT slot, maps executions to executions with the same findings
(docs/engines.md, "Colour symmetry", gives the argument), so the search keeps one state per
orbit: the one whose free colours appear, in handle order, as the smallest free colours in
increasing order. `map ... colour any` then only needs to try the fixed colours, the free
colours already in use, and one new free colour; the start states likewise.

It applies when every VIPT level has the program's full colour count (a level with fewer
colours would see two colours as one, and a renaming could split them).

One rule of semantics.py breaks them: a flush that writes back several dirty copies of one
physical line at one level writes them in slot order (colour order for `all(p)` on a VIPT
level, which breaks colour symmetry; handle or alias order otherwise, which breaks thread
symmetry), and with different words in them, the last one decides memory. The flat machine
notes every such step (`FlatMachine.order_colour`, `order_thread`); a search that meets one
is run again without the symmetry it breaks (checker/engines/explicit/search.py).
"""

from __future__ import annotations

import itertools
import operator

from checker.engines.explicit.flat import FlatMachine, Work
from checker.machine.state import UNBORN


class ColourSymmetry:
    def __init__(self, m: FlatMachine) -> None:
        p = m.program
        self.m = m
        count = p.colour_count
        fixed = {0} | {h.colour % count for h in p.handles if isinstance(h.colour, int)}
        self.free = [c for c in range(count) if c not in fixed]
        self.fixed = sorted(fixed)
        vipt = [i for i, lv in enumerate(p.levels) if lv.indexing == "vipt"]
        self.active = (
            len(self.free) >= 2
            and all(p.levels[i].colours == count for i in vipt)
        )
        lay = m.layout
        # Per VIPT level and physical line: the position of its colour-0 slot.
        self.blocks = [
            m.CACHE + lay.slot(level, page, line, 0) * m.SW
            for level in vipt
            for page in range(len(p.pages))
            for line in range(p.lines(page))
        ]
        self.count = count
        self.is_free = [c not in fixed for c in range(count)]
        self._renames: dict = {}  # handle statuses and colours -> renaming, or None

    def _used(self, s) -> list[int]:
        """The free colours of born handles, in order of first appearance by handle."""
        m = self.m
        seen: list[int] = []
        is_free = self.is_free
        n = len(m.program.handles)
        for status, c in zip(s[m.HST : m.HST + n], s[m.HCOL : m.HCOL + n], strict=True):
            if status != UNBORN and is_free[c] and c not in seen:
                seen.append(c)
        return seen

    def canonical(self, s):
        """The representative of the orbit of `s`."""
        m = self.m
        handles = s[m.HST : m.HCOL + len(m.program.handles)]  # statuses, then colours
        rename = self._renames.get(handles, 0)
        if rename == 0:
            rename = self._renames[handles] = self._rename(s)
        if rename is None:
            return s
        w: Work = m.thaw(s)
        for h in range(len(m.program.handles)):
            if s[m.HST + h] != UNBORN:
                w[m.HCOL + h] = rename[s[m.HCOL + h]]
        SW = m.SW
        for base in self.blocks:
            for c in self.free:
                src = base + c * SW
                dst = base + rename[c] * SW
                w[dst : dst + SW] = s[src : src + SW]
        return m.freeze(w)

    def _rename(self, s) -> list[int] | None:
        """The renaming of colours that takes `s` to its representative (None: none)."""
        used = self._used(s)
        free = self.free
        if all(c == free[i] for i, c in enumerate(used)):
            return None
        rename = list(range(self.count))
        new = {c: free[i] for i, c in enumerate(used)}
        # Free colours no handle has hold no lines; send them anywhere that keeps `rename`
        # a permutation.
        targets = set(new.values())
        leftover = iter([c for c in free if c not in targets])
        for c in free:
            rename[c] = new[c] if c in new else next(leftover)
        return rename

    def map_colours(self, w: Work, handle: int, options: list[int]) -> list[int]:
        """Of the colours `map` may give, one per orbit: the fixed ones, the free ones in
        use, and the first unused free colour."""
        used = set(self._used(w))
        fresh = next((c for c in self.free if c not in used), None)
        return [c for c in options if not self.is_free[c] or c in used or c == fresh]

    def start_colourings(self, choices: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        """Of the start colourings (per handle, its possible colours), one per orbit."""
        out: list[tuple[int, ...]] = [()]
        for options in choices:
            nxt = []
            for prefix in out:
                used = [c for c in prefix if self.is_free[c]]
                fresh = next((c for c in self.free if c not in used), None)
                for c in options:
                    if not self.is_free[c] or c in used or c == fresh:
                        nxt.append((*prefix, c))
            out = nxt
        return out


class ThreadSymmetry:
    """Interchangeable threads: threads whose control graphs are the same node for node,
    up to a renaming of what only they use (their registers, the handles their `map` and
    `mmap` sites make, declared mappings no other thread names, and those handles'
    aliases). Permuting such threads, with what they own, in a state maps executions to
    executions with the same findings (docs/engines.md, "Thread symmetry").

    A state is normalised by sorting each class of interchangeable threads by what the
    thread owns in it (its pc, view, registers, handles, TLB entries and VIVT lines), in
    coordinates relative to the thread."""

    def __init__(self, m: FlatMachine) -> None:
        self.m = m
        p = m.program
        owner = _node_threads(p)
        reg_users: dict[int, set[int]] = {}
        for pc, node in enumerate(p.nodes):
            same_as = p.handles[node.handle].same_as if node.kind == "mmap" else -1
            for reg in (node.reg, node.reg2, same_as):  # `mmap(p) at v` reads v's register
                if reg >= 0:
                    reg_users.setdefault(reg, set()).add(owner[pc])
        self.owned_regs = {r: next(iter(ts)) for r, ts in reg_users.items() if len(ts) == 1}
        handle_owner: dict[int, int] = {}
        for pc, node in enumerate(p.nodes):
            if node.kind in ("map", "mmap"):
                handle_owner[node.handle] = owner[pc]
        for reg, t in self.owned_regs.items():
            if p.initial_registers[reg] >= 0:
                handle_owner[p.initial_registers[reg]] = t
        self.handle_owner = handle_owner
        # Each class of interchangeable threads, its first member standing for it.
        self.classes: list[list[_Member]] = []
        for t in range(len(p.threads)):
            member = _Member(p, t, self)
            for members in self.classes:
                if members[0].matches(member):
                    members.append(member)
                    break
            else:
                self.classes.append([member])
        self.classes = [c for c in self.classes if len(c) > 1]
        self.active = bool(self.classes)
        for members in self.classes:
            for member in members:
                member.finish(m)

    def image_pcs(self, pc: int) -> list[int]:
        """The nodes that play `pc`'s part in the threads interchangeable with its own."""
        for members in self.classes:
            for member in members:
                if pc in member.index_of:
                    k = member.index_of[pc]
                    return [other.order[k] for other in members]
        return [pc]

    def canonical(self, s):
        orders = []
        for members in self.classes:
            sigs = [member.signature(s) for member in members]
            if all(sigs[i] <= sigs[i + 1] for i in range(len(sigs) - 1)):
                orders.append(None)
            else:
                orders.append(sorted(range(len(members)), key=sigs.__getitem__))
        if all(order is None for order in orders):
            return s
        return self._permute(s, orders)

    def permutations(self, s):
        """`s` with the threads of each class in every order (for rebuilding witnesses)."""
        per_class = [list(itertools.permutations(range(len(members))))
                     for members in self.classes]
        for orders in itertools.product(*per_class):
            yield self._permute(s, list(orders))

    def _permute(self, s, orders: list) -> bytes | tuple:
        """`s` with, in each class, member `dest` taking what member orders[c][dest] owns."""
        w = self.m.thaw(s)
        HOLD = self.m.HOLD
        moved = {}
        for members, order in zip(self.classes, orders, strict=True):
            if order is None:
                continue
            sigs = [member.signature(s) for member in members]
            for dest, src in enumerate(order):
                members[dest].store(w, sigs[src])
                moved[members[src].thread] = members[dest].thread
        for lock in range(len(self.m.program.locks)):
            holder = s[HOLD + lock] - 1
            if holder in moved:
                w[HOLD + lock] = moved[holder] + 1
        return self.m.freeze(w)


class _Member:
    """One thread of a class: its nodes in walk order and the state positions it owns."""

    def __init__(self, p, t: int, sym: ThreadSymmetry) -> None:
        self.thread = t
        self.p = p
        order: list[int] = []
        seen: set[int] = set()
        stack = [p.threads[t].entry]
        while stack:  # depth first, successors in order: the same shape gives the same order
            pc = stack.pop()
            if pc < 0 or pc in seen:
                continue
            seen.add(pc)
            order.append(pc)
            stack.extend(reversed(p.nodes[pc].next))
        self.order = order
        self.index_of = {pc: k for k, pc in enumerate(order)}
        self.regs: list[int] = []  # owned registers, in order of first mention
        self.handles: list[int] = []  # owned handles, likewise
        for pc in order:
            node = p.nodes[pc]
            for reg in (node.reg, node.reg2):
                if reg >= 0 and sym.owned_regs.get(reg) == t and reg not in self.regs:
                    self.regs.append(reg)
                    h = p.initial_registers[reg]
                    if h >= 0 and sym.handle_owner.get(h) == t and h not in self.handles:
                        self.handles.append(h)
            if node.kind in ("map", "mmap") and node.handle not in self.handles:
                self.handles.append(node.handle)

    def _shape(self, pc: int):
        """What a node is, with its own registers and handles as positions in this member."""
        n = self.p.nodes[pc]

        def reg(r: int):
            return ("own", self.regs.index(r)) if r in self.regs else ("global", r)

        handle = None
        if n.handle >= 0:
            info = self.p.handles[n.handle]
            # `colour user(q)` and `mmap(p) at v` read q's mappings or v's register.
            same = reg(info.same_as) if info.same_as >= 0 else None
            # A fault node names a declared mapping, which may be shared (global).
            own = (self.handles.index(n.handle) if n.handle in self.handles
                   else ("global", n.handle))
            handle = (own, info.page, info.user, info.colour, info.user_of, same)
        nxt = tuple(self.index_of.get(x, -1) for x in n.next)
        return (n.kind, nxt, reg(n.reg) if n.reg >= 0 else None,
                reg(n.reg2) if n.reg2 >= 0 else None, n.page, n.index, n.event, n.lock,
                n.op, n.target, n.cost, handle, n.flag, n.cond)

    def _declared(self):
        out = []
        for r in self.regs:
            h = self.p.initial_registers[r]
            if h >= 0:
                info = self.p.handles[h]
                # Its `start` too: swapping mappings that start differently is no symmetry.
                out.append((self.regs.index(r), self.handles.index(h) if h in self.handles
                            else ("global", h), info.page, info.colour, info.start))
        return out

    def matches(self, other: _Member) -> bool:
        p = self.p
        if p.threads[self.thread].is_device != p.threads[other.thread].is_device:
            return False
        if len(self.order) != len(other.order) or len(self.regs) != len(other.regs):
            return False
        if len(self.handles) != len(other.handles) or self._declared() != other._declared():
            return False
        return all(self._shape(a) == other._shape(b)
                   for a, b in zip(self.order, other.order, strict=True))

    def finish(self, m: FlatMachine) -> None:
        """The positions this member owns, and the tables turning its values into values
        relative to it (and back)."""
        p = self.p
        aliases = [p.handles[h].alias for h in self.handles
                   if p.handles[h].alias >= len(p.pages)]
        positions = [m.PC + self.thread]
        to_rel: list = [[0] + [self.index_of.get(pc, -1) + 1 for pc in range(len(p.nodes))]]
        positions += [m.VIEW + self.thread * m.W + i for i in range(m.W)]
        to_rel += [None] * m.W
        n_handles = len(p.handles)
        handle_rel = [0] * (n_handles + 1)
        for h in range(n_handles):
            handle_rel[h + 1] = (1 + self.handles.index(h) if h in self.handles
                                 else 1 + len(self.handles) + h)
        for r in self.regs:
            positions.append(m.REG + r)
            to_rel.append(handle_rel)
        for h in self.handles:
            positions += [m.HST + h, m.HCOL + h]
            to_rel += [None, None]
        for a in aliases:
            positions.append(m.TLB + a)
            to_rel.append(None)
        lay = m.layout
        for level, info in enumerate(p.levels):
            if info.indexing != "vivt":
                continue
            for a in aliases:
                for page_line in range(p.lines(p.aliases[a].page)):
                    slot = lay.slot(level, p.aliases[a].page, page_line, a)
                    base = m.CACHE + slot * m.SW
                    positions += range(base, base + m.SW)
                    to_rel += [None] * m.SW
        self.positions = positions
        self.to_rel = to_rel
        self.from_rel = [None if table is None else _inverse(table) for table in to_rel]
        self._get = operator.itemgetter(*positions) if len(positions) > 1 else \
            (lambda s, at=positions[0]: (s[at],))
        self._translated = [(k, table) for k, table in enumerate(to_rel) if table is not None]

    def signature(self, s) -> tuple:
        """The values this member owns, in positions relative to it."""
        values = list(self._get(s))
        for k, table in self._translated:
            values[k] = table[values[k]]
        return tuple(values)

    def store(self, w: Work, sig: tuple) -> None:
        for pos, table, value in zip(self.positions, self.from_rel, sig, strict=True):
            w[pos] = value if table is None else table[value]


def _inverse(table: list[int]) -> dict[int, int]:
    inverse: dict[int, int] = {}
    for value, rel in enumerate(table):
        inverse.setdefault(rel, value)  # pcs of other threads all read 0; END comes first
    return inverse



def _node_threads(p) -> list[int]:
    """The thread each node belongs to."""
    owner = [-1] * len(p.nodes)
    for t, thread in enumerate(p.threads):
        stack = [thread.entry]
        while stack:
            pc = stack.pop()
            if pc < 0 or owner[pc] >= 0:
                continue
            owner[pc] = t
            stack.extend(p.nodes[pc].next)
    return owner
