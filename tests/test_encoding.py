"""The Z3 encoding against the reference interpreter, piece by piece.

The environment relation (encode/environment.py) claims to allow exactly the states that
sequences of single hardware events reach between two thread steps. Here both sides are
enumerated from concrete states and compared as sets, on every single-level geometry.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest
import z3
from helpers import load_text

from checker.engines.smt.environment import environment
from checker.engines.smt.shape import Shape
from checker.engines.smt.unroll import step_bound, step_windows
from checker.machine.lower import lower
from checker.machine.program import END
from checker.machine.semantics import Semantics
from checker.machine.state import Layout, State

GEOMETRIES = [
    ("cache L1 vipt colours 2 write_back", "yes"),
    ("cache L1 vipt colours 3 write_back line_words 2", "tlb"),
    ("cache L1 vivt write_back", "yes"),
    ("cache L1 pipt write_back", "no"),
    ("cache L1 vipt colours 2 write_through", "yes"),
]

PROTOCOL = """
arch a {{
    {cache}
    speculative_fill {spec}
    fn kmap(p: page) -> mapping {{ return map p colour any }}
}}
protocol p {{
    page pg words {words}
    mapping u = user(pg)
    mapping v = user(pg)
    thread kernel {{
        k = kmap(pg)
        write k[0]
        write u[{last}]
    }}
    thread user {{
        write v[0]
        read u[0]
    }}
}}
"""


def _closure(sem: Semantics, start: State) -> set[State]:
    seen = {start}
    queue = deque([start])
    while queue:
        for _label, nxt in sem.env_successors(queue.popleft()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _pin(shape: Shape, terms: list, state: State) -> list:
    """Constraints fixing a symbolic state to a concrete one (absent lines: present false)."""
    lay, cons = shape.layout, []
    for x in range(len(lay.slots)):
        line = state.cache[x]
        cons.append(terms[shape.present[x]] == (line is not None))
        cons.append(terms[shape.dirty[x]] == (line is not None and line[0]))
        for o, i in enumerate(shape.data[x]):
            cons.append(terms[i] == (line[1][o] if line is not None else 0))
    groups = [(shape.mem, state.mem), (shape.last, state.last), (shape.hcol, state.hcol),
              (shape.hstat, state.hstat), (shape.counter and [shape.counter], [state.counter])]
    for indices, values in groups:
        cons.extend(terms[i] == v for i, v in zip(indices, values, strict=True))
    cons.extend(terms[i] == v for i, v in zip(shape.tlb, state.tlb, strict=True))
    return cons


def _relation_states(shape: Shape, program, state: State) -> set[tuple]:
    s = shape.fresh("pre")
    e, cons = environment(program, shape.layout, shape, s, "t")
    solver = z3.Solver()
    solver.add(*cons, *_pin(shape, s, state))
    found = set()
    while solver.check() == z3.sat:
        decoded = shape.decode(solver.model(), e)
        found.add((decoded.cache, decoded.mem))
        # Block this decoded state (the data of an absent line is free, so not by model).
        same = [e[i] == v for i, v in zip(shape.mem, decoded.mem, strict=True)]
        for x, line in enumerate(decoded.cache):
            same.append(e[shape.present[x]] == (line is not None))
            if line is not None:
                same.append(e[shape.dirty[x]] == line[0])
                same.extend(e[i] == v for i, v in zip(shape.data[x], line[1], strict=True))
        solver.add(z3.Not(z3.And(same)))
    return found


@pytest.mark.parametrize(("cache", "spec"), GEOMETRIES)
def test_environment_relation_is_exact(tmp_path: Path, cache: str, spec: str) -> None:
    words = 3 if "line_words 2" in cache else 1
    text = PROTOCOL.format(cache=cache, spec=spec, words=words, last=words - 1)
    library = load_text(tmp_path, text)
    program = lower(library.protocols[0], library.arches["a"])
    sem = Semantics(program)
    shape = Shape(program, Layout(program))
    # Sample reachable states: every start state and the states after a few steps.
    states, frontier = [], sem.initial_states()
    for _ in range(3):
        states.extend(frontier[:6])
        frontier = [nxt for st in frontier[:6] for t in range(len(st.pcs))
                    for _lb, nxt, _f in sem.thread_successors(st, t)]
    assert states
    for state in states:
        expected = {(s.cache, s.mem) for s in _closure(sem, state)}
        assert _relation_states(shape, program, state) == expected


def test_step_bound_counts_the_longest_path(tmp_path: Path) -> None:
    library = load_text(tmp_path, """
