"""Redundant maintenance inside calls (docs/engines.md, "Redundant flushes"): a statement
that is needed as a whole may hold a nested call or micro-operation that is not. The 2019
vhost thread's "double hit": on parisc, memcpy_to_page's flush_dcache_page and the
kunmap_local after it flush the same kernel alias (include/linux/highmem.h memcpy_to_page,
v5.14+; parisc's kunmap_local flushes through kunmap_flush_on_unmap). Derived by hand: for an
anonymous page (flush_dcache_page flushes the kernel alias only), either flush is enough and
not both can go; on arm_v6 kunmap_local does nothing, so flush_dcache_page's flush is needed
and memcpy_to_page holds nothing redundant."""

from __future__ import annotations

import pytest
from helpers import REPO, load

from checker.check import CheckOptions, check
from checker.front.load import check_protocol_on_arch

HISTORY = REPO / "specs" / "history" / "memcpy_to_page_flush.flow"


def _check(protocol_name: str, arch_name: str, engine: str):
    library = load(HISTORY)
    protocol = next(p for p in library.protocols if p.name == protocol_name)
    arch = library.arches[arch_name]
    check_protocol_on_arch(protocol, arch, library)
    return check(protocol, arch, CheckOptions(engine=engine))


def _generic_line(text: str) -> int:
    """The line of generic.flow's memcpy_to_page that holds `text`."""
    lines = (REPO / "specs" / "arch" / "generic.flow").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if "fn memcpy_to_page(" in line)
    return next(i + 1 for i in range(start, len(lines)) if text in lines[i])


@pytest.mark.parametrize("engine", ["explicit", "z3"])
def test_the_double_flush_inside_memcpy_to_page_shows_on_parisc(engine: str) -> None:
    result = _check("memcpy_to_page_pinned_user_page", "parisc", engine)
    assert result.complete
    assert result.kinds == frozenset()  # the call as a whole is needed: the verdict is safe
    inside = {r.unit[1:]: r for r in result.inner
              if r.statement.line == 65 and len(r.unit) == 2}
    flush = next(u for u in inside if u[0].line == _generic_line("flush_dcache_page(p)"))
    unmap = next(u for u in inside if u[0].line == _generic_line("kunmap_local(k)"))
    # Each can go alone, not both: each depends on the other.
    assert [d[1:] for d in inside[flush].depends_on] == [unmap]
    assert [d[1:] for d in inside[unmap].depends_on] == [flush]


def test_nothing_inside_memcpy_to_page_is_redundant_on_arm_v6() -> None:
    result = _check("memcpy_to_page_pinned_user_page", "arm_v6", "explicit")
    assert result.complete and result.kinds == frozenset()
    assert not [r for r in result.inner if r.statement.line == 65]


def test_pinned_lines_that_differ_fail_with_the_lines_found(tmp_path) -> None:
    import io

    from checker.cli import run

    text = (REPO / "tests" / "litmus" / "redundant_lines.flow").read_text()
    # Pin one of the two flushes only: the other is reported too, so the result differs.
    path = tmp_path / "pinned.flow"
    path.write_text(text.replace("at 18, 19 on two", "at 18 on two"))
    out = io.StringIO()
    status = run([str(path), "--arch", "two", "-q"], out, io.StringIO())
    assert status == 1
    assert ("redundant_flush at 18, 19  UNEXPECTED (expected redundant_flush at 18)"
            in out.getvalue())
