"""Running the checks of one command, in this process or in worker processes (`--jobs`).

Results come back in the order the checks were listed whatever the number of workers, so the
output does not depend on `--jobs`. Each worker loads the same files itself (loading is
deterministic) and receives only (protocol index, arch name) pairs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

from checker.check import CheckOptions, CheckResult, check
from checker.load import Loaded, load_files

_worker_loaded: Loaded | None = None


def run_checks(
    loaded: Loaded,
    files: list[str],
    pairs: list[tuple[int, str]],
    options: CheckOptions,
    jobs: int,
) -> Iterator[CheckResult]:
    """The result of each (protocol index, arch name) pair, in order."""
    workers = min(jobs or os.cpu_count() or 1, len(pairs))
    if workers <= 1:
        for index, arch in pairs:
            yield _check(loaded, index, arch, options)
        return
    with ProcessPoolExecutor(workers, initializer=_load, initargs=(files,)) as pool:
        futures = [pool.submit(_work, index, arch, options) for index, arch in pairs]
        for future in futures:
            yield future.result()


def _check(loaded: Loaded, index: int, arch: str, options: CheckOptions) -> CheckResult:
    library = loaded.library
    return check(library.protocols[index], library.arches[arch], options)


def _load(files: list[str]) -> None:
    global _worker_loaded
    _worker_loaded = load_files(files)


def _work(index: int, arch: str, options: CheckOptions) -> CheckResult:
    assert _worker_loaded is not None
    return _check(_worker_loaded, index, arch, options)
