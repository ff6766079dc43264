"""The machine state and the cache geometry of one Program.

A state is a frozen dataclass of tuples of small integers, so it hashes and compares fast.
The geometry (`Layout`) numbers every cache slot: a slot is one line of one page at one level,
keyed by colour (VIPT), by alias (VIVT) or by nothing (PIPT).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from checker.machine.program import HandleInfo, Program

UNBORN, LIVE, ENDED = 0, 1, 2
# A declared mapping that starts `unfaulted`: it exists (the kernel's mapping_mapped sees its
# VMA) but its page has no page-table entry yet; the first access through it faults, which
# makes it LIVE. Everywhere but the fault, the speculative fills and `faulted(p)`, it counts
# as live.
UNFAULTED = 3
MAPPED = (LIVE, UNFAULTED)


def start_status(handle: HandleInfo) -> int:
    """A handle's status at the start: declared mappings exist, the others are not made."""
    if not handle.declared:
        return UNBORN
    return UNFAULTED if handle.start == "unfaulted" else LIVE

# A cache line: (dirty, words). None is an absent line.
Line = tuple[bool, tuple[int, ...]]


@dataclass(frozen=True)
class State:
    pcs: tuple[int, ...]  # per thread: node id, or END
    regs: tuple[int, ...]  # per register: handle id, or -1
    hstat: tuple[int, ...]  # per handle: UNBORN, LIVE, ENDED, UNFAULTED
    hcol: tuple[int, ...]  # per handle: colour
    tlb: tuple[bool, ...]  # per alias: TLB entry present
    cache: tuple[Line | None, ...]  # per slot
    mem: tuple[int, ...]  # per word (flat over pages): write id
    last: tuple[int, ...]  # per word: the newest write id made to it
    flags: frozenset[tuple[int, str]]  # (page, flag) set
    views: tuple[tuple[int, ...], ...]  # per thread, per word: newest write id known
    signals: tuple[tuple[int, ...] | None, ...]  # per event: joined view, None if never signalled
    holders: tuple[int, ...]  # per lock: thread holding it, or -1
    lock_views: tuple[tuple[int, ...], ...]  # per lock: view released with it
    counter: int  # write ids made so far


@dataclass(frozen=True)
class SlotInfo:
    level: int
    page: int
    line: int
    key: int  # colour (VIPT), alias (VIVT), 0 (PIPT)


class Layout:
    """Slot numbering and the static facts the semantics looks up on every step."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.line_offset: list[int] = []
        total = 0
        for page in range(len(program.pages)):
            self.line_offset.append(total)
            total += program.lines(page)
        self.total_lines = total
        self.word_offset = [program.word_offset(p) for p in range(len(program.pages))]
        self.level_base: list[int] = []
        self.level_width: list[int] = []
        slots: list[SlotInfo] = []
        for index, level in enumerate(program.levels):
            width = program.slots_per_line(level)
            self.level_base.append(len(slots))
            self.level_width.append(width)
            for page in range(len(program.pages)):
                for line in range(program.lines(page)):
                    for key in range(width):
                        slots.append(SlotInfo(index, page, line, key))
        self.slots = tuple(slots)
        self.page_slots = tuple(
            tuple(i for i, s in enumerate(slots) if s.page == page)
            for page in range(len(program.pages))
        )
        self.line_slots = {
            (page, line): tuple(i for i, s in enumerate(slots) if (s.page, s.line) == (page, line))
            for page in range(len(program.pages))
            for line in range(program.lines(page))
        }
        self.page_aliases = tuple(
            tuple(a for a, info in enumerate(program.aliases) if info.page == page)
            for page in range(len(program.pages))
        )
        self.user_handles = tuple(
            tuple(h for h, info in enumerate(program.handles) if info.user and info.page == page)
            for page in range(len(program.pages))
        )

    def slot(self, level: int, page: int, line: int, key: int) -> int:
        width = self.level_width[level]
        return self.level_base[level] + (self.line_offset[page] + line) * width + key

    def alias_colour(self, hcol: Sequence[int], alias: int) -> int:
        """The colour of an alias, given the handles' colours (the linear alias has 0)."""
        handle = self.program.aliases[alias].handle
        return 0 if handle < 0 else hcol[handle]

    def alias_slot(self, hcol: Sequence[int], level: int, alias: int, line: int) -> int:
        """The slot an access through `alias` uses at `level` (`hcol`: handle colours)."""
        page = self.program.aliases[alias].page
        indexing = self.program.levels[level].indexing
        if indexing == "pipt":
            key = 0
        elif indexing == "vipt":
            key = self.alias_colour(hcol, alias) % self.level_width[level]
        else:
            key = alias
        return self.slot(level, page, line, key)

    def outer_slot(self, hcol: Sequence[int], slot: int) -> int:
        """Where a line leaving `slot` goes one level out (the next level must exist).

        The resolver guarantees VIVT levels are innermost and that an outer VIPT level's
        colour count divides the inner one's, so the translation is well defined.
        """
        info = self.slots[slot]
        outer = info.level + 1
        indexing = self.program.levels[outer].indexing
        if indexing == "pipt":
            key = 0
        elif indexing == "vivt":
            key = info.key
        elif self.program.levels[info.level].indexing == "vivt":
            key = self.alias_colour(hcol, info.key) % self.level_width[outer]
        else:
            key = info.key % self.level_width[outer]
        return self.slot(outer, info.page, info.line, key)

    def line_words(self, page: int, line: int) -> range:
        """Flat memory indices of the words of one line (the last line may be short)."""
        lw = self.program.line_words
        first = line * lw
        last = min(first + lw, self.program.pages[page].words)
        base = self.word_offset[page]
        return range(base + first, base + last)
