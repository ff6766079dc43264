"""Start-up: the cache on disk of the parser tables, the built-in arches' syntax trees and
loaded libraries (checker/front/cache.py), and what a run imports.

The cache must never change an answer or an error: it is keyed on every text it depends on
and on the checker's own source, written atomically, and anything wrong with it is a miss.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO
from test_errors import CASES, GOLDEN, first_error

from checker.errors import FlowError
from checker.front import cache, load, parser
from checker.front.load import load_files
from checker.front.resources import builtin_arch_files

SPEC = "specs/set_bit_to_user.flow"
RUN = [sys.executable, "-m", "checker", "-q", SPEC, "--arch", "x86"]


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of its own for the test (in this process and the ones it starts), empty, and
    the parser built again on first use."""
    home = tmp_path / "cache-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("FLOWCHECK_NO_CACHE", raising=False)
    parser._lark.cache_clear()
    yield home / "flowcheck"
    parser._lark.cache_clear()


def entries(folder: Path) -> list[str]:
    return sorted(p.name.split("-")[0] for p in folder.iterdir()) if folder.is_dir() else []


def run_check(*extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, **(env or {})}
    return subprocess.run([*RUN, *extra], cwd=REPO, capture_output=True, text=True,
                          env=environ, check=False)


def test_a_second_run_answers_from_the_cache_the_same(cache_home: Path) -> None:
    first = run_check()
    assert first.returncode == 0, first.stderr
    assert entries(cache_home) == ["builtins", "library", "parser"]
    second = run_check()
    assert (second.returncode, second.stdout, second.stderr) == (0, first.stdout, "")
    off = run_check(env={"FLOWCHECK_NO_CACHE": "1"})
    assert off.stdout == first.stdout


def test_no_cache_is_written_when_it_is_off(cache_home: Path, monkeypatch) -> None:
    monkeypatch.setenv("FLOWCHECK_NO_CACHE", "1")
    load_files([SPEC.replace("specs/", str(REPO / "specs") + "/")])
    parser._lark()
    assert not cache_home.exists()


def test_a_changed_arch_file_is_not_answered_from_the_cache(cache_home: Path, monkeypatch):
    texts = builtin_arch_files()
    before = load_files([]).library
    assert "library" in entries(cache_home)
    changed = [(path, re.sub(r'^(\s*)kernel "', r'\1kernel "changed ', text, flags=re.M))
               for path, text in texts]
    monkeypatch.setattr(load, "builtin_arch_files", lambda: changed)
    after = load_files([]).library
    assert all(arch.kernel.startswith("changed ") for arch in after.arches.values())
    assert not any(arch.kernel.startswith("changed ") for arch in before.arches.values())


def test_changed_checker_code_is_not_answered_from_the_cache(cache_home: Path, monkeypatch):
    load_files([])
    old = cache.entry("library", ["x"])
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "another version of the checker")
    assert cache.entry("library", ["x"]).key != old.key
    load_files([])  # nothing found under the new keys: parsed again and stored again
    assert entries(cache_home) == ["builtins"] * 2 + ["library"] * 2 + ["parser"]


def test_the_code_fingerprint_covers_every_module(monkeypatch) -> None:
    read = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: read.append(path)
                        or real_open(path, *a, **k))
    cache.code_fingerprint.__wrapped__()
    package = Path(cache.__file__).parents[1]  # checker/, from checker/front/cache.py
    modules = {str(p) for p in package.rglob("*.py") if "__pycache__" not in p.parts}
    assert {str(Path(p)) for p in read} == modules


def test_no_cache_without_the_checkers_source(cache_home: Path, monkeypatch) -> None:
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "")
    entry = cache.entry("library", ["x"])
    entry.store("a value")
    assert not entry.enabled and entry.load() is cache.MISS and not cache_home.exists()


