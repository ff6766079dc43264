"""The lowered program: one protocol on one arch, as control graphs of machine steps.

lower.py builds it; semantics.py runs it. Everything is numbered (pages, handles, aliases,
registers, slots) so that a machine state is a tuple of small integers.

- A *handle* is one `map`/`mmap` site after inlining and unrolling, or a declared mapping.
  Threads are loop-free, so each site runs at most once per execution.
- An *alias* is a virtual address of a page: the page's linear alias, or the alias of one
  non-linear handle. Caches index lines by alias (VIVT), by its colour (VIPT) or not (PIPT).
- A *register* holds a handle: a declared mapping, a thread's variable, or a function's
  local or result variable (one per inlined call).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from checker.front import model
from checker.front.source import Span

END = -1  # the pc of a finished thread


@dataclass(frozen=True)
class LCond:
    """A lowered condition: `op` is pred/flag/not/and/or."""

    op: str
    pred: str = ""  # anon, file, highmem, mapped, faulted (op == "pred")
    page: int = -1
    reg: int = -1  # `highmem(m)`, `m.FLAG` while lowering: m's register, until its page is known
    flag: str = ""
    left: LCond | None = None
    right: LCond | None = None


def used_flags(nodes: Sequence[Node]) -> set[tuple[int, str]]:
    """The (page, flag) pairs a program sets, clears or tests: the flags its states carry."""
    found = {(n.page, n.flag) for n in nodes if n.kind in ("set", "clear")}
    for n in nodes:
        if n.kind == "test":
            found |= cond_flags(n.cond)
    return found


def cond_flags(c: LCond | None) -> set[tuple[int, str]]:
    """The (page, flag) pairs a condition tests (iteratively: conditions nest freely)."""
    found: set[tuple[int, str]] = set()
    stack = [c]
    while stack:
        c = stack.pop()
        if c is None:
            continue
        if c.op == "flag":
            found.add((c.page, c.flag))
        stack.extend((c.left, c.right))
    return found


@dataclass(frozen=True)
class Node:
    """One step of a thread (or, for kind "choice"/"move", a silent control node).

    Kinds and the fields they use:
      read, write (reg, index); copy (reg=dst, reg2=src); dma_read, dma_write (page, index);
      signal, wait (event); lock, unlock (lock); maint (op, target, page|reg, cost);
      map (handle, reg=destination); mmap (handle, reg) [creates the user mapping];
      fault (handle, reg) [before an access through an unfaulted mapping, on an arch whose
      `on user_map` does something: if `reg` holds `handle` and it is still UNFAULTED, to
      next[0] (the hook, then the access), else to next[1] (the access)]. The access itself
      makes an UNFAULTED handle LIVE (the page-table entry exists once it has run);
      munmap (reg) [removes it]; unmap (reg); set, clear (page, flag); test (cond);
      nop (a call with no effect); choice (next = branches); move (reg=dst, reg2=src).
    `next` holds one successor, two for test (true, false) and fault, several for choice.
    `origin` is the span of the protocol statement this step belongs to; `span` its own.
    """

    kind: str
    span: Span
    origin: Span
    next: tuple[int, ...]
    reg: int = -1
    reg2: int = -1
    page: int = -1
    index: int = 0
    event: int = -1
    lock: int = -1
    op: str = ""
    target: str = ""  # mapping, kernel, user, all
    cost: int | None = None
    handle: int = -1
    flag: str = ""
    cond: LCond | None = None
    text: str = ""  # how the trace names the step, e.g. "flush kernel(log)"
    via: tuple[str, ...] = ()  # the calls (and hooks, "on user_unmap") this step is inside
    # Inside arch code: the call statements (and hook definitions) between the protocol
    # statement and this step, outermost first.
    sites: tuple[Span, ...] = ()
    # Runs inside a page fault (the `on user_map` of an unfaulted mapping's first access):
    # the handle faulted in. The arch's work, which no protocol statement can leave out, so
    # never a candidate of the redundancy analysis; the handle tells the trace's explanation
    # which fault of a statement (`copy ua <- ub` may fault both) a step belongs to.
    fault_of: int = -1

    @property
    def in_fault(self) -> bool:
        return self.fault_of >= 0

    @property
    def candidate(self) -> bool:
        """Maintenance the redundancy analysis may drop: the protocol's, not a page
        fault's (the arch's)."""
        return self.kind == "maint" and self.fault_of < 0

    @property
    def unit(self) -> tuple[Span, ...]:
        """What the redundancy analysis can drop this step's maintenance as part of: the
        protocol statement, each nested call or hook on the way, the micro-operation itself
        (each prefix of this path is a unit)."""
        return (self.origin, *self.sites, self.span)


@dataclass(frozen=True)
class PageInfo:
    name: str
    kind: str
    highmem: bool
    words: int
    kernel_start: str = "empty"  # `start kernel(P) clean|dirty`


@dataclass(frozen=True)
class HandleInfo:
    """A handle site. `user` is true for declared mappings and mmap sites."""

    name: str
    page: int
    user: bool
    colour: model.ColourSpec | None  # None: a declared mapping with `colour any`
    declared: bool
    alias: int
    start: str = "any"  # a declared mapping's `start`: empty, clean, any or unfaulted
    user_of: int = -1  # `colour user(q)`: the page whose live user mappings give the colour
    same_as: int = -1  # `mmap(p) at v` (colour "same"): the register holding v


@dataclass(frozen=True)
class AliasInfo:
    page: int
    handle: int  # -1 for the linear alias
    name: str


@dataclass(frozen=True)
class ThreadCode:
    """A thread: its first node in Program.nodes (each node belongs to one thread)."""

    name: str
    is_device: bool
    entry: int


@dataclass(frozen=True)
class Level:
    name: str
    indexing: str
    colours: int
    write_back: bool
    victim_fill: bool


@dataclass(frozen=True)
class Program:
    protocol: model.Protocol
    arch: model.Arch
    pages: tuple[PageInfo, ...]
    handles: tuple[HandleInfo, ...]
    aliases: tuple[AliasInfo, ...]
    nodes: tuple[Node, ...]  # every thread's nodes, in one numbering
    registers: tuple[str, ...]  # display names
    initial_registers: tuple[int, ...]  # register -> handle (-1: unbound)
    threads: tuple[ThreadCode, ...]
    events: tuple[str, ...]
    locks: tuple[str, ...]
    levels: tuple[Level, ...]
    line_words: int
    colour_count: int  # colours a handle can take: the largest VIPT count, or 1
    # The page flags the start may have (machine/start_flags.py); usually one set.
    start_flags: tuple[frozenset[tuple[int, str]], ...] = (frozenset(),)

    def lines(self, page: int) -> int:
        words = self.pages[page].words
        return -(-words // self.line_words)

    @property
    def total_lines(self) -> int:
        return sum(self.lines(page) for page in range(len(self.pages)))

    def slots_per_line(self, level: Level) -> int:
        """The lines a level keeps per physical line: one (PIPT), one per colour (VIPT), one
        per alias (VIVT)."""
        return {"pipt": 1, "vipt": level.colours, "vivt": len(self.aliases)}[level.indexing]

    def word_offset(self, page: int) -> int:
        """Index of the page's first word in the flat memory tuple."""
        return sum(p.words for p in self.pages[:page])

    @property
    def total_words(self) -> int:
        return sum(p.words for p in self.pages)
