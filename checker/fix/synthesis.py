"""`check --fix`: the cheapest set of cache-API calls that leaves a protocol with no finding
on every selected arch at once, found by a counterexample-guided loop.

Z3 (Optimize) proposes a set S of candidates (candidates.py) minimising, in this order, the
number of calls, then their cost summed over the arches. The explicit engine checks the
protocol with S inserted on each arch. A finding there is an execution; it yields a clause
that every fix T must meet (learn()):

    some call of S is left out of T, or T adds a candidate, not in S, that the execution
    reaches before its finding and that does something on that arch.

Sound: if T keeps all of S and adds only calls the execution never reaches, or calls that
are no-ops on that arch, the same execution, with those calls' no-op steps run where they
stand, is an execution of the protocol with T inserted, and shows the same finding (the
calls added are cache maintenance: they cannot block, signal or change what a thread
knows, so the interleaving and the finding stay). So the clauses never exclude a fix, and
the first S that checks clean is a cheapest fix; when the clauses admit no set of at most
`max_calls` calls, no fix exists among the candidates: a proven fact, not a time-out.

The search then goes on for a placement that is also free of redundancy (no statement of
the fixed protocol reported redundant on any arch): each further clean set is checked with
the redundancy analysis, and a clean set's supersets are excluded (a call added to a clean
placement can be dropped with no finding: it would be redundant wherever it maintains
anything). When the clauses run out, the answer (some placement, or none among those of
at most `max_calls` calls) is again proven over the candidates. A limit (time, states)
anywhere makes the answer inconclusive.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import z3

from checker.check import DEFECTS, CheckOptions, CheckResult, check
from checker.fix.candidates import Candidate, Effect, candidates, effects, insert, span_of
from checker.front import model
from checker.machine.state import Layout
from checker.report.trace import Trace


@dataclass(frozen=True)
class Placement:
    calls: tuple[Candidate, ...]
    cost: int  # summed over the arches
    redundant: dict[str, tuple] = field(default_factory=dict)  # arch -> Redundancy units
    results: dict[str, CheckResult] = field(default_factory=dict)  # with redundancy analysis

    @property
    def redundant_count(self) -> int:
        return sum(len(units) for units in self.redundant.values())


@dataclass
class FixOutcome:
    protocol: model.Protocol
    arches: tuple[model.Arch, ...]
    before: dict[str, CheckResult]
    candidates: list[Candidate]
    effects: dict[str, list[Effect]]
    # "nothing" (no finding to fix), "fixed" (on every arch), "partial" (on as many arches
    # as any placement can: `unfixable` are the others), "none" (no placement fixes any
    # arch that has a finding), "inconclusive" (a limit stopped the search).
    status: str = ""
    unfixable: tuple[str, ...] = ()
    best: Placement | None = None
    # A clean placement with no redundant statement on any arch, if one exists.
    lean: Placement | None = None
    lean_proven: bool = False  # the search for `lean` finished (its absence is a fact)
    clean_sets: int = 0  # clean placements examined for redundancy
    rounds: int = 0
    reason: str = ""


class _Inconclusive(Exception):
    pass


def synthesise(protocol: model.Protocol, arches: Sequence[model.Arch], options: CheckOptions,
               max_calls: int = 2, deadline: float | None = None,
               lean_seconds: float = 30.0, functions: Sequence[str] | None = None
               ) -> FixOutcome:
    """Find a cheapest fix of `protocol` on all of `arches`, or on as many of them as any
    placement can fix (see the module docstring). The search for a placement free of
    redundancy gets `lean_seconds` after the first fix (its answer is then "not settled")."""
    arches = tuple(arches)
    before = {a.name: check(protocol, a, _opts(options, deadline, redundancy=True))
              for a in arches}
    cands = candidates(protocol, arches, functions)
    outcome = FixOutcome(protocol, arches, before, cands,
                         {a.name: effects(protocol, cands, a) for a in arches})
    if any(not r.complete for r in before.values()):
        outcome.status, outcome.reason = "inconclusive", _reason(before.values())
        return outcome
    if not any(r.kinds & DEFECTS for r in before.values()):
        outcome.status = "nothing"
        return outcome
    search = _Search(protocol, arches, cands, outcome, options, deadline, max_calls)
    try:
        _search(search, outcome, deadline, lean_seconds)
    except _Inconclusive as stop:
        outcome.reason = str(stop)
        if outcome.best is None:
            outcome.status = "inconclusive"
    outcome.rounds, outcome.clean_sets = search.rounds, search.clean_sets
    return outcome


def _search(search: _Search, outcome: FixOutcome, deadline: float | None,
            lean_seconds: float) -> None:
    """The phases: the cheapest fix, its ties, then a placement free of redundancy."""
    arches, before = outcome.arches, outcome.before
    first = search.cheapest()
    if first is None:
        outcome.status = "none"
        outcome.unfixable = tuple(a.name for a in arches if before[a.name].kinds & DEFECTS)
        outcome.lean_proven = True
        return
    outcome.status = "partial" if outcome.unfixable else "fixed"
    outcome.best = first
    lean_deadline = time.monotonic() + lean_seconds
    if deadline is not None:
        lean_deadline = min(lean_deadline, deadline)
    search.deadline = lean_deadline
    search.late = (f"the search for a placement free of redundancy has {lean_seconds:g} s "
                   "and stopped there")
    ties = search.ties(first)
    # Equal in calls and cost: the fewest redundant statements, then the earliest
    # boundaries and the calls first in CACHE_API (the smallest sum of candidate numbers).
    outcome.best = min([first, *ties],
                       key=lambda p: (p.redundant_count, sum(c.index for c in p.calls)))
    lean = outcome.best if outcome.best.redundant_count == 0 else search.lean()
    outcome.lean = lean
    outcome.lean_proven = True


class _Search:
    """The candidate sets still possible: a Boolean per candidate, one per arch (the
    placement must leave that arch clean), and the clauses learned so far."""

    def __init__(self, protocol, arches, cands, outcome: FixOutcome, options, deadline,
                 max_calls: int) -> None:
        self.protocol, self.arches, self.cands = protocol, arches, cands
        self.outcome, self.options, self.deadline = outcome, options, deadline
        self.ctx = z3.Context()
        self.chosen = [z3.Bool(f"c{c.index}", self.ctx) for c in cands]
        self.fixed = {a.name: z3.Bool(f"fix_{i}", self.ctx) for i, a in enumerate(arches)}
        self.costs = [sum(outcome.effects[a.name][c.index].cost for a in arches)
                      for c in cands]
        self.count = self._sum([1] * len(cands))
        self.cost = self._sum(self.costs)
        self.max_calls = max_calls
        self.clauses: list = [self.count <= max_calls]
        self.order = list(arches)  # the order _failures tries them in
        self.goal_names: set[str] | None = None  # fixed once the first fix is found
        self.rounds = self.clean_sets = 0
        self.late = "out of time (--timeout)"  # what passing `deadline` means
        self._clean: list[Placement] = []  # clean placements found: excluded from then on
        # Candidates that are pure maintenance on every arch and maintain on one: added to a
        # clean placement, such a call is redundant there (dropping its maintenance gives
        # back the clean placement, up to no-op steps).
        self.droppable = [all(outcome.effects[a.name][c.index].pure for a in arches)
                          and any(outcome.effects[a.name][c.index].maintains for a in arches)
                          for c in cands]

    def _sum(self, weights):
        if not self.chosen:
            return z3.IntVal(0, self.ctx)
        return z3.Sum([z3.If(x, w, 0) for x, w in zip(self.chosen, weights, strict=True)])

    def cheapest(self) -> Placement | None:
        """The first clean placement in the order of preference (most arches fixed,
        fewest calls, least cost), or None when no placement fixes a single arch that has
        a finding."""
        solver = z3.Optimize(ctx=self.ctx)
        solver.add(*self.clauses)
        solver.maximize(z3.Sum([z3.If(f, 1, 0) for f in self.fixed.values()]))
        solver.minimize(self.count)
        solver.minimize(self.cost)
        # Not minimised here: the sum of candidate numbers (earliest boundaries, preferred
        # calls). It doubles the solver's time; the ties phase orders equal placements by it.
        while True:
            found = self._next(solver)
            if found is None:
                return None
            picked, goal = found
            placement = self._examine(picked, goal, solver)
            if placement is not None:
                if not any(self.outcome.before[a.name].kinds & DEFECTS for a in goal):
                    return None  # only arches that were clean anyway: nothing fixed
                self.outcome.unfixable = tuple(a.name for a in self.arches if a not in goal)
                self.goal_names = {a.name for a in goal}
                return placement

    def ties(self, first: Placement) -> list[Placement]:
        """The other clean placements as cheap as the first (same count and cost)."""
        solver = self._solver()
        solver.add(self.count == len(first.calls), self.cost == first.cost)
        self._exclude(solver, first)
        found = []
        while True:
            nxt = self._next(solver)
            if nxt is None:
                return found
            placement = self._examine(*nxt, solver)
            if placement is not None:
                found.append(placement)
                if placement.redundant_count == 0:
                    return found
                self._exclude(solver, placement)

    def lean(self) -> Placement | None:
        """A clean placement with no redundant statement, or None when there is none."""
        solver = self._solver()
        while True:
            nxt = self._next(solver)
            if nxt is None:
                return None
            placement = self._examine(*nxt, solver)
            if placement is not None:
                if placement.redundant_count == 0:
                    return placement
                self._exclude(solver, placement)

    def _solver(self):
        """A plain solver over everything learned, for the goal of the first fix, with the
        clean placements found so far and their supersets excluded."""
        solver = z3.Solver(ctx=self.ctx)
        solver.add(*self.clauses)
        for name in self.goal_names or ():
            solver.add(self.fixed[name])
        for placement in self._clean:
            self._exclude(solver, placement, remember=False)
        return solver

    def _next(self, solver):
        self.rounds += 1
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise _Inconclusive(self.late)
        verdict = solver.check()
        if verdict == z3.unsat:
            return None
        if verdict != z3.sat:
            reason = solver.reason_unknown() if hasattr(solver, "reason_unknown") else ""
            raise _Inconclusive(f"the solver gave up: {reason}")
        model_ = solver.model()
        picked = tuple(c for c, x in zip(self.cands, self.chosen, strict=True)
                       if z3.is_true(model_.eval(x, model_completion=True)))
        goal = [a for a in self.order
                if z3.is_true(model_.eval(self.fixed[a.name], model_completion=True))]
        return picked, goal

    def _examine(self, picked, goal, solver) -> Placement | None:
        """Check `picked` on the goal's arches: a clean placement (with its redundancy), or
        None after adding what its counterexample teaches to `solver` and to the rest."""
        protocol_now = insert(self.protocol, picked)
        failures = _failures(protocol_now, goal, self.order, self.options, self.deadline)
        if failures:
            for arch, result in failures:
                for trace in result.traces.values():
                    clause = _learn(self.protocol, protocol_now, result, trace, picked,
                                    self.cands, self.chosen,
                                    self.outcome.effects[arch.name], self.ctx)
                    clause = z3.Or(clause, z3.Not(self.fixed[arch.name]), self.ctx)
                    self.clauses.append(clause)
                    solver.add(clause)
            return None
        self.clean_sets += 1
        return _with_redundancy(protocol_now, picked, goal, self.options, self.deadline,
                                sum(self.costs[c.index] for c in picked))

    def _exclude(self, solver, placement: Placement, remember: bool = True) -> None:
        """Not this placement, nor it with droppable calls added (each would be redundant)."""
        if remember:
            self._clean = [*self._clean, placement]
        ids = {c.index for c in placement.calls}
        literals = [z3.Not(self.chosen[i]) for i in ids]
        literals += [self.chosen[c.index] for c in self.cands
                     if c.index not in ids and not self.droppable[c.index]]
        solver.add(z3.Or(literals, self.ctx) if literals else z3.BoolVal(False, self.ctx))


def _opts(options: CheckOptions, deadline: float | None, redundancy: bool) -> CheckOptions:
    timeout = None if deadline is None else max(0.001, deadline - time.monotonic())
    return CheckOptions(engine="explicit", max_states=options.max_states, timeout=timeout,
                        max_memory=options.max_memory, redundancy=redundancy)


def _reason(results) -> str:
    return next((r.reason for r in results if not r.complete), "")


def _failures(protocol: model.Protocol, goal: list, order: list, options, deadline) -> list:
    """The first arch of `goal` (in `goal`'s order) where the protocol has a finding, with
    its result; none when it is clean on all. The arch that failed moves to the front of
    `order`: the next placement is likely to fail there too, and checking stops there."""
    for arch in goal:
        result = check(protocol, arch, _opts(options, deadline, redundancy=False))
        if not result.complete:
            raise _Inconclusive(f"on {arch.name}: {result.reason}")
        if result.kinds & DEFECTS:
            order.insert(0, order.pop(order.index(arch)))
            return [(arch, result)]
    return []


def _with_redundancy(fixed, picked, arches, options, deadline, cost) -> Placement:
    results = {}
    redundant = {}
    for arch in arches:
        result = check(fixed, arch, _opts(options, deadline, redundancy=True))
        if not result.complete:
            raise _Inconclusive(f"on {arch.name}: {result.reason}")
        results[arch.name] = result
        if result.redundant:
            redundant[arch.name] = tuple(r.unit for r in result.redundant)
    return Placement(tuple(picked), cost, redundant, results)


def _learn(protocol: model.Protocol, fixed: model.Protocol,
           result: CheckResult, trace: Trace, picked: Sequence[Candidate],
           cands: Sequence[Candidate], chosen: list, effects_here: list[Effect], ctx):
    """The clause an execution of the protocol with `picked` inserted teaches (module
    docstring): drop one of `picked` that it runs and that acts on the arch, or add a
    candidate it reaches that acts on the arch."""
    reached = _reached(protocol, fixed, result, trace)
    finding = trace.finding
    if finding.kind in ("deadlock", "use_after_unmap"):
        # No inserted call can unblock a thread or map a mapping again: only dropping the
        # call that used an ended mapping can help.
        program = result.program
        assert program is not None
        at = program.nodes[finding.node].origin if finding.kind == "use_after_unmap" else None
        culprits = [c for c in picked if span_of(protocol, c) == at]
        drops = [z3.Not(chosen[c.index]) for c in culprits]
        return z3.Or(drops, ctx) if drops else z3.BoolVal(False, ctx)
    page = _page_of_word(result, finding.data[0])

    def matters(c: Candidate) -> bool:
        """The execution runs it, it is no no-op here, and it can change the page of the
        finding (a call acting on another page changes nothing the finding rests on)."""
        return (effects_here[c.index].acts and c.position <= reached.get(c.thread, -1)
                and (c.page is None or c.page == page))

    picked_ids = {c.index for c in picked}
    helpers = [chosen[c.index] for c in cands if c.index not in picked_ids and matters(c)]
    # A picked call the execution does not run, or that cannot change the page, can go
    # too: the execution is one of the protocol without it as well (up to that page).
    drops = [z3.Not(chosen[c.index]) for c in picked if matters(c)]
    literals = drops + helpers
    return z3.Or(literals, ctx) if literals else z3.BoolVal(False, ctx)


def _page_of_word(result: CheckResult, word: int) -> str:
    program = result.program
    assert program is not None
    layout = Layout(program)
    page = max(p for p, base in enumerate(layout.word_offset) if base <= word)
    return program.pages[page].name


def _reached(protocol: model.Protocol, fixed: model.Protocol, result: CheckResult,
             trace: Trace) -> dict[int, int]:
    """Per thread, the last boundary of its original body the execution got to before its
    finding: a candidate at a boundary up to it runs in the execution (at the boundary
    past the last statement: the thread finished)."""
    program = result.program
    assert program is not None
    index_of: dict = {}
    for t, thread in enumerate(protocol.threads):
        for i, statement in enumerate(thread.body):
            for span in _spans(statement):
                index_of[(t, span)] = i
    inserted = {statement.span for thread in fixed.threads for statement in thread.body
                if statement.span.line == 0}  # the inserted candidates (span_of)
    reached: dict[int, int] = {}
    for step in trace.steps:
        label = step.label
        if label.actor < 0:
            continue
        origin = program.nodes[label.node].origin
        t = label.actor
        if (t, origin) in index_of:
            where = index_of[(t, origin)]
        elif origin in inserted:  # the thread is at that call's boundary
            where = _position_of(fixed, t, origin)
        else:
            continue
        reached[t] = max(reached.get(t, -1), where)
    final = trace.steps[-1].after if trace.steps else trace.start
    for t, thread in enumerate(protocol.threads):
        if final.pcs[t] == -1:  # finished: every boundary passed
            reached[t] = len(thread.body)
    return reached


def _position_of(fixed: model.Protocol, t: int, span) -> int:
    """The boundary (in the original body) of the inserted call with this span."""
    original = 0
    for statement in fixed.threads[t].body:
        if statement.span == span:
            return original
        if statement.span.line != 0:
            original += 1
    return original


def _spans(statement: model.Statement):
    yield statement.span
    if isinstance(statement, model.Repeat):
        for inner in statement.body:
            yield from _spans(inner)
    elif isinstance(statement, model.Either):
        for branch in statement.branches:
            for inner in branch:
                yield from _spans(inner)


__all__ = ["FixOutcome", "Placement", "synthesise", "span_of"]
