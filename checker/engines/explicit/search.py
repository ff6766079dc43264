"""The explicit engine: breadth-first search over flat states (checker/engines/explicit/flat.py).

Every start state is a root; a visited set makes the search finite (threads are loop-free,
write ids are bounded by the writes in the program, and caches are finite). Breadth first
means the first witness found for each kind of finding is a shortest one. With `reduce`,
states are kept one per colour-symmetry orbit (checker/engines/explicit/symmetry.py); a witness is
then rebuilt as a real execution by walking the orbits of its path from its start state
(`_rebuild`), and replayed through the reference interpreter before it is printed.

At a state where every thread has finished, environment events are not expanded: the lost
write check there tries every order of draining the dirty lines, which covers every later
eviction (a clean eviction or a speculative fill cannot change what reaches memory).

The visited set is a dict from state to its index in `states`, which is also the queue;
parents and labels are kept in parallel lists, so a state costs its bytes and three slots.
"""

from __future__ import annotations

import gc
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from checker.engines.explicit.dead import DeadLines
from checker.engines.explicit.flat import KIND_BITS, FlatMachine
from checker.engines.explicit.symmetry import ColourSymmetry, ThreadSymmetry
from checker.engines.memory import over_memory, resident_bytes
from checker.engines.reference import SearchOutcome, Witness
from checker.machine.program import Program
from checker.machine.semantics import Label, Semantics
from checker.report.trace import ReplayError, _ending


@dataclass(frozen=True)
class Progress:
    """What a long search reports from time to time (checker/cli.py shows it)."""

    states: int
    frontier: int
    elapsed: float


def search(
    program: Program,
    max_states: int,
    deadline: float | None = None,
    *,
    reduce: bool = True,
    first_only: bool = False,
    progress: Callable[[Progress], None] | None = None,
    max_memory: int | None = None,
) -> SearchOutcome:
    """Explore every execution of `program`; report one shortest witness per finding kind.

    Past `max_states` states, the `deadline` (time.monotonic()) or `max_memory` bytes of
    resident memory (this process's) the outcome is incomplete (the witnesses found so far
    are kept). With `first_only` the search stops at the first finding of any kind (enough
    to know a program is not clean)."""
    machine = FlatMachine(program)
    colours = ColourSymmetry(machine) if reduce else None
    threads = ThreadSymmetry(machine) if reduce else None
    colours = colours if colours and colours.active else None
    threads = threads if threads and threads.active else None
    enabled = gc.isenabled()
    gc.disable()  # the visited set holds no cycles; the collector would only walk it
    try:
        limits = (max_states, deadline, first_only, progress, max_memory)
        outcome = _Search(machine, colours, threads, *limits, defer=reduce).run()
        if (colours and machine.order_colour) or (threads and machine.order_thread):
            # A flush wrote back two different copies of one line, in an order a symmetry
            # does not respect (symmetry.py): search again without that symmetry.
            again = FlatMachine(program)
            outcome = _Search(again, None if machine.order_colour else colours,
                              None if machine.order_thread else threads, *limits,
                              defer=reduce).run()
            if (colours and again.order_colour) or (threads and again.order_thread):
                outcome = _Search(FlatMachine(program), None, None, *limits,
                                  defer=reduce).run()
        return outcome
    finally:
        if enabled:
            gc.enable()


