"""The Z3 engine: ask the unrolling, per kind of finding, for an execution that shows it;
decode the shortest one into a witness the reference interpreter can replay.

Each question goes to a fresh bit-blasting QF_FD solver with a fixed seed, in a z3 context
that belongs to this check alone, so answers depend on the program only, not on the checks
run before in the same process (reusing one solver was up to 15x slower here:
docs/engines.md).
"""

from __future__ import annotations

import time
from collections import deque

import z3

from checker.engines.memory import over_memory, resident_bytes
from checker.engines.reference import SearchOutcome, Witness
from checker.engines.smt import DecodeError
from checker.engines.smt.shape import Shape
from checker.engines.smt.unroll import (
    OUT_OF_TIME,
    Clock,
    OutOfBudget,
    Unrolling,
    step_bound,
    unroll,
)
from checker.machine.program import Program
from checker.machine.semantics import Finding, Label, Semantics
from checker.machine.state import Layout, State

KINDS = ("stale_read", "use_after_unmap", "deadlock", "lost_write")


def search_z3(
    program: Program, deadline: float | None = None, maintenance: bool = True,
    max_memory: int | None = None,
) -> SearchOutcome:
    """Decide, for each kind, whether some execution shows it; a witness for those that do.
    Past `deadline` (time.monotonic()) or `max_memory` bytes of this process, while
    building, solving or decoding, the outcome is incomplete, and says which."""
    layout = Layout(program)
    # A context of its own for every check: the witness z3 picks must depend on this
    # program alone, not on what earlier checks left in z3's global context (Shape).
    shape = Shape(program, layout, z3.Context())
    try:
        unrolled = unroll(program, layout, shape, deadline, max_memory)
    except OutOfBudget as stop:
        return SearchOutcome({}, step_bound(program), False, stop.reason)
    queries = _Queries(unrolled.constraints, deadline, shape.ctx, max_memory)
    sem = Semantics(program)
    clock = Clock(deadline, max_memory)
    # Vacuity: the unrolling must have executions at all, or every answer below would be
    # a meaningless "never" (perf-notes.md: an encoding bug once made every model safe).
    vacuity = queries.ask(shape.boolval(True))
    if vacuity == z3.unknown:
        return SearchOutcome({}, unrolled.bound, False, queries.gave_up())
    if vacuity == z3.unsat:
        raise DecodeError("the unrolling has no execution: an encoding bug")
    nodes = program.nodes
    can_block = any(n.kind in ("wait", "lock") for n in nodes)
    witnesses: dict[str, Witness] = {}
    kinds = [k for k in KINDS if k != "deadlock" or can_block]  # a thread that never
    # waits can always move, so without wait or lock there is no deadlock to look for.
    anything = queries.ask(z3.Or([f for k in kinds for f in unrolled.findings[k]]))
    if anything == z3.unknown:
        return SearchOutcome({}, unrolled.bound, False, queries.gave_up())
    for kind in kinds if anything == z3.sat else ():
        first = _first_step(queries, unrolled.findings[kind])
        if first is None:
            continue
        if first == "unknown":
            return SearchOutcome(witnesses, unrolled.bound, False,
                                 queries.gave_up(f"could not decide {kind}"))
        try:
            witnesses[kind] = _decode(queries.model, unrolled, shape, sem, kind, first, clock)
        except OutOfBudget as stop:
            return SearchOutcome(witnesses, unrolled.bound, False, stop.reason)
    maintained: set = set()
    if witnesses or not maintenance:
        return SearchOutcome(witnesses, unrolled.bound, True)
    by_unit: dict = {}
    for pc, steps in unrolled.ran.items():
        if nodes[pc].candidate:  # not a page fault's maintenance: the arch's (program.py)
            by_unit.setdefault(nodes[pc].unit, []).extend(steps)
    for unit, steps in sorted(by_unit.items()):
        answer = queries.ask(z3.Or(steps))
        if answer == z3.unknown:
            return SearchOutcome(witnesses, unrolled.bound, False,
                                 queries.gave_up("could not decide maintenance"))
        if answer == z3.sat:
            maintained.add(unit)
    return SearchOutcome(witnesses, unrolled.bound, True, "", frozenset(maintained))


