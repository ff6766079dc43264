"""bench/scale.py reads each review run's verdict from `check -q` output: it must read the
check's own line, whatever else -q prints (the grid and its legend come first)."""

from __future__ import annotations

import importlib.util

import pytest
from helpers import REPO, run_cli


def _scale():
    """bench/scale.py, loaded by its path under a name of its own (bench_scale), so that no
    module of the suite named `scale` can be taken for it."""
    spec = importlib.util.spec_from_file_location("bench_scale", REPO / "bench" / "scale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scale = _scale()

# The kernel writes a page-cache page through its linear alias (colour 0 on arm_v6) and
# forgets flush_dcache_page; the process reads it through its mapping at colour 1. Derived
# by hand: on x86 (coherent) safe; on arm_v6 the read misses to memory (stale_read), and the
# process's mapping, which may start dirty with the old value, can be written back after
# the kernel's line (lost_write).
UNFLUSHED = """protocol unflushed {
    page pg file
    mapping app = user(pg) colour 1
    thread kernel {
        k = kmap(pg)
        write k[0]
        kunmap(k)
        signal written
    }
    thread process {
        wait written
        read app[0]
    }
EXPECT}
"""


@pytest.mark.parametrize(("arch", "expect", "status", "verdict"), [
    ("x86", "", 0, "safe ok"),  # as expected, nothing found: the grid cell says it
    ("arm_v6", "", 1, "lost_write, stale_read UNEXPECTED (expected safe)"),
    ("arm_v6", "    expect stale_read, lost_write on arm_v6\n", 0, "lost_write, stale_read ok"),
])
def test_the_verdict_of_one_check(tmp_path, arch: str, expect: str, status: int,
                                  verdict: str) -> None:
    flow = tmp_path / "one.flow"
    flow.write_text(UNFLUSHED.replace("EXPECT", expect), encoding="utf-8")
    code, out, _ = run_cli(["-q", str(flow), "--arch", arch])
    assert code == status
    line, read = scale.summary_of(out)
    assert read == verdict
    assert line.startswith("unflushed")
