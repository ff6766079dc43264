"""The Z3 engine: ask the unrolling, per kind of finding, for an execution that shows it;
decode the shortest one into a witness the reference interpreter can replay.

Each question goes to a fresh bit-blasting QF_FD solver with a fixed seed, so answers are
deterministic (reusing one solver was up to 15x slower here: docs/engines.md).
"""

from __future__ import annotations

import time
from collections import deque

import z3

from checker.engines.reference import SearchOutcome, Witness
from checker.engines.smt import DecodeError
from checker.engines.smt.shape import Shape
from checker.engines.smt.unroll import Unrolling, unroll
from checker.machine.program import Program
from checker.machine.semantics import Finding, Label, Semantics
from checker.machine.state import Layout, State

KINDS = ("stale_read", "use_after_unmap", "deadlock", "lost_write")


def search_z3(
    program: Program, deadline: float | None = None, maintenance: bool = True
) -> SearchOutcome:
    """Decide, for each kind, whether some execution shows it; a witness for those that do."""
    layout = Layout(program)
    shape = Shape(program, layout)
    unrolled = unroll(program, layout, shape)
    queries = _Queries(unrolled.constraints, deadline)
    sem = Semantics(program)
    # Vacuity: the unrolling must have executions at all, or every answer below would be
    # a meaningless "never" (perf-notes.md: an encoding bug once made every model safe).
    vacuity = queries.ask(z3.BoolVal(True))
    if vacuity == z3.unknown:
        return SearchOutcome({}, unrolled.bound, False, f"the solver gave up: {queries.reason}")
    if vacuity == z3.unsat:
        raise DecodeError("the unrolling has no execution: an encoding bug")
    nodes = program.nodes
    can_block = any(n.kind in ("wait", "lock") for n in nodes)
    witnesses: dict[str, Witness] = {}
    kinds = [k for k in KINDS if k != "deadlock" or can_block]  # a thread that never
    # waits can always move, so without wait or lock there is no deadlock to look for.
    anything = queries.ask(z3.Or([f for k in kinds for f in unrolled.findings[k]]))
    if anything == z3.unknown:
        return SearchOutcome({}, unrolled.bound, False, f"the solver gave up: {queries.reason}")
    for kind in kinds if anything == z3.sat else ():
        first = _first_step(queries, unrolled.findings[kind])
        if first is None:
            continue
        if first == "unknown":
            return SearchOutcome(witnesses, unrolled.bound, False,
                                 f"the solver could not decide {kind}: {queries.reason}")
        witnesses[kind] = _decode(queries.model, unrolled, shape, sem, kind, first)
    maintained: set = set()
    if witnesses or not maintenance:
        return SearchOutcome(witnesses, unrolled.bound, True)
    by_origin: dict = {}
    for pc, steps in unrolled.ran.items():
        by_origin.setdefault(nodes[pc].origin, []).extend(steps)
    for origin, steps in sorted(by_origin.items()):
        answer = queries.ask(z3.Or(steps))
        if answer == z3.unknown:
            return SearchOutcome(witnesses, unrolled.bound, False,
                                 f"the solver could not decide maintenance: {queries.reason}")
        if answer == z3.sat:
            maintained.add(origin)
    return SearchOutcome(witnesses, unrolled.bound, True, "", frozenset(maintained))


class _Queries:
    """Each question to a fresh solver: on this encoding, reusing one solver (with
    assumption literals or push/pop) was up to 15x slower (docs/engines.md)."""

    def __init__(self, constraints: list, deadline: float | None) -> None:
        self.constraints = constraints
        self.deadline = deadline  # time.monotonic() past which every answer is unknown
        self.model: z3.ModelRef | None = None
        self.reason = ""

    def ask(self, goal: z3.BoolRef) -> z3.CheckSatResult:
        solver = z3.SolverFor("QF_FD")
        solver.set("random_seed", 0)
        if self.deadline is not None:
            left_ms = int((self.deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                self.reason = "out of time (--timeout)"
                return z3.unknown
            solver.set("timeout", left_ms)
        solver.add(*self.constraints)
        solver.add(goal)
        answer = solver.check()
        if answer == z3.sat:
            self.model = solver.model()
        elif answer == z3.unknown:
            self.reason = solver.reason_unknown()
        return answer


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


def _decode(model, u: Unrolling, shape: Shape, sem: Semantics, kind: str, at: int) -> Witness:
    """Labels for the reference interpreter: environment events found by a small search
    between each decoded pair of states, and the thread step matching the next state."""
    state = shape.decode(model, u.states[0])
    start = state
    labels: list[Label] = []
    # Thread findings happen at the thread step of step `at`; end findings at states[at].
    steps = at + 1 if kind in ("stale_read", "use_after_unmap") else at
    last_findings: tuple = ()
    for k in range(steps):
        after_env = shape.decode(model, u.envs[k])
        labels.extend(_env_path(sem, state, after_env))
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


def _env_path(sem: Semantics, start: State, goal: State, limit: int = 100_000) -> list[Label]:
    """The fewest environment events leading from `start` to `goal`."""
    if start == goal:
        return []
    parent: dict[State, tuple[State, Label] | None] = {start: None}
    queue = deque([start])
    while queue and len(parent) < limit:
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
