"""`check --fix`: the synthesis loop against brute force, the kernel's own fixes, the
vhost question of 2019, and the command (the diff applies, --write, exit statuses)."""

from __future__ import annotations

import io
import itertools
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import REPO, run_cli

from checker.check import CheckOptions, check
from checker.cli import run
from checker.fix.candidates import candidates, effects, inert_statements, insert
from checker.fix.synthesis import DEFECTS, synthesise
from checker.front.load import load_files

# Toy arches: `alias` has aliasing VIPT colours and a kernel-alias flush; `user_only` can
# flush only user aliases (flush_cache_page: in the kernel, the flush of one user address),
# `none` has no flush at all; `pipt` is coherent.
TOY_ARCHES = """
arch alias {
    cache L1 vipt colours 2 write_back
    fn kmap(p: page) -> mapping { return map p colour linear }
    fn kunmap(m: mapping) { unmap m }
    fn flush_dcache_page(p: page) { flush kernel(p) }
    fn flush_cache_page(p: page) { flush user(p) }
    fn put_page(p: page) { }
}
arch user_only extends alias {
    fn flush_dcache_page(p: page) { }
}
arch none extends alias {
    fn flush_dcache_page(p: page) { }
    fn flush_cache_page(p: page) { }
}
arch pipt extends alias {
    cache L1 pipt write_back
}
"""

# The kernel writes through kmap; the user reads after a signal: needs the kernel alias
# flushed after the write (and the user's stale start line dropped: `start u clean` leaves
# it, so the user alias must be flushed too, before the user reads).
WRITER = TOY_ARCHES + """
protocol writer {
    page pg
    mapping u = user(pg) colour 1
    start u clean
    thread kernel {
        k = kmap(pg)
        write k[0]
        kunmap(k)
        put_page(pg)
        signal done
    }
    thread user {
        wait done
        read u[0]
    }
}
"""

# The user writes first; the kernel then reads through kmap: needs the user alias flushed
# before the kernel's read.
READER = TOY_ARCHES + """
protocol reader {
    page pg
    mapping u = user(pg) colour 1
    start u empty
    thread user {
        write u[0]
        signal done
    }
    thread kernel {
        wait done
        k = kmap(pg)
        read k[0]
        kunmap(k)
    }
}
"""


# Two pages: a copy from one kmap to another, read by the user through its mapping of the
# destination (calls on the source page cannot help: held by the page-local clauses).
COPIER = TOY_ARCHES + """
protocol copier {
    page src
    page dst
    mapping u = user(dst) colour 1
    start u clean
    thread kernel {
        s = kmap(src)
        d = kmap(dst)
        copy d <- s
        kunmap(d)
        kunmap(s)
        signal done
    }
    thread user {
        wait done
        read u[0]
    }
}
"""


def _load(tmp_path: Path, text: str, name: str = "t.flow"):
    path = tmp_path / name
    path.write_text(text)
    return load_files([str(path)], builtins=[]).library


def _brute_force(protocol, arches, max_calls: int):
    """Every placement of at most max_calls candidates, checked on every arch: the clean
    ones per set of arches fixed, and which of them leave nothing redundant."""
    cands = candidates(protocol, arches)
    costs = [sum(e.cost for e in (effects(protocol, cands, a)[c.index] for a in arches))
             for c in cands]
    rows = []
    for size in range(max_calls + 1):
        for picked in itertools.combinations(cands, size):
            fixed_protocol = insert(protocol, picked)
            results = {a.name: check(fixed_protocol, a) for a in arches}
            clean = frozenset(n for n, r in results.items() if not r.kinds & DEFECTS)
            redundant = sum(len(r.redundant) for n, r in results.items())
            rows.append((picked, clean, sum(costs[c.index] for c in picked), redundant))
    return cands, rows


