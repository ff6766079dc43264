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

REVIEW = str(REPO / "bench" / "review.flow")


@pytest.mark.parametrize(("arch", "status", "verdict"), [
    ("x86", 0, "safe ok"),  # as expected: the grid cell says it
    ("arm_v6", 1, "lost_write, stale_read UNEXPECTED (expected safe)"),
])
def test_the_verdict_of_a_review_run(arch: str, status: int, verdict: str) -> None:
    code, out, _ = run_cli(["-q", REVIEW, "--arch", arch])
    assert code == status
    line, read = scale.summary_of(out)
    assert read == verdict
    assert line.startswith("review_memcpy_to_shared_file")


def test_a_finding_as_expected_is_named(tmp_path) -> None:
    flow = tmp_path / "one.flow"
    flow.write_text("""protocol unflushed {
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
    expect stale_read, lost_write on arm_v6
}
""", encoding="utf-8")
    code, out, _ = run_cli(["-q", str(flow), "--arch", "arm_v6"])
    assert code == 0
    assert scale.summary_of(out) == ("unflushed lost_write, stale_read ok",
                                     "lost_write, stale_read ok")
