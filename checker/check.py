"""The pipeline: one protocol on one arch, from the model to a CheckResult.

    lower -> search -> (if nothing found) redundant-flush analysis -> replay witnesses

Results are data; only cli.py prints.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from checker import model
from checker.encode import Unsupported
from checker.explore import SearchOutcome, search
from checker.lower import lower
from checker.program import Program
from checker.semantics import Semantics
from checker.source import Span
from checker.trace import Trace, replay, shrink


@dataclass(frozen=True)
class Redundancy:
    """A protocol statement whose cache maintenance can go without any finding appearing."""

    statement: Span
    depends_on: tuple[Span, ...]  # reported statements that cannot go together with this one
    # When no pair explains it but all reported statements cannot go together (three
    # flushes any one of which is enough), the others of that group.
    group: tuple[Span, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    protocol: model.Protocol
    arch: model.Arch
    complete: bool  # False: inconclusive
    kinds: frozenset[str]
    expected: frozenset[str]
    traces: dict[str, Trace] = field(default_factory=dict)
    redundant: tuple[Redundancy, ...] = ()
    states: int = 0
    reason: str = ""
    program: Program | None = None
    engine: str = ""  # which engine answered

    @property
    def matches(self) -> bool:
        return self.complete and self.kinds == self.expected

    def verdict(self) -> tuple:
        """What two engines must agree on: the kinds found, and each redundant statement with
        its dependencies (bench/differential.py, tests/test_differential.py)."""
        redundant = sorted(
            (str(r.statement), sorted(map(str, r.depends_on)), sorted(map(str, r.group)))
            for r in self.redundant
        )
        return sorted(self.kinds), redundant


ENGINES = ("explicit", "z3")


@dataclass(frozen=True)
class CheckOptions:
    # bench/RESULTS.md: the explicit search answered every shipped check and every synthetic
    # point sooner than the Z3 engine (median 233x on the shipped specs), so it is the default.
    engine: str = "explicit"
    max_states: int = 2_000_000  # explicit engine: give up (inconclusive) beyond this
    timeout: float | None = None  # seconds for one check, redundancy analysis included
    redundancy: bool = True


def run_engine(
    program: Program, options: CheckOptions, deadline: float | None, maintenance: bool = True
) -> tuple[SearchOutcome, str]:
    """Search with the chosen engine until `deadline` (time.monotonic()); arches the Z3
    engine does not model (more than one cache level) go to the explicit engine, and the
    result says so."""
    if options.engine == "z3":
        from checker.solve import search_z3  # z3 loads only when used

        try:
            return search_z3(program, deadline, maintenance), "z3"
        except Unsupported:
            engine = "explicit (multi-level caches)"
            return search(program, options.max_states, deadline), engine
    return search(program, options.max_states, deadline), "explicit"


def check(
    protocol: model.Protocol, arch: model.Arch, options: CheckOptions = CheckOptions()
) -> CheckResult:
    """Check one protocol on one arch."""
    deadline = None if options.timeout is None else time.monotonic() + options.timeout
    program = lower(protocol, arch)
    outcome, engine = run_engine(program, options, deadline)
    expected = protocol.expected_on(arch.name)
    states = outcome.states
    if not outcome.complete:
        return CheckResult(protocol, arch, False, frozenset(outcome.witnesses), expected,
                           states=states, reason=outcome.reason, engine=engine)
    redundant: tuple[Redundancy, ...] = ()
    if not outcome.witnesses and options.redundancy:
        found = find_redundant(protocol, arch, sorted(outcome.maintained), options, deadline)
        if found is None:
            return CheckResult(protocol, arch, False, frozenset(), expected, states=states,
                               reason="the redundant-flush analysis was cut short",
                               engine=engine)
        redundant = found
    kinds = set(outcome.witnesses)
    if redundant:
        kinds.add("redundant_flush")
    traces = _replay_all(program, outcome)
    return CheckResult(protocol, arch, True, frozenset(kinds), expected, traces, redundant,
                       states, program=program, engine=engine)


def _replay_all(program: Program, outcome: SearchOutcome) -> dict[str, Trace]:
    sem = Semantics(program)
    return {kind: replay(sem, shrink(sem, w)) for kind, w in sorted(outcome.witnesses.items())}


def _clean_without(
    protocol: model.Protocol,
    arch: model.Arch,
    drop: frozenset[Span],
    options: CheckOptions,
    deadline: float | None,
) -> bool | None:
    """Whether the protocol has no finding with the maintenance of `drop` left out (None if
    the search was cut short)."""
    outcome, _ = run_engine(lower(protocol, arch, drop), options, deadline, maintenance=False)
    if not outcome.complete:
        return None
    return not outcome.witnesses


def find_redundant(
    protocol: model.Protocol,
    arch: model.Arch,
    candidates: list[Span],
    options: CheckOptions,
    deadline: float | None = None,
) -> tuple[Redundancy, ...] | None:
    """Of the statements whose maintenance runs in some execution: each one whose
    maintenance can be dropped alone; then, for each pair of them, whether they can go
    together (if not, each depends on the other); then whether all of them can."""
    alone = []
    for span in candidates:
        clean = _clean_without(protocol, arch, frozenset({span}), options, deadline)
        if clean is None:
            return None
        if clean:
            alone.append(span)
    depends: dict[Span, list[Span]] = {span: [] for span in alone}
    for a, b in itertools.combinations(alone, 2):
        clean = _clean_without(protocol, arch, frozenset({a, b}), options, deadline)
        if clean is None:
            return None
        if not clean:
            depends[a].append(b)
            depends[b].append(a)
    group: tuple[Span, ...] = ()
    if len(alone) > 2:
        clean = _clean_without(protocol, arch, frozenset(alone), options, deadline)
        if clean is None:
            return None
        if not clean:
            group = tuple(alone)
    return tuple(
        Redundancy(span, tuple(depends[span]),
                   tuple(g for g in group if g != span) if not depends[span] else ())
        for span in alone
    )