@pytest.mark.parametrize(("text", "arch_names"), [
    (WRITER, ["alias", "pipt"]),
    (WRITER, ["alias", "user_only", "pipt"]),
    (WRITER, ["alias", "none"]),
    (READER, ["alias", "pipt"]),
    (READER, ["alias", "user_only"]),
    (COPIER, ["alias", "pipt"]),
    (COPIER, ["user_only", "none"]),
])
def test_synthesis_agrees_with_brute_force(tmp_path: Path, text: str, arch_names) -> None:
    """The learned clauses and the pruning (docs/fix.md) never lose a placement: the
    answer is the one an enumeration of every placement gives."""
    library = _load(tmp_path, text)
    protocol = library.protocols[0]
    arches = [library.arches[n] for n in arch_names]
    outcome = synthesise(protocol, arches, CheckOptions(), max_calls=2, lean_seconds=600)
    _, rows = _brute_force(protocol, arches, 2)
    defective = {a.name for a in arches if check(protocol, a).kinds & DEFECTS}
    most = max(len(clean) for _, clean, _, _ in rows)
    best_rows = [r for r in rows if len(r[1]) == most]
    fewest = min(len(r[0]) for r in best_rows)
    cheapest = min(r[2] for r in best_rows if len(r[0]) == fewest)
    if not defective & set().union(*(clean for _, clean, _, _ in best_rows)):
        assert outcome.status == "none"
        return
    assert outcome.status == ("fixed" if most == len(arches) else "partial")
    assert set(outcome.unfixable) == {a.name for a in arches} - set(best_rows[0][1]) or \
        any(set(r[1]) == {a.name for a in arches} - set(outcome.unfixable) for r in best_rows)
    assert len(outcome.best.calls) == fewest
    assert outcome.best.cost == cheapest
    # The best placement really is clean where it claims.
    fixed = insert(protocol, outcome.best.calls)
    for arch in arches:
        if arch.name not in outcome.unfixable:
            assert not check(fixed, arch).kinds & DEFECTS
    # A placement free of redundancy: found exactly when one exists (on the same arches).
    goal = frozenset(a.name for a in arches) - set(outcome.unfixable)
    lean_exists = any(clean >= goal and redundant == 0 for _, clean, _, redundant in rows
                      if clean >= goal)
    assert outcome.lean_proven
    assert (outcome.lean is not None) == lean_exists


def test_no_fix_among_the_candidates_is_a_proven_none(tmp_path: Path) -> None:
    library = _load(tmp_path, WRITER)
    outcome = synthesise(library.protocols[0], [library.arches["none"]], CheckOptions())
    assert outcome.status == "none" and outcome.unfixable == ("none",)


def test_a_limit_is_inconclusive_never_none(tmp_path: Path) -> None:
    library = _load(tmp_path, WRITER)
    outcome = synthesise(library.protocols[0], [library.arches["alias"]],
                         CheckOptions(max_states=3))
    assert outcome.status == "inconclusive"
    assert outcome.best is None and "states" in outcome.reason


def test_inert_boundaries_are_one_candidate(tmp_path: Path) -> None:
    """Past a call that is a no-op on every arch (put_page), the boundary is the one
    before it: no candidate there. kunmap is no no-op: it ends the mapping."""
    library = _load(tmp_path, WRITER)
    protocol = library.protocols[0]
    arches = [library.arches["alias"]]
    assert inert_statements(protocol, arches) == {(0, 3)}  # put_page(pg)
    positions = {c.position for c in candidates(protocol, arches) if c.thread == 0}
    assert positions == {0, 1, 2, 3, 5}


# ---------------------------------------------------------------------------------------------
# The kernel's protocols


