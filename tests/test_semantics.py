"""The reference interpreter, one rule of flow-language.md section 3 at a time, on states
built by running a protocol's steps by hand."""

from __future__ import annotations

from pathlib import Path

from helpers import load_text

from checker.machine.lower import lower
from checker.machine.semantics import Semantics
from checker.machine.state import State

ARCH = """
arch a {{
    {caches}
    speculative_fill {spec}
    dma_coherent {dma}
    fn kmap(p: page) -> mapping {{ return map p colour linear }}
    fn wb(p: page) {{ writeback kernel(p) }}
}}
"""


def machine(tmp_path: Path, caches: str, body: str, spec: str = "no", dma: str = "yes",
            words: int = 1):
    text = ARCH.format(caches=caches, spec=spec, dma=dma) + f"""
protocol p {{
    page pg words {words}
    thread t {{
{body}
    }}
}}
"""
    library = load_text(tmp_path, text)
    program = lower(library.protocols[0], library.arches["a"])
    return Semantics(program)


def run(sem: Semantics, state: State, steps: int) -> State:
    """Run thread 0 for `steps` steps (each must have exactly one outcome)."""
    for _ in range(steps):
        (_, state, _), = sem.thread_successors(state, 0)
    return state


def start(sem: Semantics) -> State:
    (state,) = sem.initial_states()
    return state


def test_write_back_store_allocates_dirty_and_leaves_memory(tmp_path: Path) -> None:
    sem = machine(tmp_path, "cache L1 pipt write_back", "k = kmap(pg)\nwrite k[0]")
    state = run(sem, start(sem), 2)
    assert state.cache == ((True, (1,)),)
    assert state.mem == (0,)


def test_write_through_store_reaches_memory_and_no_line_is_dirty(tmp_path: Path) -> None:
    sem = machine(tmp_path, "cache L1 pipt write_through", "k = kmap(pg)\nread k[0]\nwrite k[0]")
    state = run(sem, start(sem), 3)
    assert state.cache == ((False, (1,)),)  # present from the read, updated, clean
    assert state.mem == (1,)


def test_a_miss_fills_the_first_level_from_the_nearest_one(tmp_path: Path) -> None:
    caches = "cache L1 pipt write_back\ncache L2 pipt write_back"
    sem = machine(tmp_path, caches, "k = kmap(pg)\nwrite k[0]\nwb(pg)\nread k[0]")
    state = run(sem, start(sem), 3)
    # writeback acts at every level: L1 clean, L2 clean, memory updated.
    assert state.cache == ((False, (1,)), (False, (1,)))
    assert state.mem == (1,)


def test_a_dirty_eviction_is_installed_dirty_one_level_out(tmp_path: Path) -> None:
    caches = "cache L1 pipt write_back\ncache L2 pipt write_back"
    sem = machine(tmp_path, caches, "k = kmap(pg)\nwrite k[0]")
    state = run(sem, start(sem), 2)
    evicted = [s for label, s in sem.env_successors(state) if label.choice == ("evict", 0)]
    assert evicted[0].cache == (None, (True, (1,)))
    assert evicted[0].mem == (0,)


def test_victim_fill_installs_a_clean_eviction_writing_back_what_it_replaces(
    tmp_path: Path,
) -> None:
    caches = "cache L1 pipt write_back\ncache L2 pipt write_back victim_fill"
    sem = machine(tmp_path, caches, "k = kmap(pg)\nread k[0]")
    state = run(sem, start(sem), 2)
    # Put a dirty line with other data in L2 by hand, then evict L1's clean line over it.
    state = State(**{**state.__dict__, "cache": ((False, (0,)), (True, (7,)))})
    evicted = [s for label, s in sem.env_successors(state) if label.choice == ("evict", 0)]
    assert evicted[0].cache == (None, (False, (0,)))
    assert evicted[0].mem == (7,)  # the replaced dirty line was written back first


def test_coherent_dma_updates_cached_copies_and_incoherent_dma_does_not(
    tmp_path: Path,
) -> None:
    body = "k = kmap(pg)\nread k[0]\ndma_write pg[0]"
    for dma, line in (("yes", (False, (1,))), ("no", (False, (0,)))):
        sem = machine(tmp_path, "cache L1 pipt write_back", body, dma=dma)
        state = run(sem, start(sem), 3)
        assert state.cache == (line,)
        assert state.mem == (1,)


def test_speculation_reaches_only_what_the_mode_allows(tmp_path: Path) -> None:
    # No mapping has been made: with `yes` the lowmem linear alias is always live; with
    # `tlb` nothing has a TLB entry yet; with `no` nothing is filled.
    for spec, fills in (("yes", 1), ("tlb", 0), ("no", 0)):
        sem = machine(tmp_path, "cache L1 vipt colours 2 write_back", "k = kmap(pg)", spec=spec)
        found = [lb for lb, _ in sem.env_successors(start(sem)) if lb.choice[0] == "fill"]
        assert len(found) == fills, spec


def test_a_store_clobbers_the_whole_line_on_write_back(tmp_path: Path) -> None:
    caches = "cache L1 pipt write_back line_words 2"
    sem = machine(tmp_path, caches, "k = kmap(pg)\nwrite k[1]", words=2)
    state = run(sem, start(sem), 2)
    assert state.cache == ((True, (0, 1)),)
    (_, evicted), = [(lb, s) for lb, s in sem.env_successors(state) if lb.choice[0] == "evict"]
    assert evicted.mem == (0, 1)
