"""Every shipped protocol meets its `expect` lines: the litmus tests (on the arches they
define, with both engines), the examples and the specs (on every arch they are checked on)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import REPO, load, own_arches

from checker.check import CheckOptions, check
from checker.front.load import check_protocol_on_arch
from checker.front.selection import select_arches

LITMUS = sorted((REPO / "tests" / "litmus").glob("*.flow"))
SHIPPED = sorted((REPO / "examples").glob("*.flow")) + sorted((REPO / "specs").glob("*.flow"))


def _cases(paths: list[Path], own: bool) -> list[tuple[str, str, str]]:
    cases = []
    for path in paths:
        library = load(path)
        arches = own_arches(library) if own else select_arches(library, None)
        for protocol in library.protocols:
            for arch in arches:
                cases.append((str(path.relative_to(REPO)), protocol.name, arch))
    return cases


def _check(path: str, protocol_name: str, arch_name: str, engine: str):
    library = load(REPO / path)
    protocol = next(p for p in library.protocols if p.name == protocol_name)
    arch = library.arches[arch_name]
    check_protocol_on_arch(protocol, arch, library)
    return check(protocol, arch, CheckOptions(engine=engine))


@pytest.mark.parametrize("engine", ["explicit", "z3"])
@pytest.mark.parametrize(("path", "protocol", "arch"), _cases(LITMUS, own=True))
def test_litmus(path: str, protocol: str, arch: str, engine: str) -> None:
    result = _check(path, protocol, arch, engine)
    assert result.complete
    assert sorted(result.kinds) == sorted(result.expected)
    assert result.matches  # `expect redundant_flush at LINES` too


@pytest.mark.parametrize(("path", "protocol", "arch"), _cases(SHIPPED, own=False))
def test_shipped(path: str, protocol: str, arch: str) -> None:
    result = _check(path, protocol, arch, "explicit")
    assert result.complete
    assert sorted(result.kinds) == sorted(result.expected)
    assert result.matches  # `expect redundant_flush at LINES` too


def test_spec_on_z3_engine() -> None:
    """The Z3 engine on the shipped spec's headline pair, where the other engine answers
    the whole file above (the Z3 engine takes seconds per check: bench/RESULTS.md)."""
    for name, arch in [("set_bit_to_user", "arm_v6"), ("set_bit_to_user_quiescent", "parisc")]:
        result = _check("specs/set_bit_to_user.flow", name, arch, "z3")
        assert result.complete
        assert sorted(result.kinds) == sorted(result.expected)
    assert result.matches  # `expect redundant_flush at LINES` too
