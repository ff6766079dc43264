"""The pipeline: one protocol on one arch, from the model to a CheckResult.

    lower -> search -> (if nothing found) redundant-flush analysis -> replay witnesses

Results are data; only cli.py prints.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from checker.engines.explicit import search as explicit
from checker.engines.reference import SearchOutcome
from checker.engines.smt import Unsupported
from checker.front import model
from checker.front.source import Span
from checker.machine.lower import lower
from checker.machine.program import Program
from checker.machine.semantics import Semantics
from checker.report.trace import Trace, replay, shrink


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
    complete: bool  # False: a limit stopped the search (or the redundancy analysis)
    kinds: frozenset[str]  # found; when not complete, those found before the limit
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

    @property
    def status(self) -> str:
        """"ok", "unexpected" or "inconclusive". An incomplete search that found a kind the
        protocol does not expect is unexpected all the same: a finding is a replayed
        execution, whatever the search did afterwards; only one that found nothing unexpected
        is inconclusive."""
        if self.complete:
            return "ok" if self.matches else "unexpected"
        return "unexpected" if self.kinds - self.expected else "inconclusive"

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
    # point sooner than the Z3 engine (median 261x on the shipped specs), so it is the default.
    engine: str = "explicit"
    # Explicit engine: give up (inconclusive) beyond this many states. A state costs about
    # 0.2-0.4 KB (bench/RESULTS.md), so the default stays within a few GB.
    max_states: int = 10_000_000
    timeout: float | None = None  # seconds for one check, redundancy analysis included
    max_memory: int | None = None  # explicit engine: MB of resident memory, then give up
    redundancy: bool = True
    # The reductions of the explicit engine (docs/engines.md); off only to test them.
    reduction: bool = True


def run_engine(
    program: Program, options: CheckOptions, deadline: float | None, maintenance: bool = True,
    progress: Progress | None = None,
) -> tuple[SearchOutcome, str]:
    """Search with the chosen engine until `deadline` (time.monotonic()); arches the Z3
    engine does not model (more than one cache level) go to the explicit engine, and the
    result says so."""
    if options.engine == "z3":
        from checker.engines.smt.solve import search_z3  # z3 loads only when used

        memory = None if options.max_memory is None else options.max_memory << 20
        try:
            return search_z3(program, deadline, maintenance, memory), "z3"
        except Unsupported:
            engine = "explicit (multi-level caches)"
            return _explicit(program, options, deadline, maintenance, progress), engine
    return _explicit(program, options, deadline, maintenance, progress), "explicit"


Progress = Callable[[explicit.Progress], None]


def _explicit(program: Program, options: CheckOptions, deadline: float | None,
              maintenance: bool, progress: Progress | None = None) -> SearchOutcome:
    # A re-search of the redundancy analysis (maintenance=False) only asks whether any
    # finding appears, so it stops at the first.
    memory = None if options.max_memory is None else options.max_memory << 20
    return explicit.search(program, options.max_states, deadline, reduce=options.reduction,
                           first_only=not maintenance, progress=progress,
                           max_memory=memory)


def check(
    protocol: model.Protocol, arch: model.Arch, options: CheckOptions = CheckOptions(),
    progress: Progress | None = None,
) -> CheckResult:
    """Check one protocol on one arch (`progress` is called now and then during a long
    explicit search)."""
    deadline = None if options.timeout is None else time.monotonic() + options.timeout
    program = lower(protocol, arch)
    outcome, engine = run_engine(program, options, deadline, progress=progress)
    expected = protocol.expected_on(arch.name)
    states = outcome.states
    if not outcome.complete:  # what was found before the limit is reported, with its trace
        return CheckResult(protocol, arch, False, frozenset(outcome.witnesses), expected,
                           _replay_all(program, outcome), states=states, reason=outcome.reason,
                           program=program, engine=engine)
    redundant: tuple[Redundancy, ...] = ()
    if not outcome.witnesses and options.redundancy:
        found = find_redundant(protocol, arch, sorted(outcome.maintained), options, deadline,
                               progress)
        if isinstance(found, str):
            return CheckResult(protocol, arch, False, frozenset(), expected, states=states,
                               reason=f"the redundant-flush analysis was cut short: {found}",
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
    progress: Progress | None = None,
) -> bool:
    """Whether the protocol has no finding with the maintenance of `drop` left out (raises
    _CutShort if the search was cut short)."""
    outcome, _ = run_engine(lower(protocol, arch, drop), options, deadline, maintenance=False,
                            progress=progress)
    if not outcome.complete:
        raise _CutShort(outcome.reason)
    return not outcome.witnesses


class _CutShort(Exception):
    """A re-search of the redundancy analysis hit a limit; the argument says which."""


def find_redundant(
    protocol: model.Protocol,
    arch: model.Arch,
    candidates: list[Span],
    options: CheckOptions,
    deadline: float | None = None,
    progress: Progress | None = None,
) -> tuple[Redundancy, ...] | str:
    """Of the statements whose maintenance runs in some execution: each one whose
    maintenance can be dropped alone; then, for each pair of them, whether they can go
    together (if not, each depends on the other); then whether all of them can. A string
    instead says which limit cut a re-search short."""
    try:
        return _redundant(protocol, arch, candidates, options, deadline, progress)
    except _CutShort as cut:
        return str(cut)


def _redundant(
    protocol: model.Protocol,
    arch: model.Arch,
    candidates: list[Span],
    options: CheckOptions,
    deadline: float | None,
    progress: Progress | None,
) -> tuple[Redundancy, ...]:
    alone = []
    for span in candidates:
        clean = _clean_without(protocol, arch, frozenset({span}), options, deadline, progress)
        if clean:
            alone.append(span)
    depends: dict[Span, list[Span]] = {span: [] for span in alone}
    for a, b in itertools.combinations(alone, 2):
        clean = _clean_without(protocol, arch, frozenset({a, b}), options, deadline, progress)
        if not clean:
            depends[a].append(b)
            depends[b].append(a)
    group: tuple[Span, ...] = ()
    if len(alone) > 2:
        clean = _clean_without(protocol, arch, frozenset(alone), options, deadline, progress)
        if not clean:
            group = tuple(alone)
    return tuple(
        Redundancy(span, tuple(depends[span]),
                   tuple(g for g in group if g != span) if not depends[span] else ())
        for span in alone
    )
