"""--jobs: the workers send back only what the report cannot rebuild, and the results the
parent puts back together are the results of a run without workers."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO

from checker import jobs
from checker.check import CheckOptions, check
from checker.front.load import load_files
from checker.front.selection import select_arches
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
        [sent] = jobs._work([(index, arch)], CheckOptions())
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
    monkeypatch.setattr(jobs, "_parent_loaded", (["a.flow"], "run", loaded))
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
    # The input on a pipe: spawned workers get its text from the run, not from the pipe
    # (read again, it was empty: IndexError in every worker).
    spec = (REPO / SPEC).read_text()
    proc = subprocess.run([sys.executable, "-c", script, "/dev/stdin", *argv[1:], "--jobs",
                           "2"], cwd=REPO, input=spec, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    summary = [line for line in outputs[0].splitlines() if line.startswith("set_bit")]
    assert len(summary) == 4  # the grid's rows, one a protocol
    assert [line for line in proc.stdout.splitlines() if line.startswith("set_bit")] == summary


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


# -- ending a run with workers: signals and a closed pipe -------------------------------------
# bench/review.flow on pa8800 and parisc searches for minutes: long enough that a worker is
# surely busy when the signal comes, and no test waits for it to finish.
LONG = ["-m", "checker", "bench/review.flow", "--arch", "pa8800,parisc,arc700", "--jobs", "2"]


def _start(args: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], cwd=REPO, start_new_session=True,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_foreground_sigint,
                            **kwargs)


def _foreground_sigint() -> None:
    """SIGINT as a program started from a terminal has it. A test run started in the
    background of a non-interactive shell (`pytest &`) ignores SIGINT, its children inherit
    that, and a program that starts with SIGINT ignored rightly keeps ignoring it, as a
    background job should; the tests of Ctrl-C need the foreground case."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _workers_of(pid: int) -> list[int]:
    """The pids of the children of `pid` (its workers), once they have started."""
    for _ in range(200):
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        if len(children) >= 2:
            return [int(c) for c in children]
        time.sleep(0.05)
    raise AssertionError("the workers did not start")


def _clean_up(proc: subprocess.Popen) -> None:
    """Whatever the test found: nothing of the run is left (a worker that outlived its
    parent is still in the parent's process group)."""
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def _gone(pids: list[int], within: float = 10.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if not any(Path(f"/proc/{p}").exists() and "zombie" not in _state(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0]
    except (OSError, IndexError):
        return "zombie"  # gone meanwhile


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_the_run_ends_its_workers_promptly(signum, status) -> None:
    proc = _start(LONG, stdout=subprocess.DEVNULL)
    try:
        workers = _workers_of(proc.pid)
        time.sleep(0.5)  # both busy with a long check
        proc.send_signal(signum)
        assert proc.wait(timeout=10) == status
        assert _gone(workers)
        assert "Traceback" not in proc.stderr.read()
    finally:
        _clean_up(proc)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_ctrl_c_to_the_whole_group_ends_the_run_without_tracebacks() -> None:
    proc = _start(LONG, stdout=subprocess.DEVNULL)
    try:
        workers = _workers_of(proc.pid)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        assert proc.wait(timeout=10) == 130
        assert _gone(workers)
        assert "Traceback" not in proc.stderr.read()
    finally:
        _clean_up(proc)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_workers_die_with_a_parent_killed_outright() -> None:
    proc = _start(LONG, stdout=subprocess.DEVNULL)
    try:
        workers = _workers_of(proc.pid)
        proc.kill()  # SIGKILL: no handler runs in the parent
        proc.wait(timeout=10)
        assert _gone(workers)
    finally:
        _clean_up(proc)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_a_closed_pipe_ends_a_run_with_workers_promptly() -> None:
    # `check ... --jobs 2 | head -1`: x86's result comes at once, the others take minutes;
    # once the reader is gone the run stops (141) instead of waiting for them.
    args = LONG[:3] + ["--arch", "x86,pa8800,parisc", "--jobs", "2"]
    proc = _start(args, stdout=subprocess.PIPE)
    try:
        workers = _workers_of(proc.pid)
        assert proc.stdout.readline()
        proc.stdout.close()
        assert proc.wait(timeout=10) == 141
        assert _gone(workers)
        assert "Traceback" not in proc.stderr.read()
    finally:
        _clean_up(proc)


def test_deeply_nested_protocols_come_back_from_workers(tmp_path: Path) -> None:
    # 200 nested `either` once broke the pickling of results between processes; the front
    # end now refuses more than 64 levels (docs/language.md), so 60 is as deep as it gets.
    body = "write k[0]"
    for _ in range(60):
        body = f"either {{ {body} }} or {{ read u[0] }}"
    path = tmp_path / "nested.flow"
    path.write_text("protocol nested {\n page p anon\n mapping u = user(p)\n"
                    f" thread t {{\n  k = kmap(p)\n  {body}\n  kunmap(k)\n }}\n"
                    " thread r { read u[0] }\n}\n")
    loaded = load_files([str(path)])
    pairs = [(0, "x86"), (0, "arm_v6"), (0, "parisc")]
    serial = list(jobs.run_checks(loaded, [str(path)], pairs, CheckOptions(), 1))
    parallel = list(jobs.run_checks(loaded, [str(path)], pairs, CheckOptions(), 2))
    assert parallel == serial
