"""Golden counterexample traces, compared exactly (pytest --update-golden rewrites them;
read the diff as a kernel developer would read the trace before committing it)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

from checker.cli import run

GOLDEN = REPO / "tests" / "golden" / "traces"

# (golden name, command line): every kind of finding, the redundancy report, and the spec.
CASES = [
    ("set_bit_to_user", ["specs/set_bit_to_user.flow", "--arch", "arm_v6,parisc"]),
    ("findings", ["tests/litmus/findings.flow", "--arch", "vipt2,pipt"]),
    ("speculation", ["tests/litmus/speculation.flow", "--arch", "spec_tlb"]),
    ("dma", ["tests/litmus/dma.flow", "--arch", "dma_incoherent,dma_coherent"]),
    ("levels", ["tests/litmus/levels.flow", "--arch", "two_level,two_level_victim"]),
    # What a trace rests on: start lines, hardware events, arch hooks, where a value came from.
    ("explain", ["tests/litmus/explain.flow", "--arch", "hooked"]),
    # A page fault: the first access through a mapping that starts unfaulted.
    ("unfaulted", ["tests/litmus/unfaulted.flow", "--arch", "clean_flag,dirty_flag"]),
]


def test_a_trace_claims_only_its_own_kind(in_repo: Path) -> None:
    """The lost_write trace of read_after_device_write passes the stale read (its start line
    is dirty and the process reads it) but marks only the lost write."""
    out = io.StringIO()
    run(["tests/litmus/explain.flow", "--arch", "hooked"], out, io.StringIO())
    report = out.getvalue()
    section = report.split("== read_after_device_write on hooked")[1]
    lost = section.split("-- lost_write")[1].split("-- stale_read")[0]
    assert "reads pg[0] = #0" in lost  # it passes the stale read ...
    assert "=> stale_read" not in lost  # ... without claiming it
    assert "=> stale_read" in section.split("-- stale_read")[1]


@pytest.mark.parametrize(("name", "argv"), CASES)
def test_golden_trace(name: str, argv: list[str], in_repo: Path, assert_golden) -> None:
    out, err = io.StringIO(), io.StringIO()
    run([*argv, "--engine", "explicit"], out, err)
    text = out.getvalue()
    assert err.getvalue() == ""
    assert all(len(line) < 80 for line in text.splitlines()), "a line is 80 columns or more"
    assert_golden(GOLDEN / f"{name}.txt", f"$ check {' '.join(argv)} --engine explicit\n{text}")


def test_same_input_same_bytes_across_processes(in_repo: Path) -> None:
    """Separate processes with different hash seeds print the same bytes (set and dict
    orders must never reach the output), with either engine."""
    outputs = set()
    for engine, seed in [("explicit", "1"), ("explicit", "2"), ("z3", "3"), ("z3", "4")]:
        proc = subprocess.run(
            [sys.executable, "-m", "checker", "tests/litmus/findings.flow", "--arch", "vipt2",
             "--engine", engine],
            capture_output=True, text=True, check=False,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outputs.add((engine, proc.returncode, proc.stdout))
    assert len(outputs) == 2  # one output per engine (each engine may pick other traces)


def test_json_report_holds_what_the_text_report_says(in_repo: Path) -> None:
    import json

    out = io.StringIO()
    code = run(["specs/set_bit_to_user.flow", "--arch", "arm_v6,parisc", "--format", "json"],
               out, io.StringIO())
    document = json.loads(out.getvalue())
    assert code == 0
    assert document["summary"] == {"checks": 8, "as_expected": 8, "unexpected": 0,
                                   "inconclusive": 0}
    by_name = {(c["protocol"], c["arch"]): c for c in document["checks"]}
    stale = by_name[("set_bit_to_user", "arm_v6")]
    assert stale["found"] == ["stale_read"] and stale["as_expected"]
    last = stale["traces"]["stale_read"]["steps"][-1]
    assert last["findings"] == ["stale_read"] and last["statement"] == "read qemu[0]"
    assert last["at"].startswith("specs/set_bit_to_user.flow:")
    double = by_name[("set_bit_to_user_quiescent_flushed", "parisc")]["redundant"]
    assert [r["statement"] for r in double] == ["kunmap_atomic(k)", "flush_dcache_page(log)"]
    assert double[0]["not_together_with"] == [double[1]["at"]]


def test_same_bytes_whatever_the_number_of_jobs(in_repo: Path) -> None:
    """--jobs changes where checks run, never what is printed (text or JSON), on both
    engines."""
    for engine in ("explicit", "z3"):
        for fmt in ("text", "json"):
            outputs = set()
            for jobs in ("1", "2", "3"):
                out, err = io.StringIO(), io.StringIO()
                code = run(["tests/litmus/findings.flow", "tests/litmus/dma.flow", "--engine",
                            engine, "--format", fmt, "--jobs", jobs], out, err)
                outputs.add((code, out.getvalue(), err.getvalue()))
            assert len(outputs) == 1, (engine, fmt)
