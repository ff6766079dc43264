"""Running the checks of one command, in this process or in worker processes (`--jobs`).

Results come back in the order the checks were listed whatever the number of workers, so the
output does not depend on `--jobs`. A worker receives only (protocol index, arch name) pairs.
It has the loaded files already when it was forked from this process; otherwise (the spawn
and forkserver start methods) it parses the texts this process read, which is deterministic.
Workers end with this process: it kills them on an error, Ctrl-C, SIGTERM or a closed
output pipe, and on Linux the kernel kills them if it dies outright (_die_with).

A worker sends back only what this process cannot rebuild: the result without its protocol,
arch and program. This process puts its own protocol and arch back, and lowers the program
again (lowering is deterministic and costs a fraction of unpickling the program: measured on
the shipped spec, 0.4 ms against 1.4 ms a check, and 19 KB less to send).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator

from checker.check import CheckOptions, CheckResult, Progress, check
from checker.front.load import Loaded, load_files
from checker.machine.lower import lower
from checker.report.progress import ProgressLine

# In a worker: what it checks. In this process while a pool starts: what forked workers find.
_worker_loaded: Loaded | None = None
_parent_loaded: tuple[list[str], str, Loaded] | None = None


def run_checks(
    loaded: Loaded,
    files: list[str],
    pairs: list[tuple[int, str]],
    options: CheckOptions,
    jobs: int,
    progress: ProgressLine | None = None,
    idle: Callable[[], None] | None = None,
    scope: str = "run",
) -> Iterator[CheckResult]:
    """The result of each (protocol index, arch name) pair, in order (`progress`: a line
    showing how a long check is going, used when the checks run in this process; `idle`:
    called every quarter second while waiting for workers, and may raise to end the run,
    e.g. when nobody reads the output any more)."""
    workers = min(jobs or os.cpu_count() or 1, len(pairs))
    if workers <= 1:
        for index, arch in pairs:
            if progress is None:
                yield _check(loaded, index, arch, options)
                continue
            progress.start(f"{loaded.library.protocols[index].name} on "
                           f"{loaded.library.arches[arch].name}")
            try:
                result = _check(loaded, index, arch, options, progress.update)
            finally:
                progress.clear()
            yield result
        return
    # Imported here: multiprocessing takes a while to import, and most runs do without it.
    from concurrent.futures import ProcessPoolExecutor, wait

    global _parent_loaded
    _parent_loaded = (files, scope, loaded)
    # Checks go out in chunks of a few consecutive ones (each message between processes costs
    # about half a millisecond, as much as a small check), still at least 8 chunks a worker.
    chunk = max(1, min(16, len(pairs) // (8 * workers)))
    try:
        # The files' texts go along: a spawned worker loads them again, and must not read
        # a pipe (`check /dev/stdin`) that this process has emptied.
        texts = {path: loaded.sources[path].text for path in files}
        pool = ProcessPoolExecutor(workers, initializer=_start_worker,
                                   initargs=(files, scope, texts, os.getpid()))
        try:
            parts = [pairs[i : i + chunk] for i in range(0, len(pairs), chunk)]
            futures = [pool.submit(_work, part, options) for part in parts]
            for part, future in zip(parts, futures, strict=True):
                while not wait([future], timeout=0.25).done:
                    if idle is not None:
                        idle()
                for (index, arch), sent in zip(part, future.result(), strict=True):
                    yield _attach(loaded, index, arch, sent)
        except BaseException:
            # An internal error, Ctrl-C, SIGTERM (cli.py raises it here), a closed output
            # pipe (the generator is closed): a running check can take minutes, so the
            # workers are killed, not waited for.
            _kill_workers(pool)
            raise
        pool.shutdown(wait=True)
    finally:
        _parent_loaded = None


def _kill_workers(pool) -> None:
    """End every worker of `pool` now and drop the queued checks."""
    kill = getattr(pool, "kill_workers", None)  # Python 3.14
    if kill is not None:
        kill()
    else:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def _check(loaded: Loaded, index: int, arch: str, options: CheckOptions,
           progress: Progress | None = None) -> CheckResult:
    library = loaded.library
    began = time.perf_counter()
    result = check(library.protocols[index], library.arches[arch], options, progress)
    return dataclasses.replace(result, seconds=time.perf_counter() - began)


def _start_worker(files: list[str], scope: str, texts: dict[str, str], parent: int) -> None:
    """A worker's start: its ties to the parent, then its copy of the loaded files."""
    _die_with(parent)
    _load(files, scope, texts)


def _load(files: list[str], scope: str = "run", texts: dict[str, str] | None = None) -> None:
    global _worker_loaded
    inherited = _parent_loaded
    if inherited is not None and inherited[:2] == (files, scope):  # forked: the parent's copy
        _worker_loaded = inherited[2]
    else:
        _worker_loaded = load_files(files, read=texts, scope=scope)


def _die_with(parent: int) -> None:
    """Make this worker end with the parent, whatever ends the parent.

    Ctrl-C reaches every process of the terminal's process group: the parent handles it (it
    kills its workers), so a worker ignores it rather than print a KeyboardInterrupt of its
    own. On Linux the kernel also sends SIGKILL when the parent dies (prctl
    PR_SET_PDEATHSIG), so a parent killed outright leaves no worker searching on."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before prctl: nobody will read our work
        os._exit(1)


class WorkerTraceback(Exception):
    """Where in a worker the exception raised in its place came from."""


def _work(part: list[tuple[int, str]], options: CheckOptions) -> list[tuple]:
    """In a worker: for each check of `part`, the result stripped of what the parent has
    (see _attach) and whether it had a program; or, ending the part, the exception a check
    raised, with its traceback, for the parent to raise in its place (after the results
    before it, as without workers)."""
    assert _worker_loaded is not None
    sent: list[tuple] = []
    for index, arch in part:
        try:
            result = _check(_worker_loaded, index, arch, options)
        except Exception as error:
            sent.append(_sendable(error))
            break
        stripped = dataclasses.replace(result, protocol=None, arch=None, program=None)
        sent.append((result.program is not None, stripped))
    return sent


def _sendable(error: Exception) -> tuple[BaseException, str]:
    """The exception and its traceback, as the parent can receive them: an exception that
    does not pickle (it holds deep or unpicklable objects) goes as its type name and text."""
    import pickle
    import traceback

    text = traceback.format_exc()
    try:
        pickle.dumps(error)
    except Exception:  # pickling can fail in many ways, RecursionError included
        error = RuntimeError(f"{type(error).__name__}: {error}")
    return error, text


def _attach(loaded: Loaded, index: int, arch: str, sent: tuple) -> CheckResult:
    """In the parent: the result as the worker had it, with this process's own protocol and
    arch, and the program lowered again (check() reports lower(protocol, arch))."""
    if isinstance(sent[0], BaseException):
        raise sent[0] from WorkerTraceback(sent[1])
    had_program, result = sent
    protocol, arch_model = loaded.library.protocols[index], loaded.library.arches[arch]
    program = lower(protocol, arch_model) if had_program else None
    return dataclasses.replace(result, protocol=protocol, arch=arch_model, program=program)