class _Queries:
    """Each question to a fresh solver: on this encoding, reusing one solver (with
    assumption literals or push/pop) was up to 15x slower (docs/engines.md)."""

    def __init__(self, constraints: list, deadline: float | None, ctx: z3.Context,
                 max_memory: int | None = None) -> None:
        self.constraints = constraints
        self.deadline = deadline  # time.monotonic() past which every answer is unknown
        self.ctx = ctx
        self.max_memory = max_memory  # bytes of this process, the solver's included
        self.model: z3.ModelRef | None = None
        self.reason = ""

    def ask(self, goal: z3.BoolRef) -> z3.CheckSatResult:
        # As z3.SolverFor("QF_FD"), which names the logic in z3's global context.
        logic = z3.Z3_mk_solver_for_logic(self.ctx.ref(), z3.to_symbol("QF_FD", self.ctx))
        solver = z3.Solver(logic, self.ctx)
        solver.set("random_seed", 0)
        if self.deadline is not None:
            left_ms = int((self.deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                self.reason = OUT_OF_TIME
                return z3.unknown
            solver.set("timeout", left_ms)
        if self.max_memory is not None:
            # The solver stops (unknown) past what is left of the limit; at least 1 MB.
            left_mb = max(1, (self.max_memory - resident_bytes()) >> 20)
            solver.set("max_memory", left_mb)
        solver.add(*self.constraints)
        solver.add(goal)
        answer = solver.check()
        if answer == z3.sat:
            self.model = solver.model()
        elif answer == z3.unknown:
            self.reason = solver.reason_unknown()
        return answer

    def gave_up(self, what: str = "gave up") -> str:
        """Why the last question went unanswered: the deadline, said as the explicit engine
        says it, or the solver's own reason."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return OUT_OF_TIME
        if self.max_memory is not None and (resident_bytes() > self.max_memory
                                            or "memory" in self.reason):
            return over_memory(self.max_memory)
        return f"the solver {what}: {self.reason}"


def _first_step(queries: _Queries, flags: list):
    """The earliest step at which `flags` can hold (queries.model then shows it), None if
    never, "unknown" if the solver cannot tell."""
    answer = queries.ask(z3.Or(flags))
    if answer != z3.sat:
        return None if answer == z3.unsat else "unknown"

    def earliest() -> int:
        assert queries.model is not None
        return next(i for i, f in enumerate(flags) if z3.is_true(queries.model.eval(f, True)))

    hi, lo = earliest(), 0  # flags[:lo] cannot hold; flags[hi] can
    best = queries.model
    while lo < hi:
        mid = (lo + hi) // 2
        answer = queries.ask(z3.Or(flags[: mid + 1]))
        if answer == z3.unknown:
            return "unknown"
        if answer == z3.sat:
            hi, best = earliest(), queries.model
        else:
            lo = mid + 1
    queries.model = best
    return hi


def _decode(model, u: Unrolling, shape: Shape, sem: Semantics, kind: str, at: int,
            clock: Clock) -> Witness:
    """Labels for the reference interpreter: environment events found by a small search
    between each decoded pair of states, and the thread step matching the next state
    (OutOfBudget once the clock's deadline or memory limit has passed)."""
    state = shape.decode(model, u.states[0])
    start = state
    labels: list[Label] = []
    # Thread findings happen at the thread step of step `at`; end findings at states[at].
    steps = at + 1 if kind in ("stale_read", "use_after_unmap") else at
    last_findings: tuple = ()
    for k in range(steps):
        clock.tick()
        after_env = shape.decode(model, u.envs[k])
        labels.extend(_env_path(sem, state, after_env, clock))
        t = model.eval(u.selected[k], True).as_long()
        target = shape.decode(model, u.states[k + 1])
        if t == len(sem.program.threads):
            state = after_env
            continue
        match = [(lb, f) for lb, s, f in sem.thread_successors(after_env, t) if s == target]
        if not match:
            raise DecodeError(f"step {k}: no transition of thread {t} reaches the model's state")
        labels.append(match[0][0])
        last_findings = match[0][1]
        state = target
    if kind in ("stale_read", "use_after_unmap"):
        finding = next((f for f in last_findings if f.kind == kind), None)
        if finding is None:
            raise DecodeError(f"the decoded step does not show {kind}")
    elif kind == "lost_write":
        lost = sem.lost_words(state)
        if not lost:
            raise DecodeError("the decoded end state loses no write")
        finding = Finding("lost_write", -1, -1, lost[0])
    else:
        blocked = tuple(t for t, pc in enumerate(state.pcs) if pc != -1)
        finding = Finding("deadlock", -1, -1, blocked)
    return Witness(kind, start, tuple(labels), finding)


def _env_path(sem: Semantics, start: State, goal: State, clock: Clock,
              limit: int = 100_000) -> list[Label]:
    """The fewest environment events leading from `start` to `goal`."""
    if start == goal:
        return []
    parent: dict[State, tuple[State, Label] | None] = {start: None}
    queue = deque([start])
    expanded = 0
    while queue and len(parent) < limit:
        expanded += 1
        if expanded % 256 == 0:
            clock.tick()
        state = queue.popleft()
        for label, nxt in sem.env_successors(state):
            if nxt in parent:
                continue
            parent[nxt] = (state, label)
            if nxt == goal:
                path = []
                link = parent[nxt]
                while link is not None:
                    state, label = link
                    path.append(label)
                    link = parent[state]
                return list(reversed(path))
            queue.append(nxt)
    raise DecodeError("no environment events lead to the model's state")