arch a { fn f(p: page) { if anon(p) { set p.x } else { set p.y; clear p.y } } }
protocol p {
    page pg
    thread t { f(pg); either { signal e } or { signal e; signal e } }
    thread u { repeat 3 { wait e } }
}
""")
    program = lower(library.protocols[0], library.arches["a"])
    # t: test + (2 on the longer branch) + 2 (longer either branch); u: 3 waits.
    assert step_bound(program) == 1 + 2 + 2 + 3


WINDOWS_TEXT = """
arch a { fn f(p: page) { if anon(p) { set p.x } else { set p.y; clear p.y } } }
protocol p {
    page pg
    mapping m = user(pg)
    thread t {
        f(pg)
        either { signal e } or { lock l; write m[0]; unlock l; signal e }
        read m[0]
        either { signal g } or { }
    }
    thread u {
        either { } or { write m[0] }
        wait e
        lock l
        read m[0]
        unlock l
    }
    thread v { lock l; unlock l; wait e; wait g }  // may wait for good: the run idles
}
"""


def test_step_windows_hold_every_reachable_pc(tmp_path: Path) -> None:
    """The unrolling encodes at step k only the nodes step_windows allows there; every pc
    the interpreter reaches after k thread steps must be among them (environment events
    move no pc and enable no thread, so thread steps alone give every pc). A state where no
    thread can move stays for every later step (the unrolling idles)."""
    library = load_text(tmp_path, WINDOWS_TEXT)
    program = lower(library.protocols[0], library.arches["a"])
    sem = Semantics(program)
    windows = step_windows(program)
    bound = step_bound(program)
    layer = set(sem.initial_states())
    stuck: set[State] = set()
    seen_pcs = set()
    for k in range(bound + 1):
        for state in layer | stuck:
            for t, pc in enumerate(state.pcs):
                if pc == END:
                    continue
                first, last = windows[t][pc]
                assert first <= k and (last is None or k <= last), (t, pc, k)
                seen_pcs.add((t, pc))
        nxt = set()
        for state in layer:
            moved = [s for t in range(len(state.pcs))
                     for _lb, s, _f in sem.thread_successors(state, t)]
            nxt.update(moved)
            if not moved:
                stuck.add(state)
        layer = nxt
    assert not layer  # no execution is longer than the bound
    # Every node is reached but the `else` branch (the page is anonymous).
    assert seen_pcs == {(t, pc) for t, w in enumerate(windows) for pc in w
                        if program.nodes[pc].flag != "y"}


START_TEXT = """
arch a {
    cache L1 vipt colours 2 write_back
    fn id(m: mapping) -> mapping { return m }
    fn kmap(p: page) -> mapping { return map p colour any }
    fn kunmap(m: mapping) { unmap m }
}
protocol p {
    page pg
    mapping m = user(pg)
    thread t {
        either { x = id(m) } or { }
        read m[0]
    }
    thread u {
        k = kmap(pg)
        kunmap(k)
    }
}
"""


def _start_states(program) -> set[State]:
    """Every state the unrolling's start constraints allow (by enumeration)."""
    from checker.engines.smt.step import StepEncoder
    from checker.engines.smt.unroll import initial

    layout = Layout(program)
    shape = Shape(program, layout)
    s = shape.fresh("start")
    solver = z3.Solver()
    solver.add(*initial(program, layout, shape, StepEncoder(program, layout, shape), s))
    found = set()
    while solver.check() == z3.sat:
        state = shape.decode(solver.model(), s)
        found.add(state)
        same = [s[i] == v for i, v in zip(shape.reg, [shape.no_handle if r < 0 else r
                                                      for r in state.regs], strict=True)]
        same += [s[i] == v for i, v in zip(shape.hcol, state.hcol, strict=True)]
        same += [s[i] == v for i, v in zip(shape.pc, [shape.end_pc if pc < 0 else pc
                                                     for pc in state.pcs], strict=True)]
        for x, line in enumerate(state.cache):
            same.append(s[shape.present[x]] == (line is not None))
            if line is not None:
                same.append(s[shape.dirty[x]] == line[0])
        solver.add(z3.Not(z3.And(same)))
    return found


def test_start_states_are_exactly_the_interpreters(tmp_path: Path) -> None:
    """The unrolling's start constraints allow exactly semantics.initial_states(), including
    registers moved by a thread's first silent nodes (review, 2026-11-25: a register moved on
    one start path was left free on the others)."""
    library = load_text(tmp_path, START_TEXT)
    program = lower(library.protocols[0], library.arches["a"])
    assert _start_states(program) == set(Semantics(program).initial_states())


SYMMETRIC_START = """
arch c4 {
    cache L1 vipt colours 4 write_back
    fn fdp(p: page) { flush user(p) }
    fn fall(p: page) { flush all(p) }
}
protocol p {
    page pg
    mapping a = user(pg) colour any
    mapping b = user(pg) colour any
    mapping c = user(pg) colour 2
    thread t { read a[0]; read b[0]; read c[0]; FLUSH(pg) }
}
"""


def test_start_colours_are_one_per_renaming_of_the_free_colours(tmp_path: Path) -> None:
    """With colour symmetry, the start constraints allow exactly the start states of the
    explicit engine's canonical colourings (free colours first used in increasing order);
    with a flush of all(p), which writes copies out in colour order, every colouring."""
    from checker.engines.explicit.flat import FlatMachine
    from checker.engines.explicit.symmetry import ColourSymmetry

    library = load_text(tmp_path, SYMMETRIC_START.replace("FLUSH", "fdp"))
    program = lower(library.protocols[0], library.arches["c4"])
    sem = Semantics(program)
    canonical = ColourSymmetry(FlatMachine(program)).start_colourings(sem.start_colours())
    # Fixed colours 0 and 2 (c's); free 1 and 3: a takes 0, 2 or the first free colour, b
    # a fixed one, a free one a took, or the next free one (my first list forgot that a
    # `colour any` mapping may also take a fixed colour such as 2).
    assert {(s[0], s[1]) for s in canonical} == {
        (0, 0), (0, 2), (0, 1), (2, 0), (2, 2), (2, 1), (1, 0), (1, 2), (1, 1), (1, 3)}
    assert _start_states(program) == set(sem.initial_states(canonical))
    library = load_text(tmp_path, SYMMETRIC_START.replace("FLUSH", "fall"))
    program = lower(library.protocols[0], library.arches["c4"])
    assert _start_states(program) == set(Semantics(program).initial_states())
