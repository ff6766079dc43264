"""--explain (which maintenance a safe protocol rests on, per arch) and --compare (what an
arch variant changes), on the shipped spec and the kunmap-flushes-everywhere variants."""

from __future__ import annotations

import pytest
from helpers import REPO, run_cli

from checker.check import CheckOptions, check
from checker.front.load import load_files
from checker.whatif import compare, explain, without_calls

SPEC = str(REPO / "specs" / "set_bit_to_user.flow")
VARIANTS = str(REPO / "examples" / "kunmap_flushes_everywhere.flow")




def test_explain_names_the_load_bearing_flush() -> None:
    """set_bit_to_user_quiescent_flushed: on arm_v6 the added flush_dcache_page is what
    makes it safe (dropped: a stale read); on parisc it can go (kunmap_atomic flushes)."""
    library = load_files([SPEC]).library
    protocol = next(p for p in library.protocols
                    if p.name == "set_bit_to_user_quiescent_flushed")
    flush = next(s.span for s in protocol.threads[0].body
                 if getattr(s, "function", "") == "flush_dcache_page")
    arm = explain(protocol, library.arches["arm_v6"], CheckOptions())
    assert arm.status == "safe" and arm.roles[flush].kinds == {"stale_read"}
    parisc = explain(protocol, library.arches["parisc"], CheckOptions())
    assert parisc.roles[flush].kinds == frozenset()
    # Each role is what a check with that statement's maintenance dropped finds.
    assert flush not in explain(protocol, library.arches["x86"], CheckOptions()).roles
    unsafe = next(p for p in library.protocols if p.name == "set_bit_to_user")
    assert explain(unsafe, library.arches["arm_v6"], CheckOptions()).status == "unsafe"


def test_explain_command(monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    code, out, _ = run_cli(["specs/set_bit_to_user.flow", "--explain", "--arch",
                            "x86,arm_v6,parisc"])
    assert code == 0
    table = out.split("== why: set_bit_to_user_quiescent_flushed", 1)[1]
    row = next(line for line in table.splitlines() if "flush_dcache_page(log)" in line)
    assert row.split()[-3:] == [".", "S", "R"]  # x86 (no-op), arm_v6, parisc
    assert all(len(line) <= 79 for line in out.splitlines())


def test_without_calls_drops_only_the_protocols_own_calls() -> None:
    library = load_files([SPEC]).library
    protocol = next(p for p in library.protocols
                    if p.name == "set_bit_to_user_quiescent_flushed")
    dropped = without_calls(protocol, frozenset({"flush_dcache_page"}))
    functions = [getattr(s, "function", "") for s in dropped.threads[0].body]
    assert "flush_dcache_page" not in functions
    assert len(dropped.threads[0].body) == len(protocol.threads[0].body) - 1
    # The arch's own uses stay: get_user_pages_fast still flushes on arm_v6 (slow GUP).
    assert check(dropped, library.arches["arm_v6"]).kinds == {"stale_read"}


def test_compare_kunmap_flushes_on_mips() -> None:
    """With kunmap flushing, mips no longer needs the callers' flush for vhost after a
    quiescent point (the finding goes), and the callers' flush becomes redundant."""
    library = load_files([SPEC, VARIANTS]).library
    quiescent = next(p for p in library.protocols if p.name == "set_bit_to_user_quiescent")
    flushed = next(p for p in library.protocols
                   if p.name == "set_bit_to_user_quiescent_flushed")
    mips, variant = library.arches["mips"], library.arches["mips_flushing_kunmap"]
    fixed = compare(quiescent, mips, variant, CheckOptions())
    assert fixed.a.kinds == {"stale_read"} and not fixed.b.kinds
    doubled = compare(flushed, mips, variant, CheckOptions())
    assert not doubled.a.kinds and doubled.b.kinds == {"redundant_flush"}
    assert doubled.b.redundant_lines == {
        s.span.line for s in flushed.threads[0].body
        if getattr(s, "function", "") in ("kunmap_atomic", "flush_dcache_page")}


@pytest.mark.parametrize("drop", [False, True])
def test_compare_command(drop: bool) -> None:
    argv = ["--compare", "mips,mips_flushing_kunmap", SPEC, VARIANTS]
    if drop:
        argv += ["--drop-calls", "flush_dcache_page"]
    code, out, _ = run_cli(argv)
    assert code == 1  # some protocols differ
    assert out.startswith("== compare mips with mips_flushing_kunmap")
    assert "set_bit_to_user_quiescent (" in out
    assert out.splitlines()[-2].endswith("newly redundant statements in " +
                                         ("1." if not drop else "0."))
    code, _, err = run_cli(["--compare", "mips", SPEC])
    assert code == 2 and "two arches" in err
