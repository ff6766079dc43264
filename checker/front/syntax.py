"""The syntax tree of a .flow file: frozen dataclasses mirroring grammar/flow.lark.

Nothing here is checked yet (names may be unknown, numbers out of range): resolve.py does that
and builds the model. Every node carries the span of its first token, and every name and number
its own span, so an error can point at the exact word that is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

from checker.front.source import Span


@dataclass(frozen=True)
class Name:
    text: str
    span: Span


@dataclass(frozen=True)
class Number:
    value: int
    span: Span


@dataclass(frozen=True)
class Word:
    """A keyword chosen from a fixed set (`anon`, `write_back`, `yes`, ...), where it was."""

    text: str
    span: Span


# ---------------------------------------------------------------------------------------------
# Conditions


@dataclass(frozen=True)
class PredicateCond:
    """`anon(p)`, `file(p)`, `highmem(p)`, `mapped(p)`, `faulted(p)`."""

    kind: Literal["anon", "file", "highmem", "mapped", "faulted"]
    page: Name
    span: Span


@dataclass(frozen=True)
class FlagCond:
    """`p.FLAG`."""

    page: Name
    flag: Name
    span: Span


@dataclass(frozen=True)
class NotCond:
    operand: Cond
    span: Span


@dataclass(frozen=True)
class AndCond:
    left: Cond
    right: Cond
    span: Span


@dataclass(frozen=True)
class OrCond:
    left: Cond
    right: Cond
    span: Span


Cond = Union[PredicateCond, FlagCond, NotCond, AndCond, OrCond]


# ---------------------------------------------------------------------------------------------
# Statements


@dataclass(frozen=True)
class CallStmt:
    """`f(args)`, or `x = f(args)` when `result` is set; `mmap`/`munmap` are calls too here."""

    function: Name
    args: tuple[Name, ...]
    result: Name | None
    span: Span
    at: Name | None = None  # `u = mmap(p) at v`


@dataclass(frozen=True)
class AccessStmt:
    """`read M[I]` / `write M[I]`; index None means the default word 0."""

    kind: Literal["read", "write"]
    mapping: Name
    index: Number | None
    span: Span


@dataclass(frozen=True)
class CopyStmt:
    dst: Name
    src: Name
    span: Span


@dataclass(frozen=True)
class SyncStmt:
    """`signal E`, `wait E`, `lock L`, `unlock L`."""

    kind: Literal["signal", "wait", "lock", "unlock"]
    name: Name
    span: Span


@dataclass(frozen=True)
class DmaStmt:
    kind: Literal["read", "write"]
    page: Name
    index: Number | None
    span: Span


@dataclass(frozen=True)
class EitherStmt:
    branches: tuple[tuple[Stmt, ...], ...]
    span: Span


@dataclass(frozen=True)
class RepeatStmt:
    count: Number
    body: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True)
class AliasTarget:
    """`m` (kind "mapping"), `kernel(p)`, `user(p)`, `all(p)`, `all()` (kind "every")."""

    kind: Literal["mapping", "kernel", "user", "all", "every"]
    name: Name
    span: Span


@dataclass(frozen=True)
class MaintenanceStmt:
    op: Literal["flush", "writeback", "invalidate", "purge_tlb"]
    target: AliasTarget
    cost: Number | None
    span: Span


@dataclass(frozen=True)
class Colour:
    """The value after `colour`: a number or `any` / `linear` / `user` / `user(Q)`."""

    value: int | str
    span: Span
    of: Name | None = None  # `user(Q)`: the page whose user mappings give the colour


@dataclass(frozen=True)
class MapStmt:
    """`map P [colour C]`: alone, as `x = map ...` (result set) or as a `return` value."""

    page: Name
    colour: Colour | None
    result: Name | None
    span: Span


@dataclass(frozen=True)
class UnmapStmt:
    mapping: Name
    span: Span


@dataclass(frozen=True)
class FlagStmt:
    """`set P.FLAG` / `clear P.FLAG`."""

    kind: Literal["set", "clear"]
    page: Name
    flag: Name
    span: Span


@dataclass(frozen=True)
class IfStmt:
    """`if C { } [else { }]`; `else if` is an IfStmt alone in `orelse`."""

    condition: Cond
    then: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...]
    has_else: bool
    span: Span


@dataclass(frozen=True)
class ReturnStmt:
    value: MapStmt | CallStmt | Name | None
    span: Span


Stmt = Union[
    CallStmt,
    AccessStmt,
    CopyStmt,
    SyncStmt,
    DmaStmt,
    EitherStmt,
    RepeatStmt,
    MaintenanceStmt,
    MapStmt,
    UnmapStmt,
    FlagStmt,
    IfStmt,
    ReturnStmt,
]


# ---------------------------------------------------------------------------------------------
# Arch blocks


@dataclass(frozen=True)
class DocDecl:
    text: str
    span: Span


@dataclass(frozen=True)
class KernelDecl:
    """`kernel "v5.0"`: the kernel version an arch model follows (shown by --list-arches)."""

    version: str
    span: Span


@dataclass(frozen=True)
class Option:
    """One word of a cache or page declaration (`write_back`, `highmem`, ...), with its number
    for those that take one (`colours N`, `line_words N`, `words N`)."""

    kind: str
    value: Number | None
    span: Span


@dataclass(frozen=True)
class CacheDecl:
    name: Name
    indexing: Name
    options: tuple[Option, ...]
    span: Span


@dataclass(frozen=True)
class SettingDecl:
    """`speculative_fill [yes|no|tlb]` or `dma_coherent yes|no`; value None: the bare word."""

    setting: Literal["speculative_fill", "dma_coherent"]
    value: Word | None
    span: Span


@dataclass(frozen=True)
class ParamDecl:
    name: Name
    kind: Literal["page", "mapping"]
    span: Span


@dataclass(frozen=True)
class FnDecl:
    """`fn NAME(params) [-> mapping] { }` or, with is_hook, `on NAME(params) { }`."""

    name: Name
    params: tuple[ParamDecl, ...]
    returns_mapping: bool
    body: tuple[Stmt, ...]
    is_hook: bool
    span: Span


ArchItem = Union[DocDecl, KernelDecl, CacheDecl, SettingDecl, FnDecl]


@dataclass(frozen=True)
class ArchBlock:
    name: Name
    parent: Name | None
    extends_span: Span | None  # the `extends` keyword, where a cycle is reported
    items: tuple[ArchItem, ...]
    span: Span


# ---------------------------------------------------------------------------------------------
# Protocol blocks


@dataclass(frozen=True)
class PageDecl:
    """`page NAME [anon|file] [highmem] [words N]`; options as written, in any order."""

    name: Name
    options: tuple[Option, ...]
    span: Span


@dataclass(frozen=True)
class MappingDecl:
    name: Name
    page: Name
    colour: Colour | None
    span: Span


@dataclass(frozen=True)
class StartDecl:
    """`start M STATE` (kind "mapping") or `start kernel(P) STATE` (kind "kernel")."""

    kind: Literal["mapping", "kernel"]
    name: Name
    state: Name
    span: Span


@dataclass(frozen=True)
class ThreadDecl:
    name: Name
    is_device: bool
    body: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True)
class ExpectDecl:
    verdicts: tuple[Name, ...]
    arches: tuple[Name, ...]
    span: Span
    # `redundant_flush at 12, 14`: the lines given after a verdict (by verdict name)
    lines: tuple[tuple[str, tuple[Number, ...]], ...] = ()


ProtocolItem = Union[DocDecl, PageDecl, MappingDecl, StartDecl, ThreadDecl, ExpectDecl]


@dataclass(frozen=True)
class ProtocolBlock:
    name: Name
    items: tuple[ProtocolItem, ...]
    span: Span


@dataclass(frozen=True)
class File:
    path: str
    blocks: tuple[ArchBlock | ProtocolBlock, ...]
