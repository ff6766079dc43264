"""The explicit engine against the reference interpreter, and its reductions against the plain
search.

- The flat machine (checker/engines/explicit/flat.py) makes, from every reachable state, exactly the
  transitions semantics.py makes: same labels, same next states, same findings.
- The plain flat search visits as many states as the reference search and finds the same
  kinds; the reduced search (symmetry, deferred environment events) finds the same kinds and
  the same maintained statements, and its witnesses replay. Protocols come from the
  `symmetric` strategy, which adds twin threads and free colours so that the reductions
  apply. bench/differential.py runs the same comparison on 10,000 cases.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from strategies import arches, protocols

from checker.engines import reference
from checker.engines.explicit import search as explicit
from checker.engines.explicit.flat import KIND_BITS, FlatMachine
from checker.engines.explicit.symmetry import ColourSymmetry, ThreadSymmetry
from checker.front.load import load_files
from checker.machine.lower import lower
from checker.machine.semantics import Label, Semantics
from checker.report.trace import replay

FAST = settings(max_examples=20, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


def _reachable(sem: Semantics, limit: int = 400) -> list:
    seen, frontier = [], list(sem.initial_states())
    known = set(frontier)
    while frontier and len(seen) < limit:
        state = frontier.pop()
        seen.append(state)
        successors = [s for t in range(len(state.pcs)) for _, s, _ in
                      sem.thread_successors(state, t)]
        successors += [s for _, s in sem.env_successors(state)]
        for s in successors:
            if s not in known:
                known.add(s)
                frontier.append(s)
    return seen


@FAST
@pytest.mark.parametrize("wide", [False, True], ids=["bytes", "tuples"])
@given(protocol=protocols(max_words=3), arch=arches(max_levels=2))
def test_flat_machine_steps_as_the_reference_does(wide, protocol, arch):
    program = lower(protocol, arch)
    sem, flat = Semantics(program), FlatMachine(program, wide=wide)
    for state in _reachable(sem):
        packed = flat.encode(state)
        assert flat.decode(packed) == state
        for t in range(len(state.pcs)):
            want = Counter((label, after, frozenset(f.kind for f in findings))
                           for label, after, findings in sem.thread_successors(state, t))
            got = Counter((Label(*key), flat.decode(after),
                           frozenset(kind for bit, kind in KIND_BITS if bits & bit))
                          for key, after, bits in flat.thread_successors(packed, t))
            assert got == want
        want_env = Counter(sem.env_successors(state))
        got_env = Counter((Label(*key), flat.decode(after))
                          for key, after in flat.env_successors(packed))
        assert got_env == want_env
        if all(pc == -1 for pc in state.pcs):
            assert flat.lost(packed) == bool(sem.lost_words(state))


def _compare(protocol, arch, limit: int = 20_000) -> None:
    program = lower(protocol, arch)
    oracle = reference.search(program, max_states=limit)
    if not oracle.complete:
        return  # beyond the fast profile's cap: not judged
    plain = explicit.search(program, limit * 2, reduce=False)
    reduced = explicit.search(program, limit * 2, reduce=True)
    assert plain.complete and reduced.complete
    assert plain.states == oracle.states
    assert sorted(plain.witnesses) == sorted(oracle.witnesses)
    assert sorted(reduced.witnesses) == sorted(oracle.witnesses)
    assert plain.maintained == oracle.maintained == reduced.maintained
    assert reduced.states <= plain.states
    sem = Semantics(program)
    for witness in [*plain.witnesses.values(), *reduced.witnesses.values()]:
        replay(sem, witness)
    # Breadth first on both sides: each witness is a shortest execution.
    for kind, witness in reduced.witnesses.items():
        assert len(witness.labels) == len(oracle.witnesses[kind].labels)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(protocol=protocols(max_words=2, symmetric=True), arch=arches(max_colours=6))
def test_reduced_search_agrees_with_the_plain_and_reference_searches(protocol, arch):
    _compare(protocol, arch)


@FAST
@given(protocol=protocols(max_words=2, symmetric=True), arch=arches(max_levels=2))
def test_reductions_agree_on_two_level_caches(protocol, arch):
    _compare(protocol, arch)


TWINS = """
arch vipt3 {
    cache L1 vipt colours 3 write_back
    speculative_fill yes
    fn kmap(p: page) -> mapping { return map p colour any }
    fn kunmap(m: mapping) { unmap m }
    fn flush_all(p: page) { flush all(p) }
    fn flush_users(p: page) { flush user(p) }
}
protocol twins {
    page p file
    mapping u1 = user(p) colour any
    mapping u2 = user(p) colour any
    thread a { write u1[0]; signal s }
    thread b { write u2[0]; signal s }
    thread k { wait s; FLUSH(p); k = kmap(p); read k[0]; kunmap(k) }
}
"""


def _program(flush: str):
    text = TWINS.replace("FLUSH", flush)
    path = "twins.flow"
    from checker.front.parser import parse
    from checker.front.resolve import resolve
    from checker.front.resources import builtin_arch_files
    from checker.front.source import SourceText

    files = [parse(SourceText(n, t)) for n, t in builtin_arch_files()]
    library = resolve([*files, parse(SourceText(path, text))])
    return lower(library.protocols[0], library.arches["vipt3"])


def test_both_symmetries_apply_to_twin_threads_with_their_own_mappings():
    program = _program("flush_users")
    machine = FlatMachine(program)
    assert ColourSymmetry(machine).active
    assert [[m.thread for m in c] for c in ThreadSymmetry(machine).classes] == [[0, 1]]


def test_a_flush_of_two_different_dirty_copies_turns_the_symmetry_it_breaks_off():
    """Both threads leave a dirty copy of the line at their own colour, with different
    words; one flush writes both back in slot order: colour order for all(p) (which colour
    symmetry does not respect), handle order for user(p) (which thread symmetry does not).
    The search notices and answers as the plain search does (here: lost_write either way)."""
    for flush, broken in (("flush_all", "order_colour"), ("flush_users", "order_thread")):
        program = _program(flush)
        machine = FlatMachine(program)
        symmetric = explicit._Search(machine, ColourSymmetry(machine), ThreadSymmetry(machine),
                                     10**6, None, False, None)
        assert not symmetric.run().complete  # thrown away
        assert getattr(machine, broken)
        assert not getattr(machine, ({"order_colour", "order_thread"} - {broken}).pop())
        reduced = explicit.search(program, 10**6, reduce=True)
        plain = explicit.search(program, 10**6, reduce=False)
        oracle = reference.search(program, 10**6)
        assert reduced.complete
        assert sorted(reduced.witnesses) == sorted(plain.witnesses) \
            == sorted(oracle.witnesses)
        assert reduced.maintained == plain.maintained


def test_the_shipped_spec_gives_the_same_verdicts_reduced_and_plain():
    loaded = load_files(["specs/set_bit_to_user.flow"])
    for protocol in loaded.library.protocols:
        for name, arch in loaded.library.arches.items():
            program = lower(protocol, arch)
            reduced = explicit.search(program, 10**6, reduce=True)
            plain = explicit.search(program, 10**6, reduce=False)
            assert sorted(reduced.witnesses) == sorted(plain.witnesses), name
            assert reduced.maintained == plain.maintained, name
            assert reduced.states <= plain.states


def test_a_memory_limit_stops_the_search_inconclusive():
    loaded = load_files(["bench/review.flow"])
    program = lower(loaded.library.protocols[0], loaded.library.arches["arm_v6"])
    outcome = explicit.search(program, 10**7, max_memory=1)  # one byte: stops at once
    assert not outcome.complete
    assert "(--max-memory)" in outcome.reason


def test_progress_is_reported_during_a_long_search():
    loaded = load_files(["bench/review.flow"])
    program = lower(loaded.library.protocols[0], loaded.library.arches["pa8800"])
    seen = []
    outcome = explicit.search(program, 60_000, progress=seen.append)
    assert not outcome.complete  # stopped by the state limit
    assert seen and all(p.states <= 60_001 and p.frontier >= 0 for p in seen)
    assert [p.states for p in seen] == sorted(p.states for p in seen)


CROSS_LEVEL = """
arch two_vipt {
    cache L1 vipt colours 4 write_back
    cache L2 vipt colours 4 write_back
    fn wball(p: page) { writeback all(p) }
    fn evict_a(m: mapping) { flush m }
    fn kmap(p: page) -> mapping { return map p colour linear }
}
protocol cross_level {
    page pg
    mapping a = user(pg) colour any
    mapping b = user(pg) colour 2
    thread t { write b[0]; write a[0]; evict_a(b); wball(pg); signal s }
    thread r { wait s; k = kmap(pg); read k[0] }
}
"""


def test_a_race_between_copies_at_two_levels_gives_the_symmetries_up(tmp_path):
    """Found by review: b's dirty copy is pushed to L2 at colour 2 (`flush b` writes it out
    of L1 into L2), a's stays in L1 at a free colour; `writeback all(p)` writes a's into L2
    at its own colour, then L2's copies in colour order, so which one memory keeps depends
    on whether a's colour is below 2: no colour renaming may merge those colourings. The
    two copies are at different levels when the step starts (the first version of the
    check only compared copies at one level)."""
    path = tmp_path / "cross.flow"
    path.write_text(CROSS_LEVEL)
    loaded = load_files([str(path)])
    program = lower(loaded.library.protocols[0], loaded.library.arches["two_vipt"])
    machine = FlatMachine(program)
    symmetric = explicit._Search(machine, ColourSymmetry(machine), None, 10**6, None, False,
                                 None)
    assert not symmetric.run().complete
    assert machine.order_colour
    reduced = explicit.search(program, 10**6, reduce=True)
    oracle = reference.search(program, 10**6)
    assert sorted(reduced.witnesses) == sorted(oracle.witnesses)
    assert reduced.maintained == oracle.maintained


LONG_THREAD = """
protocol long {
    page p anon
    mapping u = user(p)
    thread kernel {
        k = kmap(p)
        write k[0]
        repeat 260 { read k[0] }
        kunmap(k)
        signal done
    }
    thread user {
        read u[0]
        wait done
        read u[0]
    }
}
"""


@pytest.mark.parametrize("arch", ["arm_v6", "pa8800"])
def test_a_program_of_more_than_255_nodes_searches_as_the_reference(arch, tmp_path) -> None:
    # Past 255 nodes a field no longer fits in a byte and states are tuples: a path that
    # once crashed on its first state (found by the robustness review, issue 9).
    path = tmp_path / "long.flow"
    path.write_text(LONG_THREAD)
    library = load_files([str(path)]).library
    program = lower(library.protocols[0], library.arches[arch])
    assert len(program.nodes) > 255 and FlatMachine(program).freeze is tuple
    reduced = explicit.search(program, 10**6, reduce=True)
    oracle = reference.search(program, 10**6)
    assert reduced.complete and oracle.complete
    assert sorted(reduced.witnesses) == sorted(oracle.witnesses)
    assert reduced.maintained == oracle.maintained


MANY_STARTS = """
arch wide_vipt extends arm_v6 {
    cache L1 vipt colours 256 write_back
}
protocol two_any {
    page p file
    mapping a = user(p) colour any
    mapping b = user(p) colour any
    thread t { write a[0] }
    thread r { read b[0] }
}
"""


@pytest.mark.parametrize("reduce", [False, True])
def test_the_state_limit_holds_while_start_states_are_built(reduce, tmp_path) -> None:
    # 256 x 256 colourings, each with its lines' contents: over half a million start
    # states without colour symmetry. They once were all built before any limit was looked
    # at (40 s and 4 GB for a limit of 10 states).
    path = tmp_path / "starts.flow"
    path.write_text(MANY_STARTS)
    library = load_files([str(path)]).library
    program = lower(library.protocols[0], library.arches["wide_vipt"])
    outcome = explicit.search(program, 10, reduce=reduce)
    assert not outcome.complete and outcome.states == 11
    assert outcome.reason == "more than 10 states (--max-states)"


def _either_chain(n: int) -> str:
    chain = "\n".join("        either { } or { }" for _ in range(n))
    return f"""
