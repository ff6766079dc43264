"""The semantic model of a resolved .flow file: plain frozen dataclasses, no Lark, no Z3.

The resolver (resolve.py) builds these from the syntax tree; every later stage (lower.py,
semantics.py, the engines, the reports) reads only these. Names inside statements are still
names (a page, a mapping variable, a function); the resolver has checked that each one exists
and has the right kind, so later stages may look them up without failing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Union

from checker.front.source import Span

FINDING_KINDS: tuple[str, ...] = (
    "stale_read",
    "lost_write",
    "use_after_unmap",
    "deadlock",
    "redundant_flush",
)
VERDICTS: tuple[str, ...] = ("safe", *FINDING_KINDS)

PageKind = Literal["anon", "file"]
Indexing = Literal["pipt", "vipt", "vivt"]
SpeculativeFill = Literal["no", "yes", "tlb"]
MaintenanceOp = Literal["flush", "writeback", "invalidate", "purge_tlb"]
AliasSetKind = Literal["mapping", "kernel", "user", "all", "every"]
ParamKind = Literal["page", "mapping"]
# `map P colour C`: a number, or one of the words below.
# "same": `mmap(p) at v`, the colour of v's handle (lowering keeps v's register).
ColourSpec = Union[int, Literal["any", "linear", "user", "same"]]


# ---------------------------------------------------------------------------------------------
# Declarations


@dataclass(frozen=True)
class Page:
    """`page NAME [anon|file] [highmem] [words N]`."""

    name: str
    kind: PageKind
    highmem: bool
    words: int
    span: Span
    # `start kernel(P) clean|dirty`: what the linear alias holds at the start (default empty).
    kernel_start: Literal["empty", "clean", "dirty"] = "empty"


@dataclass(frozen=True)
class UserMapping:
    """`mapping NAME = user(PAGE) [colour C]`; colour None means `any` (every colour is tried)."""

    name: str
    page: str
    colour: int | None
    span: Span
    # `start M empty|clean`: what the mapping's lines may hold at the start (default any);
    # `unfaulted`: none, and its page is not faulted in yet (the first access faults).
    start: Literal["empty", "clean", "any", "unfaulted"] = "any"


# ---------------------------------------------------------------------------------------------
# Operands and conditions


@dataclass(frozen=True)
class PageArg:
    """A page passed to a function: a protocol page name, or a page parameter in a fn body."""

    name: str


@dataclass(frozen=True)
class MappingArg:
    """A mapping passed to a function: a declared mapping, a variable, or a mapping parameter."""

    name: str


Arg = Union[PageArg, MappingArg]


@dataclass(frozen=True)
class AliasSet:
    """The target of a micro-operation: `m` (kind mapping), `kernel(p)`, `user(p)`, `all(p)`.

    `name` is the mapping name for kind "mapping" and the page name otherwise. With
    `of_mapping`, `kernel(m)`, `user(m)`, `all(m)` name a mapping: the set is taken on the
    page behind it (the kernel finds the page from the address, as flush_kernel_dcache_page_addr
    and kunmap_high do); that is no use of the handle and loads no TLB entry.
    """

    kind: AliasSetKind
    name: str
    of_mapping: bool = False


@dataclass(frozen=True)
class PagePredicate:
    """`anon(p)`, `file(p)`, `highmem(p)`, `mapped(p)` (a live user mapping of p exists: the
    kernel's mapping_mapped), `faulted(p)` (one of them has its page-table entry: the kernel's
    folio_mapped; only a mapping declared `start M unfaulted` differs). With `of_mapping`,
    `page` names a mapping and the predicate asks about the page behind it (`highmem(m)`)."""

    kind: Literal["anon", "file", "highmem", "mapped", "faulted"]
    page: str
    of_mapping: bool = False


@dataclass(frozen=True)
class FlagTest:
    """`p.FLAG`; with `of_mapping`, `m.FLAG`: the flag of the page behind mapping m."""

    page: str
    flag: str
    of_mapping: bool = False


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class And:
    left: Condition
    right: Condition


@dataclass(frozen=True)
class Or:
    left: Condition
    right: Condition


Condition = Union[PagePredicate, FlagTest, Not, And, Or]


# ---------------------------------------------------------------------------------------------
# Statements. Every statement carries the span of its first token.


@dataclass(frozen=True)
class Call:
    """`NAME(args)` or `result = NAME(args)`: a call of an arch function."""

    function: str
    args: tuple[Arg, ...]
    result: str | None
    span: Span


@dataclass(frozen=True)
class Access:
    """`read M[I]` / `write M[I]`: a CPU load or store of word I through mapping M."""

    kind: Literal["read", "write"]
    mapping: str
    index: int
    span: Span


@dataclass(frozen=True)
class Copy:
    """`copy DST <- SRC`: for every word, read SRC[i] then write DST[i]."""

    dst: str
    src: str
    span: Span


@dataclass(frozen=True)
class Signal:
    event: str
    span: Span


@dataclass(frozen=True)
class Wait:
    event: str
    span: Span


@dataclass(frozen=True)
class Lock:
    name: str
    span: Span


@dataclass(frozen=True)
class Unlock:
    name: str
    span: Span


@dataclass(frozen=True)
class Mmap:
    """`result = mmap(PAGE)`: a user mapping created during the run."""

    result: str
    page: str
    span: Span
    at: str | None = None  # `u = mmap(p) at v`: the mapping whose address (colour) u takes


@dataclass(frozen=True)
class Munmap:
    """`munmap(U)`."""

    mapping: str
    span: Span


@dataclass(frozen=True)
class DmaAccess:
    """`dma_read P[I]` / `dma_write P[I]`."""

    kind: Literal["read", "write"]
    page: str
    index: int
    span: Span


@dataclass(frozen=True)
class Either:
    """`either { ... } or { ... } [or { ... }]`: the checker tries every branch."""

    branches: tuple[tuple[Statement, ...], ...]
    span: Span


@dataclass(frozen=True)
class Repeat:
    """`repeat N { ... }`: N copies of the body."""

    count: int
    body: tuple[Statement, ...]
    span: Span


# Arch-only statements -------------------------------------------------------------------------


@dataclass(frozen=True)
class Maintenance:
    """`flush S`, `writeback S`, `invalidate S`, `purge_tlb S`, with an optional `cost N`."""

    op: MaintenanceOp
    target: AliasSet
    cost: int | None
    span: Span


@dataclass(frozen=True)
class MapOp:
    """`map P colour C`, as `return map ...` or `x = map ...`."""

    page: str
    colour: ColourSpec
    result: str | None
    span: Span
    user_of: str | None = None  # `colour user(q)`: q's live user mappings give the colour


@dataclass(frozen=True)
class Unmap:
    mapping: str
    span: Span


@dataclass(frozen=True)
class SetFlag:
    page: str
    flag: str
    span: Span
    of_mapping: bool = False  # `set m.FLAG`: the page behind mapping m


@dataclass(frozen=True)
class ClearFlag:
    page: str
    flag: str
    span: Span
    of_mapping: bool = False


@dataclass(frozen=True)
class If:
    condition: Condition
    then: tuple[Statement, ...]
    orelse: tuple[Statement, ...]
    span: Span


@dataclass(frozen=True)
class Return:
    """`return [X]` where X is a MapOp, a mapping name (MappingArg) or a Call."""

    value: MapOp | MappingArg | Call | None
    span: Span


Statement = Union[
    Call,
    Access,
    Copy,
    Signal,
    Wait,
    Lock,
    Unlock,
    Mmap,
    Munmap,
    DmaAccess,
    Either,
    Repeat,
    Maintenance,
    MapOp,
    Unmap,
    SetFlag,
    ClearFlag,
    If,
    Return,
]


# ---------------------------------------------------------------------------------------------
# Architectures


@dataclass(frozen=True)
class CacheLevel:
    """`cache NAME INDEXING [colours N] [write_back|write_through] [line_words N] [victim_fill]`."""

    name: str
    indexing: Indexing
    colours: int
    write_back: bool
    line_words: int
    victim_fill: bool
    span: Span


@dataclass(frozen=True)
class Param:
    name: str
    kind: ParamKind


@dataclass(frozen=True)
class Function:
    """An arch API function (`fn`) or hook (`on user_map` / `on user_unmap`).

    `arch` is the arch whose block defines this body (it may be inherited by others).
    """

    name: str
    params: tuple[Param, ...]
    returns_mapping: bool
    body: tuple[Statement, ...]
    arch: str
    span: Span


@dataclass(frozen=True)
class Arch:
    """A fully resolved arch: `extends` has been applied, so every inherited fn is present."""

    name: str
    doc: str
    kernel: str  # the kernel version the model follows (`kernel "v5.0"`), inherited
    levels: tuple[CacheLevel, ...]
    speculative_fill: SpeculativeFill
    dma_coherent: bool
    functions: Mapping[str, Function]
    hooks: Mapping[str, Function]  # keys: "user_map", "user_unmap"
    parent: str | None
    builtin: bool
    span: Span


# ---------------------------------------------------------------------------------------------
# Protocols


@dataclass(frozen=True)
class Thread:
    name: str
    is_device: bool
    body: tuple[Statement, ...]
    span: Span


@dataclass(frozen=True)
class Expect:
    """One `expect K1, K2 on A1, A2` line, split per arch: the kinds expected on `arch`.

    An empty `kinds` means `safe`.
    """

    kinds: frozenset[str]
    arch: str
    span: Span
    # `expect redundant_flush at 12, 14`: the lines of the statements reported redundant
    # must be exactly these (None: any).
    redundant_lines: frozenset[int] | None = None


@dataclass(frozen=True)
class Protocol:
    name: str
    doc: str
    pages: tuple[Page, ...]
    mappings: tuple[UserMapping, ...]
    threads: tuple[Thread, ...]
    expects: tuple[Expect, ...]
    span: Span

    def page(self, name: str) -> Page:
        return next(p for p in self.pages if p.name == name)

    def redundant_lines_on(self, arch: str) -> frozenset[int] | None:
        """`expect redundant_flush at LINES on arch`: the lines pinned, or None."""
        for expect in self.expects:
            if expect.arch == arch and expect.redundant_lines is not None:
                return expect.redundant_lines
        return None

    def expected_on(self, arch: str) -> frozenset[str]:
        """The kinds expected on `arch` (the union of its expect lines; none means safe)."""
        kinds: set[str] = set()
        for expect in self.expects:
            if expect.arch == arch:
                kinds |= expect.kinds
        return frozenset(kinds)


@dataclass(frozen=True)
class Library:
    """Everything the input files define, with the built-in arches: what `check` works on."""

    arches: Mapping[str, Arch]  # by key: the arch's name, or name@path (see scoped())
    protocols: tuple[Protocol, ...]
    user_arches: tuple[str, ...] = field(default=())  # keys of the arches in the given files
    # Per protocol, the keys of the arches that apply to it (`--arch-scope file`: the built-in
    # ones and those of its own file); None: every arch applies to every protocol.
    scopes: tuple[tuple[str, ...], ...] | None = None

    def scope_of(self, index: int) -> tuple[str, ...]:
        """The keys of the arches that apply to protocol `index`: built-in ones first, then
        the user's, each in order of name."""
        if self.scopes is not None:
            return self.scopes[index]
        builtin = sorted(n for n, a in self.arches.items() if a.builtin)
        return (*builtin, *sorted(self.user_arches))
