"""What one thread step does to a flat state: the node handlers, the memory and cache rules,
and maintenance (semantics.py's _execute and everything under it, on flat states).

`Steps` is the half of FlatMachine (checker/engines/explicit/flat.py) that changes a state: its
methods use the layout FlatMachine sets up (offsets, slot positions) and write into a
bytearray (or list) `w`; each returns the finding bits of what it did.
"""

from __future__ import annotations

from collections.abc import Callable

from checker.machine.program import LCond
from checker.machine.state import ENDED, LIVE, MAPPED, UNFAULTED

STALE, UNMAPPED = 1, 2  # finding bits of a thread step
KIND_BITS = ((STALE, "stale_read"), (UNMAPPED, "use_after_unmap"))

Work = bytearray | list  # a state being changed by one step


class Steps:
    """The step rules of FlatMachine (which inherits them)."""

    # -- memory and caches -----------------------------------------------------------------

    def _fetch(self, w: Work, alias: int, colour: int, page: int, line: int, start: int):
        positions = self.alias_positions(alias, colour)
        for level in range(start, self.n_levels):
            pos = positions[level][line]
            if w[pos]:
                return w[pos + 1 : pos + self.SW]
        data = self.zeros(self.LW)
        for offset, i in enumerate(self.layout.line_words(page, line)):
            data[offset] = w[self.MEM + i]
        return data

    def _evict(self, w: Work, pos: int) -> None:
        status = w[pos]
        if not status:
            return
        SW = self.SW
        data = w[pos + 1 : pos + SW]
        w[pos] = 0
        w[pos + 1 : pos + SW] = self.zero_line
        level = self._slot_level[(pos - self.CACHE) // SW]
        if status == 2:
            self._write_out(w, pos, data)
        elif level + 1 < self.n_levels and self.victim_fill[level + 1]:
            outer = self._outer_position(w, pos)
            if w[outer] == 2:
                self._evict(w, outer)
            w[outer] = 1
            w[outer + 1 : outer + SW] = data

    def _write_out(self, w: Work, pos: int, data) -> None:
        slot = (pos - self.CACHE) // self.SW
        info = self.layout.slots[slot]
        SW = self.SW
        for level in range(info.level + 1, self.n_levels):
            pos = self._outer_position(w, pos)
            if self.write_back[level]:
                w[pos] = 2
                w[pos + 1 : pos + SW] = data
                return
            if w[pos]:
                w[pos] = 1
                w[pos + 1 : pos + SW] = data
        MEM = self.MEM
        for offset, i in enumerate(self.layout.line_words(info.page, info.line)):
            w[MEM + i] = data[offset]

    def _observe(self, w: Work, t: int, word: int, value: int) -> int:
        at = self.VIEW + t * self.W + word
        if value < w[at]:
            return STALE
        w[at] = value
        return 0

    def _cpu_read(self, w: Work, t: int, alias: int, colour: int, index: int) -> int:
        page = self._alias_page[alias]
        word = self.layout.word_offset[page] + index
        if not self.n_levels:
            return self._observe(w, t, word, w[self.MEM + word])
        line, offset = divmod(index, self.LW)
        pos = self.alias_positions(alias, colour)[0][line]
        if not w[pos]:
            data = self._fetch(w, alias, colour, page, line, 1)
            w[pos] = 1
            w[pos + 1 : pos + self.SW] = data
        return self._observe(w, t, word, w[pos + 1 + offset])

    def _new_write(self, w: Work, t: int, word: int) -> int:
        value = w[self.CNT] + 1
        w[self.CNT] = value
        w[self.LAST + word] = value
        w[self.VIEW + t * self.W + word] = value
        return value

    def _cpu_write(self, w: Work, t: int, alias: int, colour: int, index: int) -> None:
        page = self._alias_page[alias]
        word = self.layout.word_offset[page] + index
        value = self._new_write(w, t, word)
        line, offset = divmod(index, self.LW)
        positions = self.alias_positions(alias, colour)
        for level in range(self.n_levels):
            pos = positions[level][line]
            if self.write_back[level]:
                if not w[pos]:
                    w[pos + 1 : pos + self.SW] = self._fetch(w, alias, colour, page, line,
                                                             level + 1)
                w[pos] = 2
                w[pos + 1 + offset] = value
                return
            if w[pos]:
                w[pos + 1 + offset] = value
        w[self.MEM + word] = value

    def _live(self, w: Work, reg: int) -> int:
        """UNMAPPED unless register `reg` holds a live handle."""
        handle = w[self.REG + reg] - 1
        return UNMAPPED if handle < 0 or w[self.HST + handle] not in MAPPED else 0

    def _through(self, w: Work, reg: int) -> tuple[int, int, int]:
        """(alias, its colour, finding bits) of an access through register `reg`."""
        kinds = self._live(w, reg)
        handle = w[self.REG + reg] - 1
        alias = self._handle_alias[handle]
        # No page-table entry, no TLB entry (a flush by address through an unfaulted
        # mapping; an access has faulted it in already). No status read without one.
        if not self.has_unfaulted or w[self.HST + handle] != UNFAULTED:
            w[self.TLB + alias] = 1
        return alias, self.alias_colour(w, alias), kinds

    def _access_through(self, w: Work, reg: int) -> tuple[int, int, int]:
        """_through for a load or store: it faults an unfaulted mapping in
        (semantics._access_through). Most programs have none: no status read then."""
        if not self.has_unfaulted:
            return self._through(w, reg)
        status = self.HST + w[self.REG + reg] - 1
        if w[status] == UNFAULTED:
            w[status] = LIVE
        return self._through(w, reg)

    # -- node handlers ---------------------------------------------------------------------

    def _handler(self, node) -> tuple[Callable, Callable | None]:
        """(handler(w, t, colours) -> [(choice, w, bits)], blocked(state) or None)."""
        kind = node.kind
        one = _single
        if kind == "read":
            return one(lambda w, t: self._access(w, t, node, False)), None
        if kind == "write":
            return one(lambda w, t: self._access(w, t, node, True)), None
        if kind == "copy":
            return one(lambda w, t: self._copy(w, t, node)), None
        if kind == "maint":
            return one(lambda w, t: self._maintenance(w, t, node)), None
        if kind == "signal":
            return one(lambda w, t: self._signal(w, t, node.event)), None
        if kind == "wait":
            sigf = self.SIGF + node.event
            return (one(lambda w, t: self._join_into(w, self.VIEW + t * self.W,
                                                     self.SIGV + node.event * self.W)),
                    lambda s: not s[sigf])
        if kind == "lock":
            hold = self.HOLD + node.lock
            return one(lambda w, t: self._lock(w, t, node.lock)), lambda s: s[hold] != 0
        if kind == "unlock":
            return one(lambda w, t: self._unlock(w, t, node.lock)), None
        if kind in ("unmap", "munmap"):
            return one(lambda w, t: self._unmap(w, node)), None
        if kind in ("set", "clear"):
            at = self.FLAG + self.flag_index[(node.page, node.flag)]
            value = int(kind == "set")
            return one(lambda w, t: _store(w, at, value)), None
        if kind == "dma_write":
            return one(lambda w, t: self._dma_write(w, t, node)), None
        if kind == "nop":
            return one(lambda w, t: 0), None
        if kind == "dma_read":
            return (lambda w, t, colours: self._dma_read(w, t, node)), None
        if kind in ("map", "mmap"):
            return (lambda w, t, colours: self._map(w, node, colours)), None
        if kind == "fault":
            reg, handle = self.REG + node.reg, node.handle
            status = self.HST + handle

            def fault(w, t, colours):
                faults = w[reg] == handle + 1 and w[status] == UNFAULTED
                w[self.PC + t] = (node.next[0] if faults else node.next[1]) + 1
                return [(("fault", faults), w, 0)]

            return fault, None
        if kind == "test":
            cond = self._compile_cond(node.cond)

            def test(w, t, colours):
                taken = cond(w)
                w[self.PC + t] = (node.next[0] if taken else node.next[1]) + 1
                return [(("branch", taken), w, 0)]

            return test, None
        if kind in ("move", "choice"):
            return (lambda w, t, colours: [((), w, 0)]), None  # only a start pc; settled
        raise AssertionError(f"unknown node kind {kind}")

    def _access(self, w: Work, t: int, node, write: bool) -> int:
        if not w[self.REG + node.reg]:
            return UNMAPPED  # an unbound register: reported, and the access does not happen
        alias, colour, kinds = self._access_through(w, node.reg)
        if write:
            self._cpu_write(w, t, alias, colour, node.index)
            return kinds
        return kinds | self._cpu_read(w, t, alias, colour, node.index)

    def _copy(self, w: Work, t: int, node) -> int:
        kinds = 0
        for reg in (node.reg, node.reg2):
            if not w[self.REG + reg]:
                kinds = UNMAPPED
        if kinds:
            return kinds
        src, src_colour, k1 = self._access_through(w, node.reg2)
        dst, dst_colour, k2 = self._access_through(w, node.reg)
        kinds = k1 | k2
        for i in range(self.program.pages[self._alias_page[dst]].words):
            kinds |= self._cpu_read(w, t, src, src_colour, i)
            self._cpu_write(w, t, dst, dst_colour, i)
        return kinds

    def _join_into(self, w: Work, dst: int, src: int) -> int:
        for i in range(self.W):
            if w[src + i] > w[dst + i]:
                w[dst + i] = w[src + i]
        return 0

    def _signal(self, w: Work, t: int, event: int) -> int:
        W = self.W
        at, view = self.SIGV + event * W, self.VIEW + t * W
        if w[self.SIGF + event]:
            return self._join_into(w, at, view)
        w[self.SIGF + event] = 1
        w[at : at + W] = w[view : view + W]
        return 0

    def _lock(self, w: Work, t: int, lock: int) -> int:
        w[self.HOLD + lock] = t + 1
        return self._join_into(w, self.VIEW + t * self.W, self.LVIEW + lock * self.W)

    def _unlock(self, w: Work, t: int, lock: int) -> int:
        w[self.HOLD + lock] = 0
        return self._join_into(w, self.LVIEW + lock * self.W, self.VIEW + t * self.W)

    def _unmap(self, w: Work, node) -> int:
        handle = w[self.REG + node.reg] - 1
        kinds = self._live(w, node.reg) if node.kind == "unmap" else 0
        if handle >= 0:
            w[self.HST + handle] = ENDED
        return kinds

    def _dma_write(self, w: Work, t: int, node) -> int:
        word = self.layout.word_offset[node.page] + node.index
        value = self._new_write(w, t, word)
        w[self.MEM + word] = value
        if self.program.arch.dma_coherent:
            line, offset = divmod(node.index, self.LW)
            for pos in self.line_positions[(node.page, line)]:
                if w[pos]:
                    w[pos + 1 + offset] = value
        return 0

    def _dma_read(self, w: Work, t: int, node) -> list:
        word = self.layout.word_offset[node.page] + node.index
        values = [w[self.MEM + word]]
        if self.program.arch.dma_coherent:
            line, offset = divmod(node.index, self.LW)
            dirty = sorted({w[pos + 1 + offset] for pos in self.line_positions[(node.page, line)]
                            if w[pos] == 2})
            values = dirty or values
        out = []
        for value in values:
            w2 = self.thaw(w) if len(values) > 1 else w
            kinds = self._observe(w2, t, word, value)
            out.append((("value", value) if len(values) > 1 else (), w2, kinds))
        return out

    def map_colours(self, w: Work, handle: int) -> list[int]:
        """The colours semantics.py lets `map` give handle `handle` in state `w`."""
        p = self.program
        info = p.handles[handle]
        spec = info.colour
        if spec == "linear" or p.colour_count == 1:
            return [0]
        if isinstance(spec, int):
            return [spec % p.colour_count]
        if spec == "same":
            return [w[self.HCOL + w[self.REG + info.same_as] - 1]]
        if spec == "user":
            of = info.user_of if info.user_of >= 0 else info.page
            live = {w[self.HCOL + h] for h in self.layout.user_handles[of]
                    if w[self.HST + h] in MAPPED}
            if live:
                return sorted(live)
        return list(range(p.colour_count))

    def _map(self, w: Work, node, colours: Callable | None) -> list:
        options = self.map_colours(w, node.handle)
        if colours is not None and len(options) > 1:
            options = colours(w, node.handle, options)
        out = []
        many = len(self.map_colours(w, node.handle)) > 1  # the label names the colour
        for colour in options:
            w2 = self.thaw(w) if len(options) > 1 else w
            w2[self.HST + node.handle] = LIVE
            w2[self.HCOL + node.handle] = colour
            w2[self.REG + node.reg] = node.handle + 1
            out.append((("colour", colour) if many else (), w2, 0))
        return out

    def _compile_cond(self, c: LCond | None) -> Callable:
        assert c is not None
        p = self.program
        if c.op == "pred":
            page = p.pages[c.page]
            users = [self.HST + h for h in self.layout.user_handles[c.page]]
            if c.pred == "mapped":
                return lambda w: any(w[at] in MAPPED for at in users)
            if c.pred == "faulted":
                return lambda w: any(w[at] == LIVE for at in users)
            value = {"anon": page.kind == "anon", "file": page.kind == "file",
                     "highmem": page.highmem}[c.pred]
            return lambda w: value
        if c.op == "flag":
            at = self.FLAG + self.flag_index[(c.page, c.flag)]
            return lambda w: bool(w[at])
        left = self._compile_cond(c.left)
        if c.op == "not":
            return lambda w: not left(w)
        right = self._compile_cond(c.right)
        if c.op == "and":
            return lambda w: left(w) and right(w)
        return lambda w: left(w) or right(w)

    # -- maintenance -----------------------------------------------------------------------

    def _note_order(self, w: Work, positions: list[int], target: str) -> None:
        """Note if writing these slots back in another order could leave something else in
        memory: two dirty copies of one physical line holding different words.

        semantics.py writes them in slot order, level by level: colour order for `all(p)` on
        a VIPT level, alias order for `all(p)` on a VIVT level, handle order for `user(p)`;
        the symmetry reductions do not respect the one that applies (symmetry.py). With one
        level only two copies at that level can race, and which order applies is known.
        With several, a copy written out of one level lands in the next at its own colour
        and races there with the copies already there, so two differing copies at any two
        levels count (both symmetries are given up), unless one of them is on a PIPT level,
        where every copy of the line lands in one slot, in level order, whatever the names."""
        seen: dict[tuple[int, int], list[tuple[int, bytes | tuple]]] = {}
        levels = self.program.levels
        for pos in positions:
            if w[pos] != 2:
                continue
            info = self.layout.slots[(pos - self.CACHE) // self.SW]
            data = bytes(w[pos + 1 : pos + self.SW]) if self.thaw is bytearray \
                else tuple(w[pos + 1 : pos + self.SW])
            others = seen.setdefault((info.page, info.line), [])
            for level, other in others:
                if other == data:
                    continue
                if self.n_levels == 1:
                    if target == "all" and levels[level].indexing == "vipt":
                        self.order_colour = True
                    else:
                        self.order_thread = True
                elif level == info.level or "pipt" not in (levels[level].indexing,
                                                           levels[info.level].indexing):
                    self.order_colour = self.order_thread = True
            others.append((info.level, data))

    def _targets(self, w: Work, node) -> tuple[list[int], list[int], int]:
        """(aliases, slot positions in level order, finding bits) a maintenance node acts on
        (semantics.py _target_slots)."""
        p = self.program
        reg_handle = w[self.REG + node.reg] - 1 if node.reg >= 0 else -1
        kinds = 0
        if node.target == "mapping" and node.op == "purge_tlb":
            return ([self._handle_alias[reg_handle]] if reg_handle >= 0 else []), [], 0
        if node.target == "mapping":
            if reg_handle >= 0:
                alias, _, kinds = self._through(w, node.reg)
                aliases = [alias]
            else:
                aliases, kinds = [], UNMAPPED
            page = self._alias_page[aliases[0]] if aliases else -1
        else:
            page = node.page
            if page < 0:
                if reg_handle < 0:
                    return [], [], 0
                page = p.handles[reg_handle].page
            if node.target == "kernel":
                aliases = [] if p.pages[page].highmem else [page]
            elif node.target == "user":
                aliases = [self._handle_alias[h] for h in self.layout.user_handles[page]
                           if w[self.HST + h] in MAPPED]
            else:
                return list(self.layout.page_aliases[page]), list(self.page_positions[page]), 0
        positions: list[int] = []
        for level in range(self.n_levels):
            for alias in aliases:
                for pos in self.alias_positions(alias, self.alias_colour(w, alias))[level]:
                    if pos not in positions:
                        positions.append(pos)
        return aliases, positions, kinds

    def _maintenance(self, w: Work, t: int, node) -> int:
        aliases, positions, kinds = self._targets(w, node)
        op = node.op
        if op == "purge_tlb":
            for alias in aliases:
                w[self.TLB + alias] = 0
            return kinds
        SW = self.SW
        if op in ("writeback", "flush"):
            if len(positions) > 1 and not (self.order_colour and self.order_thread):
                self._note_order(w, positions, node.target)
            for pos in positions:
                if w[pos] == 2:
                    data = w[pos + 1 : pos + SW]
                    self._evict(w, pos)
                    if op == "writeback":
                        w[pos] = 1
                        w[pos + 1 : pos + SW] = data
        if op in ("invalidate", "flush"):
            for pos in positions:
                w[pos] = 0
                w[pos + 1 : pos + SW] = self.zero_line
        return kinds


def _single(step: Callable) -> Callable:
    """A handler with one outcome, from a function that changes w and returns finding bits."""
    return lambda w, t, colours: [((), w, step(w, t))]


def _store(w: Work, at: int, value: int) -> int:
    w[at] = value
    return 0