class _Search:
    def __init__(self, m: FlatMachine, colours: ColourSymmetry | None,
                 threads: ThreadSymmetry | None, max_states: int, deadline: float | None,
                 first_only: bool, progress: Callable[[Progress], None] | None,
                 max_memory: int | None = None, defer: bool = False) -> None:
        self.m = m
        self.symmetry = colours
        self.threads = threads
        dead = DeadLines(m) if defer else None
        self.dead = dead if dead and dead.active else None
        self.canonical = _normaliser(colours, threads, self.dead)
        self.map_colours = colours.map_colours if colours else None
        self.max_states = max_states
        self.deadline = deadline
        self.first_only = first_only
        self.progress = progress
        self.max_memory = max_memory
        # Environment events only on pages some thread's next step touches (docs/engines.md).
        self.defer = defer
        self.index: dict = {}
        self.states: list = []
        self.parent: list[int] = []
        self.label: list = []
        self.found: dict[str, tuple[int, tuple | None]] = {}  # kind -> (state, label key)
        self.maintained_pcs: set[int] = set()
        self.start_of: dict[int, object] = {}  # start index -> the start it was given as

    def starts(self) -> Iterator:
        """The start states, one at a time (all N^k colourings of k `colour any` mappings
        when colour symmetry is off: millions, so they come as a stream)."""
        sem = Semantics(self.m.program)
        choices = sem.start_colours()
        if self.symmetry is not None:
            colourings = self.symmetry.start_colourings(choices)
        else:
            colourings = itertools.product(*choices)
        return map(self.m.encode, sem.each_initial_state(colourings))

    def add(self, state, parent: int, label) -> None:
        """Visit `state`, reached from state `parent` by `label`, unless its class is
        searched already (a state in the visited set is not normalised at all)."""
        index = self.index
        if state in index:
            return
        original = state
        state = self.canonical(state)
        if state not in index:
            index[state] = len(self.states)
            if parent < 0 and original != state:
                # A start's normal form need not be a start state itself (a dead line of
                # `start kernel(P) dirty` is rewritten with memory holding the last write):
                # a witness is rebuilt from the start the search was given.
                self.start_of[len(self.states)] = original
            self.states.append(state)
            self.parent.append(parent)
            self.label.append(label)

    def run(self) -> SearchOutcome:
        m, add, found = self.m, self.add, self.found
        nodes = m.nodes
        is_maint = [n.candidate for n in nodes]
        states = self.states
        n_threads = m.n_threads
        started = time.monotonic()
        self._shown = started
        for n, start in enumerate(self.starts()):  # every limit holds while they come
            self.add(start, -1, None)
            stop = self._over() or (not n & 1023 and n and self._checkpoint(0, started))
            if stop:
                return self.outcome(False, stop)
        if self.deadline is not None and time.monotonic() > self.deadline:
            return self.outcome(False, "out of time (--timeout)")
        i = 0
        while i < len(states):
            if len(states) > self.max_states:
                return self.outcome(False, self._over())
            if not i & 1023 and i:
                stop = self._checkpoint(i, started)
                if stop:
                    return self.outcome(False, stop)
            s = states[i]
            if m.ended(s):
                if "lost_write" not in found and m.lost(s):
                    found["lost_write"] = (i, None)
                    if self.first_only:
                        break
                i += 1
                continue
            moved = False
            local = m.local_thread(s) if self.defer else -1
            for t in range(n_threads) if local < 0 else (local,):
                for key, nxt, kinds in m.thread_successors(s, t, self.map_colours):
                    moved = True
                    if is_maint[key[1]]:
                        self.maintained_pcs.add(key[1])
                    if kinds:
                        for bit, kind in KIND_BITS:
                            if kinds & bit and kind not in found:
                                found[kind] = (i, key)
                    add(nxt, i, key)
            if not moved and "deadlock" not in found:
                found["deadlock"] = (i, None)
            if found and self.first_only:
                break
            if local >= 0:  # a local step goes first, alone (docs/engines.md)
                i += 1
                continue
            for key, nxt in m.env_successors(s, m.focus(s) if self.defer else None):
                add(nxt, i, key)
            i += 1
        return self.outcome(True, "")

    def _over(self) -> str:
        """The reason to stop if the state limit is passed, else ""."""
        if len(self.states) > self.max_states:
            return f"more than {self.max_states:,} states (--max-states)"
        return ""

    def _checkpoint(self, i: int, started: float) -> str:
        """Every 1,024 states: the reason to stop now ("" to go on); progress when due."""
        if self._broken():
            return "a symmetry does not apply"
        now = time.monotonic()
        if self.deadline is not None and now > self.deadline:
            return "out of time (--timeout)"
        if self.progress is not None and now - self._shown >= 0.25:
            self._shown = now
            self.progress(Progress(len(self.states), len(self.states) - i, now - started))
        if self.max_memory is not None and resident_bytes() > self.max_memory:
            return over_memory(self.max_memory)
        return ""

    def _broken(self) -> bool:
        """Whether a step met an order of write-backs that a symmetry in use breaks."""
        return bool((self.symmetry and self.m.order_colour)
                    or (self.threads and self.m.order_thread))

    def _reference(self) -> Semantics:
        if not hasattr(self, "_sem"):
            self._sem = Semantics(self.m.program)
        return self._sem

    def outcome(self, complete: bool, reason: str) -> SearchOutcome:
        if self._broken():
            # Nothing from this search counts (search() runs again without the symmetry).
            return SearchOutcome({}, len(self.states), False, "a symmetry does not apply")
        witnesses = {kind: self._rebuild(kind, at, key)
                     for kind, (at, key) in sorted(self.found.items())}
        nodes = self.m.nodes
        pcs = self.maintained_pcs
        if self.threads is not None:  # what one thread of a class runs, each of them can
            pcs = {image for pc in pcs for image in self.threads.image_pcs(pc)}
        maintained = frozenset(nodes[pc].unit for pc in pcs if nodes[pc].candidate)
        return SearchOutcome(witnesses, len(self.states), complete, reason, maintained)

    # -- witnesses -------------------------------------------------------------------------

    def _rebuild(self, kind: str, at: int, key: tuple | None) -> Witness:
        """A real execution ending in `kind`: the path of orbits to state `at` (then the
        step `key`, for a finding of a thread step), walked from its start state."""
        chain = []
        j = at
        while j >= 0:
            chain.append(j)
            j = self.parent[j]
        chain.reverse()
        m = self.m
        real = self.start_of.get(chain[0], self.states[chain[0]])
        first = real
        keys: list[tuple] = []
        for j in chain[1:]:
            target = self.states[j]
            step = next(((k, n) for k, n in self._successors(real)
                         if self._equivalent(n, target)), None)
            if step is None:
                raise ReplayError(f"{kind}: the search's path has no real step")
            keys.append(step[0])
            real = step[1]
        if key is not None:
            bit = next(b for b, name in KIND_BITS if name == kind)
            last = next((k for t in range(m.n_threads)
                         for k, _, kinds in m.thread_successors(real, t) if kinds & bit), None)
            if last is None:
                raise ReplayError(f"{kind}: the finding's step has no real counterpart")
            keys.append(last)
        sem = self._reference()
        start = m.decode(first)
        labels = tuple(Label(*k) for k in keys)
        finding = _ending(sem, start, list(labels), kind)
        if finding is None:
            raise ReplayError(f"{kind}: the rebuilt execution does not end in it")
        return Witness(kind, start, labels, finding)

    def _equivalent(self, real, target) -> bool:
        """Whether the search's state `target` stands for the real state `real`.

        `target` is the normal form of a state equivalent to `real`, but the normal form is
        not unique per class (threads are sorted by colours that the colour renaming then
        changes), so threads are tried in every order: a thread permutation and a colour
        renaming commute, and the colour normal form is unique per colour class."""
        if real == target or self.canonical(real) == target:
            return True
        if self.threads is None:
            return False
        reduced = self.dead.canonical(real) if self.dead else real
        rename = self.symmetry.canonical if self.symmetry else (lambda s: s)
        return any(rename(p) == target for p in self.threads.permutations(reduced))

    def _successors(self, s):
        m = self.m
        for t in range(m.n_threads):
            for k, n, _ in m.thread_successors(s, t):
                yield k, n
        if not m.ended(s):
            yield from m.env_successors(s)


def _normaliser(colours: ColourSymmetry | None, threads: ThreadSymmetry | None,
                dead: DeadLines | None) -> Callable:
    """A function taking each state to an equivalent one: dead lines reduced, then threads
    sorted, then colours renamed. It need not pick one state per class to be sound, only one
    of the class: the successors of equivalent states are equivalent (docs/engines.md)."""
    steps = [f.canonical for f in (dead, threads, colours) if f is not None]
    if not steps:
        return lambda s: s
    if len(steps) == 1:
        return steps[0]

    def normalise(s):
        for step in steps:
            s = step(s)
        return s

    return normalise
