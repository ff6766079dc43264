"""What-if analyses over checked protocols: why a safe protocol is safe (`--explain`: which
statements' maintenance is load-bearing on which arch) and what a change to the cache API
does (`--compare A,B`: the verdicts and redundant statements on two arches, one usually a
variant of the other)."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from checker.check import DEFECTS, CheckOptions, CheckResult, check, run_engine
from checker.front import model
from checker.front.source import Span
from checker.machine.lower import lower


@dataclass(frozen=True)
class Role:
    """One protocol statement's maintenance on one arch: with it dropped, the kinds found
    (empty: it can go alone, the redundancy analysis's sense)."""

    kinds: frozenset[str]
    complete: bool = True


@dataclass(frozen=True)
class Explanation:
    protocol: model.Protocol
    arch: model.Arch
    status: str  # "safe" (roles below), "unsafe" (it has findings), "inconclusive"
    roles: dict[Span, Role]
    reason: str = ""


def explain(protocol: model.Protocol, arch: model.Arch, options: CheckOptions) -> Explanation:
    """For a protocol with no finding on `arch`: each statement that performs maintenance
    there, searched again with that maintenance left out."""
    deadline = None if options.timeout is None else time.monotonic() + options.timeout
    base = check(protocol, arch, dataclasses.replace(options, redundancy=False))
    if not base.complete:
        return Explanation(protocol, arch, "inconclusive", {}, base.reason)
    if base.kinds & DEFECTS:
        return Explanation(protocol, arch, "unsafe", {})
    program = lower(protocol, arch)
    statements = sorted({n.unit[0] for n in program.nodes if n.candidate},
                        key=lambda s: (s.line, s.col))
    roles = {}
    for span in statements:
        outcome, _ = run_engine(lower(protocol, arch, frozenset({(span,)})), options, deadline)
        roles[span] = Role(frozenset(outcome.witnesses), outcome.complete)
    return Explanation(protocol, arch, "safe", roles)


def without_calls(protocol: model.Protocol, functions: frozenset[str]) -> model.Protocol:
    """The protocol with its own calls of `functions` left out (callers dropping their
    explicit flush_dcache_page); calls inside arch code stay."""

    def keep(body: tuple[model.Statement, ...]) -> tuple[model.Statement, ...]:
        out = []
        for s in body:
            if isinstance(s, model.Call) and s.function in functions and s.result is None:
                continue
            if isinstance(s, model.Repeat):
                s = dataclasses.replace(s, body=keep(s.body))
            elif isinstance(s, model.Either):
                s = dataclasses.replace(s, branches=tuple(keep(b) for b in s.branches))
            out.append(s)
        return tuple(out)

    threads = tuple(dataclasses.replace(t, body=keep(t.body)) for t in protocol.threads)
    return dataclasses.replace(protocol, threads=threads)


def maintenance_cost(result: CheckResult) -> int:
    """The most maintenance one run of the protocol can do on the arch, in line
    operations: every maintenance step's `cost` (1 where the arch gives none)."""
    program = result.program
    if program is None:
        return 0
    return sum(1 if n.cost is None else n.cost for n in program.nodes if n.kind == "maint")


@dataclass(frozen=True)
class Comparison:
    protocol: model.Protocol
    a: CheckResult
    b: CheckResult

    @property
    def differs(self) -> bool:
        return (self.a.kinds != self.b.kinds or self.a.redundant_lines != self.b.redundant_lines
                or self.a.complete != self.b.complete)


def compare(protocol: model.Protocol, a: model.Arch, b: model.Arch, options: CheckOptions,
            drop: frozenset[str] = frozenset()) -> Comparison:
    """The protocol on `a`, and on `b` with its own calls of `drop` left out."""
    return Comparison(protocol, check(protocol, a, options),
                      check(without_calls(protocol, drop) if drop else protocol, b, options))
