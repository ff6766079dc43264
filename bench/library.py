"""How long the whole library takes: `check -q --jobs N specs/` on every arch.

Runs the command as a user would (a fresh process, the per-user cache warm after the first
run), REPEAT times for each N, and writes the median wall-clock and CPU time (the process
and its workers) to the `library` section of bench/RESULTS.md, with the number of files,
protocols and checks. The goal of issue 11 is under 60 s with --jobs 2 on a 2-core machine.

    python bench/library.py [--repeat 3] [--jobs 1,2]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sections import fmt_s, write_section

REPO = Path(__file__).resolve().parent.parent


def run_once(jobs: int) -> tuple[float, float, str]:
    """Wall and CPU seconds of one run, and its last line (the count)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "checker", "-q", "--jobs", str(jobs), "specs/"],
                          cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"check specs/ exited {done.returncode}:\n{done.stdout}{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout.strip().splitlines()[-1]


def library_size() -> tuple[int, int]:
    sys.path.insert(0, str(REPO))
    from checker.front.discover import expand_paths
    from checker.front.load import load_files

    files, _ = expand_paths([str(REPO / "specs")])
    return len(files), len(load_files(files, scope="file").library.protocols)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", default="1,2")
    args = parser.parse_args()
    run_once(1)  # warm the per-user cache, as a user's second run finds it
    rows = []
    count = ""
    for jobs in [int(j) for j in args.jobs.split(",")]:
        walls, cpus = [], []
        for _ in range(args.repeat):
            wall, cpu, count = run_once(jobs)
            walls.append(wall)
            cpus.append(cpu)
        rows.append((jobs, statistics.median(walls), statistics.median(cpus)))
        print(f"--jobs {jobs}: {fmt_s(rows[-1][1])} wall, {fmt_s(rows[-1][2])} CPU", flush=True)
    files, protocols = library_size()
    lines = [
        "## The library: `check -q specs/` on every arch (issue 11)",
        "",
        f"`python bench/library.py`: {files} files, {protocols} protocols, every protocol on "
        f"every built-in arch and its file's own ({count}). Median of {args.repeat} runs "
        f"each, a fresh process every time (the per-user cache warm), on {os.cpu_count()} "
        f"CPUs ({platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}). CPU time counts the workers. Goal: under 60 s with "
        "`--jobs 2`.",
        "",
        "| --jobs | wall | CPU |",
        "|---|---|---|",
        *(f"| {jobs} | {fmt_s(wall)} | {fmt_s(cpu)} |" for jobs, wall, cpu in rows),
    ]
    write_section("library", "\n".join(lines))


if __name__ == "__main__":
    main()
