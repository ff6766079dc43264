"""Replay a witness through the reference interpreter into a Trace of plain values.

A witness from any engine is only a list of transition labels; replay re-runs each one with
semantics.py and fails loudly if a label is not a transition of the machine, so a printed
trace is always an execution of the model.
"""

from __future__ import annotations

from dataclasses import dataclass

from checker.engines.reference import Witness
from checker.machine.semantics import Finding, Label, Semantics
from checker.machine.state import State


class ReplayError(Exception):
    """A counterexample that is not an execution of the machine: a bug in an engine."""


@dataclass(frozen=True)
class TraceStep:
    label: Label
    before: State
    after: State
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class Trace:
    kind: str
    start: State
    steps: tuple[TraceStep, ...]
    finding: Finding


def _step(sem: Semantics, state: State, label: Label) -> tuple[State, tuple] | None:
    """The transition `label` names from `state` (its state and findings), or None."""
    if label.actor >= 0:
        options = sem.thread_successors(state, label.actor)
    else:
        options = [(lb, s, ()) for lb, s in sem.env_successors(state)]
    return next(((s, f) for lb, s, f in options if lb == label), None)


def replay(sem: Semantics, witness: Witness) -> Trace:
    """Run the witness's labels from its start state; check it ends in its finding."""
    if not sem.is_start(witness.start):
        raise ReplayError("the witness does not begin in a start state")
    state = witness.start
    steps = []
    for label in witness.labels:
        taken = _step(sem, state, label)
        if taken is None:
            raise ReplayError(f"step {len(steps) + 1} ({label}) is not a transition")
        after, findings = taken
        steps.append(TraceStep(label, state, after, findings))
        state = after
    finding = witness.finding
    if finding.kind == "lost_write":
        if not any(lost[:3] == finding.data[:3] for lost in sem.lost_words(state)):
            raise ReplayError("the witness does not end with the lost write it claims")
    elif finding.kind == "deadlock":
        if not sem.deadlocked(state):
            raise ReplayError("the witness does not end in a deadlock")
    elif not steps or finding not in steps[-1].findings:
        raise ReplayError(f"the witness's last step does not show {finding.kind}")
    return Trace(witness.kind, witness.start, tuple(steps), finding)


def _ending(sem: Semantics, start: State, labels: list[Label], kind: str) -> Finding | None:
    """Run `labels` from `start`; the finding of `kind` they end in, or None if they are not
    an execution or do not end in such a finding."""
    state, findings = start, ()
    for label in labels:
        taken = _step(sem, state, label)
        if taken is None:
            return None
        state, findings = taken
    if kind == "lost_write":
        lost = sem.lost_words(state)
        return Finding("lost_write", -1, -1, lost[0]) if lost else None
    if kind == "deadlock":
        if not sem.deadlocked(state):
            return None
        return Finding("deadlock", -1, -1, tuple(t for t, pc in enumerate(state.pcs) if pc != -1))
    return next((f for f in findings if f.kind == kind), None)


def shrink(sem: Semantics, witness: Witness) -> Witness:
    """A witness without the hardware events and start-state lines the finding does not
    need: each is dropped, in turn, when the rest still ends in the same kind of finding."""
    labels = list(witness.labels)
    i = 0
    while i < len(labels):
        if labels[i].actor < 0:
            candidate = labels[:i] + labels[i + 1 :]
            if _ending(sem, witness.start, candidate, witness.kind) is not None:
                labels = candidate
                continue
        i += 1
    start = witness.start

    def weight(s: State) -> tuple:
        lines = sum(0 if line is None else 1 + line[0] for line in s.cache)
        return (lines, repr(s.cache))

    simpler = sorted(
        (s for s in sem.initial_states([start.hcol])
         if s.pcs == start.pcs and weight(s) < weight(start)),
        key=weight,
    )
    for candidate in simpler:
        if _ending(sem, candidate, labels, witness.kind) is not None:
            start = candidate
            break
    finding = _ending(sem, start, labels, witness.kind)
    assert finding is not None
    return Witness(witness.kind, start, tuple(labels), finding)
