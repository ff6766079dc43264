"""Every built-in arch pins down its API: the protocols in tests/arches/<arch>.flow and the
kernel-history protocols in tests/history/*.flow meet their `expect` lines, with both engines.

A protocol there is checked on the arches its own `expect` lines name (`expect safe on X`
included) and on the arches its file defines; each expectation was derived by hand from the
kernel source, and the comment beside it says why.

The Z3 engine answers these too, but at about 100x the time (minutes per file), so the suite
runs it only with FLOWCHECK_Z3_ARCHES=1; the engines are held together on random cases by
tests/test_differential.py and bench/differential.py.
"""

from __future__ import annotations

import os

import pytest
from helpers import REPO, load, own_arches

from checker.check import CheckOptions, check
from checker.front.load import check_protocol_on_arch

FILES = sorted((REPO / "tests" / "arches").glob("*.flow")) + sorted(
    (REPO / "tests" / "history").glob("*.flow")
)


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for path in FILES:
        library = load(path)
        for protocol in library.protocols:
            named = dict.fromkeys(e.arch for e in protocol.expects)
            for arch in [*named, *(a for a in own_arches(library) if a not in named)]:
                cases.append((str(path.relative_to(REPO)), protocol.name, arch))
    return cases


CASES = _cases()


ENGINES = ["explicit", "z3"] if os.environ.get("FLOWCHECK_Z3_ARCHES") == "1" else ["explicit"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("path", "protocol", "arch"), CASES)
def test_arch_litmus(path: str, protocol: str, arch: str, engine: str) -> None:
    library = load(REPO / path)
    chosen = next(p for p in library.protocols if p.name == protocol)
    check_protocol_on_arch(chosen, library.arches[arch], library)
    result = check(chosen, library.arches[arch], CheckOptions(engine=engine))
    assert result.complete
    assert sorted(result.kinds) == sorted(result.expected)


def test_every_builtin_arch_has_its_litmus_file() -> None:
    library = load()
    builtin = {name for name, arch in library.arches.items() if arch.builtin}
    files = {path.stem for path in (REPO / "tests" / "arches").glob("*.flow")}
    # generic is the coherent reference: every call a no-op.
    missing = builtin - files - {"generic"}
    assert not missing, f"no tests/arches/<arch>.flow for {sorted(missing)}"


def test_every_protocol_names_an_arch() -> None:
    for path in FILES:
        library = load(path)
        for protocol in library.protocols:
            assert protocol.expects or own_arches(library), f"{path}: {protocol.name}"