protocol chain {{
    page p anon
    mapping u = user(p)
    thread kernel {{
        k = kmap(p)
{chain}
        write k[0]
        kunmap(k)
        signal done
    }}
    thread user {{
        wait done
        read u[0]
    }}
}}
"""


@pytest.mark.parametrize("n", [40, 1500])
def test_a_chain_of_eithers_settles_in_linear_time(n, tmp_path) -> None:
    # Each `either` doubles the ways through the chain, but they all end at the same node:
    # settling once walked all 2^n (and recursed per
    # choice, so 1,500 of them were a RecursionError) in semantics.py and in flat.py alike.
    path = tmp_path / "chain.flow"
    path.write_text(_either_chain(n))
    library = load_files([str(path)]).library
    program = lower(library.protocols[0], library.arches["arm_v6"])
    reduced = explicit.search(program, 10**6, reduce=True)
    plain = explicit.search(program, 10**6, reduce=False)
    oracle = reference.search(program, 10**6)
    assert reduced.complete and plain.complete and oracle.complete
    assert plain.states == oracle.states
    assert sorted(reduced.witnesses) == sorted(plain.witnesses) == sorted(oracle.witnesses)
    sem = Semantics(program)
    for witness in reduced.witnesses.values():
        replay(sem, witness)


@pytest.mark.parametrize("engine", ["explicit", "z3"])
def test_a_wait_nothing_signals_is_a_deadlock_on_both_engines(engine, tmp_path) -> None:
    """Legal input (the front end only warns); the search must find the deadlock."""
    from helpers import load_text

    from checker.check import CheckOptions, check

    text = (
        "arch vipt { cache L1 vipt colours 2 }\n"
        "protocol p {\n    page g\n    mapping u = user(g)\n"
        "    thread a { write u[0]; signal done }\n"
        "    thread b { wait done; wait never; read u[0] }\n"
        "    expect deadlock on vipt\n}\n"
    )
    library = load_text(tmp_path, text)
    result = check(library.protocols[0], library.arches["vipt"], CheckOptions(engine=engine))
    assert result.complete and result.kinds == {"deadlock"} and result.matches
    assert result.engine == engine
    finding = result.traces["deadlock"].finding
    assert (finding.kind, finding.data) == ("deadlock", (1,))  # thread b, stuck at `wait never`
