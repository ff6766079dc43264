"""Every built-in arch pins down its API, and the library of kernel protocols holds.

- tests/arches/<arch>.flow: litmus protocols, each checked on the arches its own `expect`
  lines name and those its file defines (`--arch expected`).
- specs/ (the library: real kernel protocols and fixes, by subsystem): every protocol on every
  built-in arch and on its own file's arches (`check specs/`, `--arch-scope file`).

Each expectation was derived by hand from the kernel source, and the comment beside it says
why. The Z3 engine answers these too, but at about 100x the time (minutes per file), so the
suite runs it only with FLOWCHECK_Z3_ARCHES=1; the engines are held together on random cases
by tests/test_differential.py and bench/differential.py.
"""

from __future__ import annotations

import os

import pytest
from helpers import REPO

from checker.check import CheckOptions, check
from checker.front.discover import expand_paths
from checker.front.load import check_protocol_on_arch, load_files
from checker.front.selection import plan_checks
from checker.report.text import summary_line

LITMUS, _ = expand_paths([str(REPO / "tests" / "arches")])
LIBRARY, _ = expand_paths([str(REPO / "specs")])
ENGINES = ["explicit", "z3"] if os.environ.get("FLOWCHECK_Z3_ARCHES") == "1" else ["explicit"]

_loaded: dict[str, object] = {}


def _library(which: str):
    if which not in _loaded:
        files = LITMUS if which == "litmus" else LIBRARY
        _loaded[which] = load_files(files, scope="file").library
    return _loaded[which]


def _cases(which: str) -> list:
    library = _library(which)
    return [
        pytest.param(which, index, key, id=f"{_where(library, index)}-{library.arches[key].name}")
        for index, key in plan_checks(library, "expected" if which == "litmus" else None)
    ]


def _where(library, index: int) -> str:
    protocol = library.protocols[index]
    return f"{os.path.relpath(protocol.span.path, REPO)}-{protocol.name}"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("which", "index", "key"), _cases("litmus") + _cases("library"))
def test_arch_litmus(which: str, index: int, key: str, engine: str) -> None:
    library = _library(which)
    protocol, arch = library.protocols[index], library.arches[key]
    check_protocol_on_arch(protocol, arch, library)
    result = check(protocol, arch, CheckOptions(engine=engine))
    assert result.complete
    assert result.matches, summary_line(result)


def test_every_builtin_arch_has_its_litmus_file() -> None:
    library = _library("litmus")
    builtin = {name for name, arch in library.arches.items() if arch.builtin}
    files = {path.stem for path in (REPO / "tests" / "arches").glob("*.flow")}
    # generic is the coherent reference: every call a no-op.
    missing = builtin - files - {"generic"}
    assert not missing, f"no tests/arches/<arch>.flow for {sorted(missing)}"


def test_every_litmus_protocol_names_an_arch() -> None:
    library = _library("litmus")
    for index, protocol in enumerate(library.protocols):
        assert any(i == index for i, _ in plan_checks(library, "expected")), protocol.name


def test_the_library_covers_every_builtin_arch() -> None:
    """`check specs/` checks each library protocol on every built-in arch."""
    library = _library("library")
    builtin = {key for key, arch in library.arches.items() if arch.builtin}
    planned = plan_checks(library, None)
    for index, protocol in enumerate(library.protocols):
        assert builtin <= {key for i, key in planned if i == index}, protocol.name