def test_vhost_quiescent_fix_and_the_parisc_double_hit() -> None:
    """The 2019 thread's question, settled over x86, arm64, arm_v6, arm_vivt and parisc: a
    single call fixes the quiescent case everywhere; on parisc it and kunmap_atomic then
    flush the same alias (each reported redundant, not together), and no placement of at
    most two calls is safe everywhere with nothing redundant: a proven fact."""
    library = load_files([str(REPO / "specs" / "set_bit_to_user.flow")]).library
    protocol = next(p for p in library.protocols if p.name == "set_bit_to_user_quiescent")
    arches = [library.arches[n] for n in ("x86", "arm64", "arm_v6", "arm_vivt", "parisc")]
    outcome = synthesise(protocol, arches, CheckOptions(), lean_seconds=600)
    assert outcome.status == "fixed" and len(outcome.best.calls) == 1
    (call,) = outcome.best.calls
    # Not flush_kernel_dcache_page: gone since v5.15, offered only when asked for.
    assert call.arg == "log" and call.function == "flush_dcache_page"
    assert set(outcome.best.redundant) == {"parisc"}
    kunmap = next(s for s in protocol.threads[0].body if getattr(s, "function", "") ==
                  "kunmap_atomic")
    assert kunmap.span in {u[0] for u in outcome.best.redundant["parisc"]}
    assert outcome.lean is None and outcome.lean_proven


def _kernel_fix(before_name: str, after_name: str, path: str, arch_names):
    library = load_files([str(REPO / path)]).library
    before = next(p for p in library.protocols if p.name == before_name)
    after = next(p for p in library.protocols if p.name == after_name)
    arches = [library.arches[n] for n in arch_names]
    return library, before, after, arches


@pytest.mark.parametrize(("path", "before", "after", "arch_names", "function"), [
    # block/bio.c bio_copy_data_iter: flush_dcache_page of the destination page (2018).
    ("specs/block/bio_copy_data_iter.flow", "bio_copy_data_iter_noflush",
     "bio_copy_data_iter_flushed", ["x86", "arm_v6", "arm_vivt", "mips", "xtensa",
                                    "csky_abiv1", "sparc64"], "flush_dcache_page"),
    # A filesystem's read_folio: flush_dcache_folio after filling the page.
    ("specs/fs/read_folio_fill.flow", "read_folio_fill_noflush", "read_folio_fill",
     ["x86", "mips", "xtensa", "sparc32"], "flush_dcache_page"),
    # dm-io on vmapped memory: flush_kernel_vmap_range before the write I/O.
    ("specs/history/dm_io_vmap.flow", "dm_io_write_vmap_unflushed", "dm_io_write_vmap_flushed",
     ["x86", "arm64", "parisc", "arm_v6", "arm_vivt"], "flush_kernel_vmap_range"),
])
def test_the_synthesised_fix_is_the_kernels(path, before, after, arch_names, function) -> None:
    """On the arches the kernel's fix concerns, the cheapest placement is the kernel's own
    call on the same page or mapping; the kernel's place is as cheap and as clean (where
    the two differ, both are before the I/O or the reader, e.g. before or after a
    kunmap, which leaves the page's lines alone on these arches)."""
    _, protocol, fixed, arches = _kernel_fix(before, after, path, arch_names)
    outcome = synthesise(protocol, arches, CheckOptions(), lean_seconds=0)
    assert outcome.status == "fixed"
    (call,) = outcome.best.calls
    body = protocol.threads[call.thread].body
    # The kernel's: the statement the fixed protocol has and the unfixed one lacks.
    extra = [(i, s) for i, s in enumerate(fixed.threads[call.thread].body)
             if getattr(s, "function", None) == function
             and not any(getattr(t, "function", None) == function for t in body)]
    assert len(extra) == 1
    position, statement = extra[0]
    assert (call.function, call.arg) == (function, statement.args[0].name)
    # The kernel's place, as a candidate (the first of its run of no-op boundaries).
    inert = inert_statements(protocol, arches)
    while position > 0 and (call.thread, position - 1) in inert:
        position -= 1
    cands = candidates(protocol, arches)
    kernels = next(c for c in cands if (c.thread, c.position, c.function, c.arg)
                   == (call.thread, position, function, call.arg))
    placed = insert(protocol, [kernels])
    assert all(not check(placed, a).kinds & DEFECTS for a in arches)
    cost = sum(effects(protocol, cands, a)[kernels.index].cost for a in arches)
    assert cost == outcome.best.cost