def test_a_corrupt_cache_is_ignored_and_rewritten(cache_home: Path, in_repo: Path) -> None:
    good = load_files([SPEC])
    for garbage in (b"", b"not a pickle", b"\x80\x05\x95\xff\xff", b"\x80\x05N."):
        for entry in cache_home.iterdir():
            entry.write_bytes(garbage)
        parser._lark.cache_clear()
        assert load_files([SPEC]) == good
    # ... and written again whole.
    assert entries(cache_home) == ["builtins", "library", "parser"]
    assert all(entry.stat().st_size > 1000 for entry in cache_home.iterdir())


def test_an_entry_under_another_key_is_a_miss(cache_home: Path) -> None:
    entry = cache.entry("library", ["one"])
    entry.store("a value")
    assert entry.load() == "a value"
    other = cache.entry("library", ["two"])
    assert entry.path is not None and other.path is not None
    other.path.write_bytes(entry.path.read_bytes())  # the file of one key under another's name
    assert other.load() is cache.MISS


def test_a_cache_that_cannot_be_written_is_no_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    proc = run_check(env={"XDG_CACHE_HOME": str(blocker / "cache")})
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.endswith("4 checks: 4 as expected, 0 unexpected, 0 inconclusive\n")


def test_a_cache_other_users_can_write_to_is_not_used(cache_home: Path) -> None:
    entry = cache.entry("library", ["x"])
    entry.store("a value")
    cache_home.chmod(0o777)
    try:
        assert entry.load() is cache.MISS
        cache.entry("library", ["y"]).store("another")
        assert len(list(cache_home.iterdir())) == 1
    finally:
        cache_home.chmod(0o700)


def test_runs_at_once_on_an_empty_cache_all_answer(cache_home: Path) -> None:
    environ = dict(os.environ)
    procs = [subprocess.Popen(RUN, cwd=REPO, env=environ, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(p.wait(), *p.communicate()) for p in procs]
    assert len({r for r in results}) == 1, results
    assert results[0][0] == 0 and results[0][2] == ""
    assert entries(cache_home) == ["builtins", "library", "parser"]  # no temporary file left


def test_old_entries_are_removed(cache_home: Path) -> None:
    for n in range(cache.KEEP + 3):
        cache.entry("test", [str(n)]).store(n)
    assert entries(cache_home) == ["test"] * cache.KEEP


def test_errors_are_the_same_with_the_parser_from_the_cache(cache_home, in_repo, monkeypatch):
    """Every golden input error, with lark's tables built and then loaded from the cache."""
    built = {name: first_error(f"tests/golden/errors/{name}.badflow") for name in CASES}
    assert entries(cache_home) == ["parser"]
    parser._lark.cache_clear()

    def no_building(*args, **kwargs):
        raise AssertionError("the parser was built, not loaded from the cache")

    monkeypatch.setattr(parser.Lark, "__init__", no_building)
    for name in CASES:
        loaded = first_error(f"tests/golden/errors/{name}.badflow")
        assert loaded == built[name]
        assert loaded == (GOLDEN / f"{name}.expected").read_text(encoding="utf-8")


def test_errors_in_given_files_are_the_same_with_the_library_cached(cache_home, in_repo):
    bad = [name for name in CASES if name.startswith(("syntax", "unknown", "duplicate"))]
    assert bad

    def error_of(name: str) -> str:
        try:
            load_files([f"tests/golden/errors/{name}.badflow"])
        except FlowError as error:
            return error.render()
        return "no error"

    cold = {name: error_of(name) for name in bad}
    assert "builtins" in entries(cache_home)
    warm = {name: error_of(name) for name in bad}
    assert warm == cold


def test_a_one_check_run_imports_neither_lark_nor_multiprocessing_nor_z3(cache_home) -> None:
    script = (
        "import io, sys\n"
        "from checker.cli import run\n"
        f"assert run({RUN[3:]!r}, io.StringIO(), sys.stderr) == 0\n"
        "print(' '.join(sorted(m for m in ('lark', 'multiprocessing', 'concurrent.futures',"
        " 'z3') if m in sys.modules)))\n"
    )
    assert run_check().returncode == 0  # fills the cache
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == []
