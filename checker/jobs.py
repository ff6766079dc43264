"""Running the checks of one command, in this process or in worker processes (`--jobs`).

Results come back in the order the checks were listed whatever the number of workers, so the
output does not depend on `--jobs`. A worker receives only (protocol index, arch name) pairs.
It has the loaded files already when it was forked from this process; otherwise (the spawn
and forkserver start methods) it loads the same files itself, which is deterministic.

A worker sends back only what this process cannot rebuild: the result without its protocol,
arch and program. This process puts its own protocol and arch back, and lowers the program
again (lowering is deterministic and costs a fraction of unpickling the program: measured on
the shipped spec, 0.4 ms against 1.4 ms a check, and 19 KB less to send).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Iterator

from checker.check import CheckOptions, CheckResult, Progress, check
from checker.front.load import Loaded, load_files
from checker.machine.lower import lower
from checker.report.progress import ProgressLine

# In a worker: what it checks. In this process while a pool starts: what forked workers find.
_worker_loaded: Loaded | None = None
_parent_loaded: tuple[list[str], Loaded] | None = None


def run_checks(
    loaded: Loaded,
    files: list[str],
    pairs: list[tuple[int, str]],
    options: CheckOptions,
    jobs: int,
    progress: ProgressLine | None = None,
) -> Iterator[CheckResult]:
    """The result of each (protocol index, arch name) pair, in order (`progress`: a line
    showing how a long check is going, used when the checks run in this process)."""
    workers = min(jobs or os.cpu_count() or 1, len(pairs))
    if workers <= 1:
        for index, arch in pairs:
            if progress is None:
                yield _check(loaded, index, arch, options)
                continue
            progress.start(f"{loaded.library.protocols[index].name} on {arch}")
            try:
                result = _check(loaded, index, arch, options, progress.update)
            finally:
                progress.clear()
            yield result
        return
    # Imported here: multiprocessing takes a while to import, and most runs do without it.
    from concurrent.futures import ProcessPoolExecutor

    global _parent_loaded
    _parent_loaded = (files, loaded)
    # Checks go out in chunks of a few consecutive ones (each message between processes costs
    # about half a millisecond, as much as a small check), still at least 8 chunks a worker.
    chunk = max(1, min(16, len(pairs) // (8 * workers)))
    try:
        pool = ProcessPoolExecutor(workers, initializer=_load, initargs=(files,))
        try:
            sent = pool.map(_work, pairs, itertools.repeat(options), chunksize=chunk)
            for (index, arch), result in zip(pairs, sent, strict=True):
                yield _attach(loaded, index, arch, result)
        except BaseException:  # an internal error, Ctrl-C, a closed pipe: stop the others
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    finally:
        _parent_loaded = None


def _check(loaded: Loaded, index: int, arch: str, options: CheckOptions,
           progress: Progress | None = None) -> CheckResult:
    library = loaded.library
    return check(library.protocols[index], library.arches[arch], options, progress)


def _load(files: list[str]) -> None:
    global _worker_loaded
    inherited = _parent_loaded
    if inherited is not None and inherited[0] == files:  # forked: the parent's copy
        _worker_loaded = inherited[1]
    else:
        _worker_loaded = load_files(files)


class WorkerTraceback(Exception):
    """Where in a worker the exception raised in its place came from."""


def _work(pair: tuple[int, str], options: CheckOptions) -> tuple[bool, CheckResult] | tuple:
    """In a worker: the result stripped of what the parent has (see _attach), and whether
    it had a program; or the exception the check raised, with its traceback, for the parent
    to raise in its place (after the results before it, as without workers)."""
    assert _worker_loaded is not None
    index, arch = pair
    try:
        result = _check(_worker_loaded, index, arch, options)
    except Exception as error:
        import traceback

        return error, traceback.format_exc()
    stripped = dataclasses.replace(result, protocol=None, arch=None, program=None)
    return result.program is not None, stripped


def _attach(loaded: Loaded, index: int, arch: str, sent: tuple) -> CheckResult:
    """In the parent: the result as the worker had it, with this process's own protocol and
    arch, and the program lowered again (check() reports lower(protocol, arch))."""
    if isinstance(sent[0], BaseException):
        raise sent[0] from WorkerTraceback(sent[1])
    had_program, result = sent
    protocol, arch_model = loaded.library.protocols[index], loaded.library.arches[arch]
    program = lower(protocol, arch_model) if had_program else None
    return dataclasses.replace(result, protocol=protocol, arch=arch_model, program=program)