# ---------------------------------------------------------------------------------------------
# The command




@pytest.mark.skipif(shutil.which("git") is None, reason="needs git apply")
def test_the_diff_applies_and_the_result_checks_clean(tmp_path: Path, monkeypatch) -> None:
    """Run where the file is, as in a kernel tree: the diff's paths are relative to it."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "w.flow"
    path.write_text(WRITER)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    code, out, _ = run_cli(["w.flow", "--fix", "--arch", "alias,pipt"])
    assert code == 0
    assert out.startswith("--- a/") and "+        flush_dcache_page(pg)" in out
    done = subprocess.run(["git", "apply", "-"], cwd=tmp_path, input=out, text=True,
                          capture_output=True)
    assert done.returncode == 0, done.stderr
    again = load_files([str(path)], builtins=[]).library
    for name in ("alias", "pipt"):
        assert not check(again.protocols[0], again.arches[name]).kinds & DEFECTS


def test_fix_write_edits_the_file_and_exit_statuses(tmp_path: Path) -> None:
    path = tmp_path / "w.flow"
    path.write_text(WRITER)
    code, _, _ = run_cli([str(path), "--fix", "--write", "--arch", "alias"])
    assert code == 0
    assert "flush_dcache_page(pg)" in path.read_text()
    code, out, _ = run_cli([str(path), "--fix", "--arch", "alias"])
    assert code == 0 and "No finding to fix" in out
    path.write_text(WRITER)
    code, out, _ = run_cli([str(path), "--fix", "--arch", "none"])
    assert code == 1 and "No placement removes the findings on any of none" in out
    code, out, _ = run_cli([str(path), "--fix", "--arch", "alias", "--max-states", "3"])
    assert code == 3 and "Inconclusive" in out


def test_fix_refuses_other_formats(tmp_path: Path) -> None:
    path = tmp_path / "w.flow"
    path.write_text(WRITER)
    with pytest.raises(SystemExit):
        run([str(path), "--fix", "--format", "json"], io.StringIO(), io.StringIO())
    with pytest.raises(SystemExit):
        run([str(path), "--write"], io.StringIO(), io.StringIO())


def test_the_readme_fix_sample_is_true(monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    code, out, _ = run_cli(["specs/set_bit_to_user.flow", "--arch",
                            "x86,arm64,arm_v6,arm_vivt,parisc", "--fix", "--fix-api",
                            "flush_dcache_page"])
    assert code == 1  # the concurrent protocols cannot be fixed with that call alone
    readme = (REPO / "README.md").read_text()
    block = readme.split("      --fix-api flush_dcache_page\n", 1)[1].split("```", 1)[0]
    assert block == out


def test_calls_a_fix_would_not_make_are_offered_only_when_named() -> None:
    """flush_kernel_dcache_page went in v5.15 and flush_anon_page is get_user_pages()' own:
    a fix calls neither unless the user asks (--fix-api)."""
    library = load_files([str(REPO / "specs" / "set_bit_to_user.flow")]).library
    protocol = library.protocols[0]
    arches = [library.arches[n] for n in ("arm_v6", "parisc")]
    offered = {c.function for c in candidates(protocol, arches)}
    assert "flush_dcache_page" in offered
    assert not offered & {"flush_kernel_dcache_page", "flush_anon_page"}
    named = {c.function for c in candidates(protocol, arches, ["flush_kernel_dcache_page"])}
    assert named == {"flush_kernel_dcache_page"}
    # The vmap range calls take vmap areas only: set_bit_to_user's kmap_atomic is none.
    assert not any(c.mapping for c in candidates(protocol, arches))
