"""The Z3 engine under hostile input: long threads, deadlines that pass while the unrolling
is being built, and checks that share a process with other checks."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest
import z3
from helpers import REPO, load_text

from checker.check import CheckOptions, check
from checker.cli import run
from checker.engines.smt.shape import Shape
from checker.engines.smt.solve import search_z3
from checker.engines.smt.step import StepEncoder
from checker.engines.smt.unroll import OutOfBudget, step_bound, step_windows, unroll
from checker.front.load import load_files
from checker.machine.lower import lower
from checker.machine.program import END
from checker.machine.state import Layout

LONG = """
arch a {
    cache L1 pipt write_back
    speculative_fill yes
    fn kmap(p: page) -> mapping { return map p colour linear }
    fn kunmap(m: mapping) { unmap m }
    fn id(m: mapping) -> mapping { return m }
}
protocol long {
    page pg
    thread t {
        k = kmap(pg)
        repeat 250 { write k[0] }
        repeat 600 { k = id(k) }
        kunmap(k)
        read k[0]
    }
}
"""


def test_a_long_thread_checks(tmp_path: Path) -> None:
    """A thread of 250 writes and a chain of 600 silent moves (review: RecursionError at
    about 250 steps, in the longest-path pass). The finding comes at the end, so the
    witness is decoded and replayed end to end."""
    library = load_text(tmp_path, LONG)
    result = check(library.protocols[0], library.arches["a"], CheckOptions("z3"))
    assert result.complete
    assert result.kinds == {"use_after_unmap"}
    steps = [s for s in result.traces["use_after_unmap"].steps if s.label.actor >= 0]
    assert len(steps) == 1 + 250 + 1 + 1  # kmap, the writes, kunmap, the read


def test_graph_passes_take_the_largest_thread_the_language_allows(tmp_path: Path) -> None:
    """The passes over the control graph at the size limit's scale (without the solver)."""
    body = "\n".join(["repeat 1000 { write m[0] }"] * 20)
    library = load_text(tmp_path, f"""
arch a {{ cache L1 pipt write_back }}
protocol p {{
    page pg
    mapping m = user(pg)
    thread t {{ {body} }}
}}
""")
    program = lower(library.protocols[0], library.arches["a"])
    assert step_bound(program) == 20_000
    windows = step_windows(program)[0]
    # One thread that cannot block: each node at exactly one step, its distance from entry.
    assert sorted(windows.values()) == [(k, k) for k in range(20_000)]


def test_silent_paths_through_a_long_chain(tmp_path: Path) -> None:
    """The silent nodes after a step, through a chain of 3,000 moves (`k = id(k)`), asked
    from the top of the chain first (the recursive pass needed a frame per move)."""
    body = "\n".join(["repeat 1000 { k = id(k) }"] * 3)
    library = load_text(tmp_path, f"""
arch a {{
    cache L1 pipt write_back
    fn id(m: mapping) -> mapping {{ return m }}
}}
protocol p {{
    page pg
    mapping m = user(pg)
    thread t {{
        k = id(m)
        read k[0]
        {body}
        read k[0]
    }}
}}
""")
    program = lower(library.protocols[0], library.arches["a"])
    layout = Layout(program)
    encoder = StepEncoder(program, layout, Shape(program, layout))
    top = next(n.next[0] for n in program.nodes if n.kind == "read" and n.next[0] != END
               and program.nodes[n.next[0]].kind == "move")
    (end, moves), = encoder.paths(top)
    assert program.nodes[end].kind == "read" and len(moves) == 3000


def test_step_windows(tmp_path: Path) -> None:
    """First and last steps at which each node can be current: a node of one thread can be
    reached up to the other threads' longest paths later; a `wait` has no last step."""
    library = load_text(tmp_path, """
arch a { cache L1 pipt write_back }
protocol p {
    page pg
    mapping m = user(pg)
    thread t {
        either { write m[0] } or { }
        read m[0]
        signal e
    }
    thread u {
        wait e
        read m[0]
    }
}
""")
    program = lower(library.protocols[0], library.arches["a"])
    t, u = step_windows(program)
    kinds = {program.nodes[pc].kind: w for pc, w in sorted(t.items())}
    # t: 3 steps at most; u: 2. The read of t comes after 0 or 1 steps of t.
    assert kinds == {"write": (0, 2), "read": (0, 3), "signal": (1, 4)}
    assert sorted((program.nodes[pc].kind, w) for pc, w in u.items()) == [
        ("read", (1, 4)), ("wait", (0, None))]


def _wide(threads: int, repeats: int) -> str:
    bodies = "\n".join(f"    thread t{i} {{ repeat {repeats} {{ write m[0]; read m[0] }} }}"
                       for i in range(threads))
    return f"protocol wide {{\n    page pg\n    mapping m = user(pg)\n{bodies}\n}}\n"


