"""Lowering: calls inlined with late dispatch, repeats unrolled, either as a choice, and the
maintenance of chosen statements dropped (what the redundancy analysis relies on)."""

from __future__ import annotations

from pathlib import Path

from helpers import load_text

from checker.front.source import Span
from checker.machine.lower import lower

TEXT = """
arch base {
    cache L1 vipt colours 2
    fn helper(p: page) { flush_dcache_page(p) }
    fn flush_dcache_page(p: page) { }
    fn kmap(p: page) -> mapping { return map p colour linear }
    fn nothing(p: page) { }
}
arch child extends base {
    fn flush_dcache_page(p: page) { flush kernel(p); purge_tlb kernel(p) }
}
protocol p {
    page pg
    thread t {
        helper(pg)
        nothing(pg)
        k = kmap(pg)
        repeat 3 { write k[0] }
        either { read k[0] } or { }
    }
}
"""


def _program(tmp_path: Path, arch: str, drop: frozenset[Span] = frozenset()):
    library = load_text(tmp_path, TEXT)
    return lower(library.protocols[0], library.arches[arch], drop)


def walk(program) -> list:
    """The nodes of the first thread in execution order (first branch of each choice)."""
    out, pc = [], program.threads[0].entry
    while pc != -1:
        out.append(program.nodes[pc])
        pc = program.nodes[pc].next[0]
    return out


def kinds(program) -> list[str]:
    return [n.kind for n in walk(program)]


def test_calls_dispatch_on_the_checked_arch(tmp_path: Path) -> None:
    base, child = _program(tmp_path, "base"), _program(tmp_path, "child")
    assert kinds(base).count("maint") == 0
    maint = [n for n in walk(child) if n.kind == "maint"]
    assert [n.op for n in maint] == ["flush", "purge_tlb"]
    # Each step keeps the protocol statement it belongs to and its own place in the arch.
    assert {n.origin.line for n in maint} == {15}
    assert {n.span.line for n in maint} == {10}


def test_a_call_with_no_effect_is_one_visible_step(tmp_path: Path) -> None:
    nops = [n for n in walk(_program(tmp_path, "base")) if n.kind == "nop"]
    assert [n.text for n in nops] == ["helper()", "nothing()"]


def test_repeat_unrolls_and_either_chooses(tmp_path: Path) -> None:
    program = _program(tmp_path, "base")
    assert kinds(program).count("write") == 3
    choice = next(n for n in program.nodes if n.kind == "choice")
    assert len(choice.next) == 2


def test_dropped_statements_lose_their_maintenance_only(tmp_path: Path) -> None:
    full = _program(tmp_path, "child")
    origin = next(n.origin for n in full.nodes if n.kind == "maint")
    dropped = _program(tmp_path, "child", frozenset({origin}))
    assert kinds(dropped).count("maint") == 0
    assert kinds(dropped).count("write") == 3
    # With all its maintenance gone, the call still shows as a step.
    assert "helper()" in [n.text for n in walk(dropped) if n.kind == "nop"]
