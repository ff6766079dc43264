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

Unit = tuple[Span, ...]  # a protocol statement, then the calls inside it (Node.unit)


@dataclass(frozen=True)
class Redundancy:
    """Cache maintenance that can go without any finding appearing: a protocol statement's
    (`unit` is the statement alone), or, inside a statement that cannot go as a whole, one
    nested call's or micro-operation's (`unit` leads from the statement to it)."""

    unit: Unit
    depends_on: tuple[Unit, ...]  # reported units that cannot go together with this one
    # When no pair explains it but all reported units cannot go together (three flushes
    # any one of which is enough), the others of that group.
    group: tuple[Unit, ...] = ()

    @property
    def statement(self) -> Span:
        return self.unit[0]

    @property
    def within(self) -> Unit:
        """The path from the statement into arch code (empty: the whole statement)."""
        return self.unit[1:]


@dataclass(frozen=True)
class CheckResult:
    protocol: model.Protocol
    arch: model.Arch
    complete: bool  # False: a limit stopped the search (or the redundancy analysis)
    kinds: frozenset[str]  # found; when not complete, those found before the limit
    expected: frozenset[str]
    traces: dict[str, Trace] = field(default_factory=dict)
    redundant: tuple[Redundancy, ...] = ()  # whole protocol statements: redundant_flush
    states: int = 0
    reason: str = ""
    program: Program | None = None
    engine: str = ""  # which engine answered
    # Inside statements that are needed as a whole: a nested call or micro-operation whose
    # maintenance can go. Reported beside the verdict; not a kind (the contract's
    # redundant_flush is per protocol statement).
    inner: tuple[Redundancy, ...] = ()
    # `expect redundant_flush at LINES`: the lines the redundant statements must be on.
    expected_lines: frozenset[int] | None = None
    # Wall-clock time of the check (reported only with --timing); not part of the result's
    # identity: the same check gives an equal result however long it took.
    seconds: float = field(default=0.0, compare=False)

    @property
    def redundant_lines(self) -> frozenset[int]:
        return frozenset(r.statement.line for r in self.redundant)

    @property
    def matches(self) -> bool:
        lines_ok = self.expected_lines is None or self.redundant_lines == self.expected_lines
        return self.complete and self.kinds == self.expected and lines_ok

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
        def text(unit: Unit) -> str:
            return " > ".join(map(str, unit))

        redundant = sorted(
            (text(r.unit), sorted(map(text, r.depends_on)), sorted(map(text, r.group)))
            for r in (*self.redundant, *self.inner)
        )
        return sorted(self.kinds), redundant


ENGINES = ("explicit", "z3")
# The findings that make a protocol wrong (redundant_flush only makes it slow): what --fix
# removes, --explain and --compare count.
DEFECTS = frozenset({"stale_read", "lost_write", "use_after_unmap", "deadlock"})


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
                           program=program, engine=engine,
                           expected_lines=protocol.redundant_lines_on(arch.name))
    redundant: tuple[Redundancy, ...] = ()
    inner: tuple[Redundancy, ...] = ()
    if not outcome.witnesses and options.redundancy:
        found = find_redundant(protocol, arch, sorted(outcome.maintained), options, deadline,
                               progress)
        if isinstance(found, str):
            return CheckResult(protocol, arch, False, frozenset(), expected, states=states,
                               reason=f"the redundant-flush analysis was cut short: {found}",
                               engine=engine,
                               expected_lines=protocol.redundant_lines_on(arch.name))
        redundant = tuple(r for r in found if not r.within)
        inner = tuple(r for r in found if r.within)
    kinds = set(outcome.witnesses)
    if redundant:
        kinds.add("redundant_flush")
    traces = _replay_all(program, outcome)
    return CheckResult(protocol, arch, True, frozenset(kinds), expected, traces, redundant,
                       states, program=program, engine=engine, inner=inner,
                       expected_lines=protocol.redundant_lines_on(arch.name))


def _replay_all(program: Program, outcome: SearchOutcome) -> dict[str, Trace]:
    sem = Semantics(program)
    return {kind: replay(sem, shrink(sem, w)) for kind, w in sorted(outcome.witnesses.items())}


def _clean_without(
    protocol: model.Protocol,
    arch: model.Arch,
    drop: frozenset[Unit],
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
    maintained: list[Unit],
    options: CheckOptions,
    deadline: float | None = None,
    progress: Progress | None = None,
) -> tuple[Redundancy, ...] | str:
    """Of the units whose maintenance runs in some execution (`maintained`: the Node.unit of
    each maintenance step that ran): each protocol statement whose maintenance can be dropped
    alone; inside each statement that cannot, each nested call or micro-operation that can
    (docs/engines.md, "Redundant flushes"); then, for each pair of those, whether they can
    go together (if not, each depends on the other); then whether all of them can. A string
    instead says which limit cut a re-search short."""
    try:
        return _redundant(protocol, arch, maintained, options, deadline, progress)
    except _CutShort as cut:
        return str(cut)


def _children(maintained: list[Unit], prefix: Unit) -> list[Span]:
    """The next steps below `prefix` on the way to maintenance that ran."""
    n = len(prefix)
    return sorted({u[n] for u in maintained if len(u) > n and u[:n] == prefix})


def _redundant(
    protocol: model.Protocol,
    arch: model.Arch,
    maintained: list[Unit],
    options: CheckOptions,
    deadline: float | None,
    progress: Progress | None,
) -> tuple[Redundancy, ...]:
    def droppable(units: list[Unit]) -> bool:
        return _clean_without(protocol, arch, frozenset(units), options, deadline, progress)

    statements = [(span,) for span in _children(maintained, ())]
    whole = [unit for unit in statements if droppable([unit])]
    # Inside each statement that cannot go as a whole, the units below it where there is a
    # choice, breadth first (a single path down is the same maintenance as its parent, so
    # it is followed without a re-search).
    inner: list[Unit] = []
    needed = [unit for unit in statements if unit not in whole]
    while needed:
        below = needed.pop(0)
        kids = _children(maintained, below)
        while len(kids) == 1:
            below = (*below, kids[0])
            kids = _children(maintained, below)
        for kid in kids:
            unit = (*below, kid)
            (inner if droppable([unit]) else needed).append(unit)
    return _dependencies(whole, whole, droppable) + _dependencies(inner, whole + inner,
                                                                  droppable, group=False)


def _dependencies(units: list[Unit], others: list[Unit], droppable: Callable,
                  group: bool = True) -> tuple[Redundancy, ...]:
    """Each of `units` with the ones of `others` it cannot go together with; with `group`,
    when three or more cannot all go together though no pair explains it, that group."""
    depends: dict[Unit, list[Unit]] = {unit: [] for unit in units}
    for a, b in itertools.combinations(dict.fromkeys(units + others), 2):
        if (a in depends or b in depends) and not droppable([a, b]):
            if a in depends:
                depends[a].append(b)
            if b in depends:
                depends[b].append(a)
    together: tuple[Unit, ...] = ()
    if group and len(units) > 2 and not droppable(units):
        together = tuple(units)
    return tuple(
        Redundancy(unit, tuple(depends[unit]),
                   tuple(g for g in together if g != unit) if not depends[unit] else ())
        for unit in units
    )