def _program(tmp_path: Path, text: str, arch: str):
    path = tmp_path / "t.flow"
    path.write_text(text, encoding="utf-8")
    library = load_files([str(path)]).library
    return library.protocols[0], library.arches[arch]


def test_a_deadline_stops_the_unrolling(tmp_path: Path) -> None:
    """Six threads of 120 steps on parisc: the unrolling takes minutes and gigabytes to build
    (review: 66 s for --timeout 5). A deadline already passed, or one that passes while it
    is being built, ends the check as inconclusive, out of time."""
    protocol, arch = _program(tmp_path, _wide(6, 60), "parisc")
    program = lower(protocol, arch)
    layout = Layout(program)
    with pytest.raises(OutOfBudget):
        unroll(program, layout, Shape(program, layout, z3.Context()), time.monotonic() - 1)
    for deadline in (time.monotonic() - 1, time.monotonic() + 0.5):
        outcome = search_z3(program, deadline)
        assert not outcome.complete
        assert outcome.reason == "out of time (--timeout)"
        assert not outcome.witnesses
    result = check(protocol, arch, CheckOptions("z3", timeout=0.5))
    assert not result.complete
    assert result.reason == "out of time (--timeout)"


def test_the_engine_keeps_out_of_z3s_global_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every term of a check lives in the check's own context: z3's global one is what made
    a check's witness depend on the checks before it in the same process."""
    library = load_files([str(REPO / "specs/set_bit_to_user.flow")]).library
    protocol = next(p for p in library.protocols if p.name == "set_bit_to_user")
    program = lower(protocol, library.arches["arm_v6"])

    def forbidden() -> z3.Context:
        raise AssertionError("the Z3 engine used z3's global context")

    monkeypatch.setattr(z3.z3, "main_ctx", forbidden)
    assert set(search_z3(program).witnesses) == {"stale_read"}


def _sections(text: str) -> dict[str, str]:
    """The report of each check (`== protocol on arch ...` to the next), the closing grid
    and summary left out (the grid begins with arch names written downwards: a line of
    one-letter words)."""
    body = text.split("\n\n")
    out: dict[str, list[str]] = {}
    current = None
    for block in body:
        head = block.lstrip("\n").splitlines()[0] if block.strip() else ""
        if head and all(len(word) == 1 for word in head.split()):
            break
        if head.startswith("== "):
            current = head
            out[current] = []
        if current is not None and not re.match(r"\d+ checks?:", block.splitlines()[-1]
                                                if block.strip() else ""):
            out[current].append(block)
    return {k: "\n\n".join(v) for k, v in out.items()}


def test_a_check_prints_the_same_trace_whatever_ran_before_it(tmp_path: Path) -> None:
    """set_bit_to_user on parisc printed one trace alone and another after the arm_v6 check
    (review: `--arch parisc` against `--arch arm_v6,parisc`, and with --jobs): z3's global
    context carried state from one check to the next. Now the parisc report is the same
    bytes alone, after arm_v6 in this process, and in a worker of --jobs 2."""
    spec = (REPO / "specs/set_bit_to_user.flow").read_text(encoding="utf-8")
    start = spec.index("protocol set_bit_to_user {")
    path = tmp_path / "one.flow"
    path.write_text(spec[start:spec.index("protocol ", start + 1)], encoding="utf-8")
    reports = []
    for arches, jobs in [("parisc", "1"), ("arm_v6,parisc", "1"), ("arm_v6,parisc", "2")]:
        out = io.StringIO()
        code = run([str(path), "--engine", "z3", "--arch", arches, "--jobs", jobs], out,
                   io.StringIO())
        assert code == 0
        reports.append(_sections(out.getvalue()))
    key = "== set_bit_to_user on parisc: stale_read (engine: z3)"
    assert key in reports[0]
    assert reports[0][key] == reports[1][key] == reports[2][key]


def test_a_witness_depends_on_its_program_alone() -> None:
    """In one process: the same witness before and after another check, and with a deadline
    (the solver's time-out parameter must not steer it)."""
    library = load_files([str(REPO / "specs/set_bit_to_user.flow")]).library
    by_name = {p.name: p for p in library.protocols}
    target = lower(by_name["set_bit_to_user_flushed"], library.arches["parisc"])
    other = lower(by_name["set_bit_to_user"], library.arches["arm_v6"])
    first = search_z3(target)
    search_z3(other)
    assert search_z3(target) == first
    assert search_z3(target, time.monotonic() + 600) == first


def test_the_memory_limit_stops_the_z3_engine_too() -> None:
    # A limit already passed (1 MB: the process holds far more) ends the check at once,
    # with --max-memory's reason, as it does the explicit search.
    library = load_files([str(REPO / "specs/set_bit_to_user.flow")]).library
    result = check(library.protocols[0], library.arches["arm_v6"],
                   CheckOptions(engine="z3", max_memory=1))
    assert not result.complete
    assert result.reason == "more than 1 MB of memory (--max-memory)"
