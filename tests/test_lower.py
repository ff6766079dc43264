"""Lowering: calls inlined with late dispatch, repeats unrolled, either as a choice, and the
maintenance of chosen statements dropped (what the redundancy analysis relies on)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import load_text

from checker.errors import FlowError
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


def _program(tmp_path: Path, arch: str, drop: frozenset[tuple[Span, ...]] = frozenset()):
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
    dropped = _program(tmp_path, "child", frozenset({(origin,)}))
    assert kinds(dropped).count("maint") == 0
    assert kinds(dropped).count("write") == 3
    # With all its maintenance gone, the call still shows as a step.
    assert "helper()" in [n.text for n in walk(dropped) if n.kind == "nop"]


FLAGS = """
arch hooked {
    cache L1 vipt colours 2
    fn kmap(p: page) -> mapping { return map p colour linear }
    fn touch(m: mapping) { set m.seen }
    fn test(m: mapping) { if highmem(m) and m.seen { flush m } }
    fn use_flags(a: page, b: page, c: page) {
        clear a.clean; clear b.anon_seen; clear a.via_handle; clear b.via_handle
        set c.clean
    }
    on user_map(p: page) {
        if file(p) { set p.clean } else { set p.anon_seen }
        k = map p colour 1
        set k.via_handle
        unmap k
        if not p.seen { clear p.clean }
    }
}
arch forked extends hooked {
    on user_map(p: page) { either { set p.clean } or { } }
}
protocol p {
    page a file
    page b
    page c highmem
    mapping ua = user(a)
    mapping ub = user(b)
    thread t {
        ka = kmap(a); kc = kmap(c)
        touch(ka); test(kc); test(ka)
        use_flags(a, b, c)
    }
}
"""


def test_start_flags_run_the_user_map_hook_once_per_mapped_page(tmp_path: Path) -> None:
    library = load_text(tmp_path, FLAGS)
    program = lower(library.protocols[0], library.arches["hooked"])
    a, b = 0, 1
    # Per page with a declared mapping (a file page, an anon page), the hook's flag
    # operations, its conditions included (`seen` is clear, so `clean` is cleared again);
    # nothing for page c, which has none. A flag set through the hook's own mapping lands
    # on the page behind it.
    assert program.start_flags == (
        frozenset({(a, "via_handle"), (b, "anon_seen"), (b, "via_handle")}),
    )
    # The hook's `map` added no alias to the program: one per page, and none for the hook.
    # (3 linear aliases and 2 declared mappings; the thread's kmaps are linear.)
    assert len(program.aliases) == 3 + 2


def test_start_flags_of_a_hook_with_a_choice_are_each_a_start(tmp_path: Path) -> None:
    library = load_text(tmp_path, FLAGS)
    program = lower(library.protocols[0], library.arches["forked"])
    # Two mapped pages, each with or without `clean`; only flags the program uses count
    # (it clears a.clean and sets c.clean, so b.clean, never tested, is dropped).
    assert sorted(sorted(f) for f in program.start_flags) == [[], [(0, "clean")]]


def test_conditions_on_a_mapping_ask_about_its_page(tmp_path: Path) -> None:
    library = load_text(tmp_path, FLAGS)
    program = lower(library.protocols[0], library.arches["hooked"])
    sets = [n for n in program.nodes if n.kind == "set" and n.flag == "seen"]
    assert [n.page for n in sets] == [0]  # touch(ka): page a
    tests = [n.cond for n in program.nodes if n.kind == "test"]
    pages = sorted((t.left.page, t.right.page) for t in tests)
    assert pages == [(0, 0), (2, 2)]  # test(kc) asks about c, test(ka) about a
    assert all(t.left.reg == -1 and t.right.reg == -1 for t in tests)


def test_a_mapping_of_two_possible_pages_cannot_be_asked_about(tmp_path: Path) -> None:
    text = FLAGS.replace(
        "touch(ka); test(kc); test(ka)",
        "either { kx = kmap(a) } or { kx = kmap(b) }\n        test(kx)",
    )
    library = load_text(tmp_path, text)
    with pytest.raises(FlowError, match=r"behind 'kx' is not known here \(it may be a or b\)"):
        lower(library.protocols[0], library.arches["hooked"])


UNFAULTED = """
arch faulting {
    cache L1 vipt colours 2 write_back
    fn kmap(p: page) -> mapping { return map p colour linear }
    fn same(m: mapping) -> mapping { return m }
    fn peek(m: mapping) { read m[0] }
    on user_map(p: page) {
        if not p.clean { flush kernel(p); set p.clean }
    }
}
protocol p {
    page a file
    page b file
    mapping ua = user(a)
    mapping ub = user(b)
    start ua unfaulted
    thread t {
        either {
            read ua[0]
        } or {
            peek(ua)
        } or {
            k = kmap(b)
            copy ua <- k
        }
        read ub[0]
        read ua[0]
        v = mmap(b)
    }
}
"""


def test_an_access_through_an_unfaulted_mapping_may_fault_first(tmp_path: Path) -> None:
    library = load_text(tmp_path, UNFAULTED)
    program = lower(library.protocols[0], library.arches["faulting"])
    ua = next(h for h, info in enumerate(program.handles) if info.name == "ua")
    assert program.handles[ua].start == "unfaulted"
    faults = [n for n in program.nodes if n.kind == "fault"]
    # Each branch's first access through ua: `read ua`, the read inside peek(ua) (the
    # parameter is ua's register), the copy's destination; not `read ub`, nor the copy's
    # source, nor the `read ua` after the `either`, which every path reaches after one of
    # them: ua is faulted in by then (its fault node would always take the no-fault way).
    assert len(faults) == 3 and all(n.handle == ua for n in faults)
    after = library.protocols[0].threads[0].body[2].span  # the `read ua` after the either
    last = [n for n in program.nodes if n.kind == "read" and n.origin == after]
    assert len(last) == 1
    assert not any(last[0] is program.nodes[n.next[-1]] for n in faults)
    for fault in faults:
        hook, access = fault.next
        # Not faulting: straight to the access. Faulting: the hook, then the same access
        # (which faults the mapping in).
        assert program.nodes[access].kind in ("read", "copy")
        at, seen = hook, []
        while at != access:
            node = program.nodes[at]
            assert node.in_fault and "on user_map" in node.via and "page fault" in node.via
            seen.append(node.kind)
            at = node.next[-1] if node.kind == "test" else node.next[0]
        assert seen == ["test"]  # `if not p.clean` false: straight on to the access
    # The start flags: page b's hook ran (ub was faulted in before the start), a's did not
    # (the mmap of b makes the program test b's flag too).
    assert program.start_flags == (frozenset({(1, "clean")}),)


def test_a_copy_within_one_unfaulted_mapping_faults_once(tmp_path: Path) -> None:
    text = UNFAULTED.replace("copy ua <- k", "copy ua <- ua")
    library = load_text(tmp_path, text)
    program = lower(library.protocols[0], library.arches["faulting"])
    copy = next(n for n in program.nodes if n.kind == "copy")
    faults = [n for n in program.nodes if n.kind == "fault" and n.origin == copy.origin]
    assert len(faults) == 1
    # The hook is on the path to the copy once: no second fault node after it.
    hook, access = faults[0].next
    assert program.nodes[access] is copy


def test_no_fault_node_where_the_hook_does_nothing(tmp_path: Path) -> None:
    text = UNFAULTED.replace(
        "on user_map(p: page) {\n        if not p.clean { flush kernel(p); set p.clean }\n    }",
        "")
    assert "on user_map" not in text
    library = load_text(tmp_path, text)
    program = lower(library.protocols[0], library.arches["faulting"])
    assert not any(n.kind == "fault" for n in program.nodes)  # the access alone faults


def test_an_unfaulted_mapping_cannot_be_returned(tmp_path: Path) -> None:
    text = UNFAULTED.replace("peek(ua)", "r = same(ua)\n        read r[0]")
    library = load_text(tmp_path, text)
    with pytest.raises(FlowError, match="'ua' starts unfaulted, so it cannot be returned from a"):
        lower(library.protocols[0], library.arches["faulting"])


def test_dropping_a_statement_keeps_its_page_fault_maintenance(tmp_path: Path) -> None:
    library = load_text(tmp_path, UNFAULTED)
    protocol = library.protocols[0]
    peek = protocol.threads[0].body[0].branches[1][0].span  # peek(ua): its read faults
    program = lower(protocol, library.arches["faulting"], frozenset({(peek,)}))
    flushes = [n for n in program.nodes if n.kind == "maint" and n.origin == peek]
    assert flushes and all(n.in_fault for n in flushes)
