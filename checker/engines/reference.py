"""Reference search: breadth first over the states of the reference interpreter.

The explicit engine (checker/engines/) searches the same machine on flat states with
reductions; this plain search over semantics.py is the oracle the tests hold it to
(tests/test_engines.py: same states, same kinds). It also defines what both engines return:
Witness and SearchOutcome.

Every start state is a root; a visited set makes the search finite (threads are loop-free,
write ids are bounded by the writes in the program, and caches are finite). Breadth first
means the first witness found for each kind of finding is a shortest one.

At a state where every thread has finished, environment events are not expanded: the lost
write check there tries every order of draining the dirty lines, which covers every later
eviction (a clean eviction or a speculative fill cannot change what reaches memory).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from checker.machine.program import END, Program
from checker.machine.semantics import Finding, Label, Semantics
from checker.machine.state import State


@dataclass(frozen=True)
class Witness:
    """A shortest execution showing one kind of finding."""

    kind: str
    start: State
    labels: tuple[Label, ...]
    finding: Finding


@dataclass(frozen=True)
class SearchOutcome:
    witnesses: dict[str, Witness]  # kind -> witness
    states: int
    complete: bool  # False when a limit stopped the search: the answer is inconclusive
    reason: str = ""
    # The Node.unit of every maintenance step that runs in some execution (the candidates
    # for redundant_flush: a statement that never performs maintenance is never redundant).
    maintained: frozenset = frozenset()


def search(
    program: Program, max_states: int = 2_000_000, deadline: float | None = None
) -> SearchOutcome:
    """Explore every execution of `program`; report one shortest witness per finding kind.
    Past `max_states` states or the `deadline` (time.monotonic()) the outcome is incomplete."""
    sem = Semantics(program)
    parent: dict[State, tuple[State, Label] | None] = {}
    queue: deque[State] = deque()
    for start in sem.initial_states():
        if start not in parent:
            parent[start] = None
            queue.append(start)
    witnesses: dict[str, Witness] = {}
    maintained: set = set()
    nodes = program.nodes

    def path(state: State) -> tuple[State, tuple[Label, ...]]:
        labels: list[Label] = []
        link = parent[state]
        while link is not None:
            state, label = link
            labels.append(label)
            link = parent[state]
        return state, tuple(reversed(labels))

    def record(finding: Finding, state: State, label: Label | None) -> None:
        if finding.kind in witnesses:
            return
        start, labels = path(state)
        if label is not None:
            labels = (*labels, label)
        witnesses[finding.kind] = Witness(finding.kind, start, labels, finding)

    n_threads = len(program.threads)
    while queue:
        state = queue.popleft()
        if all(pc == END for pc in state.pcs):
            if "lost_write" not in witnesses:
                lost = sem.lost_words(state)
                if lost:
                    record(Finding("lost_write", -1, -1, lost[0]), state, None)
            continue
        moved = False
        for t in range(n_threads):
            for label, nxt, findings in sem.thread_successors(state, t):
                moved = True
                if nodes[label.node].candidate:
                    maintained.add(nodes[label.node].unit)
                for finding in findings:
                    record(finding, state, label)
                if nxt not in parent:
                    parent[nxt] = (state, label)
                    queue.append(nxt)
        if not moved:
            blocked = tuple(t for t in range(n_threads) if state.pcs[t] != END)
            record(Finding("deadlock", -1, -1, blocked), state, None)
        for label, nxt in sem.env_successors(state):
            if nxt not in parent:
                parent[nxt] = (state, label)
                queue.append(nxt)
        if len(parent) > max_states:
            return SearchOutcome(witnesses, len(parent), False, f"more than {max_states} states",
                                 frozenset(maintained))
        if deadline is not None and time.monotonic() > deadline:
            return SearchOutcome(witnesses, len(parent), False, "out of time",
                                 frozenset(maintained))
    return SearchOutcome(witnesses, len(parent), True, "", frozenset(maintained))
