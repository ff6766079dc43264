"""--jobs: the workers send back only what the report cannot rebuild, and the results the
parent puts back together are the results of a run without workers."""

from __future__ import annotations

import multiprocessing
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

from checker import jobs
from checker.check import CheckOptions, check
from checker.front.load import load_files, select_arches
from checker.machine.lower import lower
from checker.report.trace import ReplayError

SPEC = "specs/set_bit_to_user.flow"
# Safe, stale_read with traces, and redundant_flush with its dependencies.
ARCHES = ("x86", "arm_v6", "parisc")


def pairs_of(loaded) -> list[tuple[int, str]]:
    return [(index, arch) for index in range(len(loaded.library.protocols)) for arch in ARCHES]


def every_pair(loaded) -> list[tuple[int, str]]:
    arches = select_arches(loaded.library, None)
    return [(index, arch) for index in range(len(loaded.library.protocols)) for arch in arches]


def test_results_from_workers_equal_results_without(in_repo: Path) -> None:
    """Every check of the shipped spec (80 of them: sent 5 to a message)."""
    loaded = load_files([SPEC])
    pairs = every_pair(loaded)
    serial = list(jobs.run_checks(loaded, [SPEC], pairs, CheckOptions(), 1))
    parallel = list(jobs.run_checks(loaded, [SPEC], pairs, CheckOptions(), 2))
    assert parallel == serial  # programs, traces and redundant statements included
    assert any(r.traces for r in serial) and any(r.redundant for r in serial)
    # The parent's own protocol and arch objects, not copies.
    for (index, arch), result in zip(pairs, parallel, strict=True):
        assert result.protocol is loaded.library.protocols[index]
        assert result.arch is loaded.library.arches[arch]


def test_a_worker_sends_no_protocol_arch_or_program(in_repo: Path, monkeypatch) -> None:
    monkeypatch.setattr(jobs, "_parent_loaded", None)
    monkeypatch.setattr(jobs, "_worker_loaded", None)
    jobs._load([SPEC])  # as a spawned worker does: it loads the files itself
    loaded = load_files([SPEC])
    for index, arch in pairs_of(loaded):
        sent = jobs._work((index, arch), CheckOptions())
        had_program, stripped = sent
        assert stripped.protocol is None and stripped.arch is None and stripped.program is None
        whole = check(loaded.library.protocols[index], loaded.library.arches[arch])
        assert had_program == (whole.program is not None)
        assert len(pickle.dumps(sent)) < len(pickle.dumps(whole)) / 4
        assert jobs._attach(loaded, index, arch, sent) == whole


def test_the_program_a_check_reports_is_the_protocol_lowered_on_the_arch(in_repo: Path) -> None:
    """What the parent relies on to rebuild a result's program instead of receiving it."""
    library = load_files([SPEC]).library
    for protocol in library.protocols:
        for name in ("arm_v6", "parisc", "pa8800", "x86"):
            arch = library.arches[name]
            result = check(protocol, arch)
            assert result.program == lower(protocol, arch), (protocol.name, name)


def test_a_forked_worker_uses_the_parents_files(monkeypatch) -> None:
    loaded = load_files([], builtins=[])
    monkeypatch.setattr(jobs, "_parent_loaded", (["a.flow"], loaded))
    monkeypatch.setattr(jobs, "_worker_loaded", None)
    jobs._load(["a.flow"])  # no such file: it is not read again
    assert jobs._worker_loaded is loaded


def test_same_output_with_spawned_workers(tmp_path: Path) -> None:
    """Workers that are not forked (the default start method on macOS, and on Linux from
    Python 3.14) load the files themselves, from the cache or not."""
    script = (
        "import io, multiprocessing, sys\n"
        "multiprocessing.set_start_method('spawn')\n"
        "from checker.cli import run\n"
        "out = io.StringIO()\n"
        "code = run(sys.argv[1:], out, sys.stderr)\n"
        "print(out.getvalue(), end='')\n"
        "sys.exit(code)\n"
    )
    argv = [SPEC, "--arch", "arm_v6,parisc"]
    outputs = []
    for extra in ([], ["--jobs", "2"]):
        proc = subprocess.run([sys.executable, "-c", script, *argv, *extra], cwd=REPO,
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]
    assert "== set_bit_to_user on arm_v6: stale_read" in outputs[0]


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork",
                    reason="the failing check is patched in before the workers fork")
def test_an_error_in_a_worker_comes_after_the_results_before_it(in_repo, monkeypatch) -> None:
    loaded = load_files([SPEC])
    pairs = every_pair(loaded)
    failing = pairs[7]  # the third of the second message

    def failing_check(protocol, arch, options, progress=None):
        if (loaded.library.protocols.index(protocol), arch.name) == failing:
            raise ReplayError("step 3 is not a transition")
        return check(protocol, arch, options, progress)

    monkeypatch.setattr(jobs, "check", failing_check)
    got = []
    with pytest.raises(ReplayError, match="step 3") as raised:
        for result in jobs.run_checks(loaded, [SPEC], pairs, CheckOptions(), 2):
            got.append(result)
    assert len(got) == 7  # every result before the failing check, none after
    assert isinstance(raised.value.__cause__, jobs.WorkerTraceback)
    assert "failing_check" in str(raised.value.__cause__)
