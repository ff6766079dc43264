"""Differential run of the explicit engine's reductions: reduced search against plain search.

    python bench/reductions.py                  # 10,000 cases, 2 workers, seed 0
    python bench/reductions.py --cases 300      # a quick look

Cases come from the hypothesis strategies of the test suite (tests/strategies.py), with
`symmetric=True`: twin threads (some with their own copy of a user mapping) and user
mappings at free colours, on arches of up to 6 colours, one level (dead lines apply) or two
(they do not). Each case is checked as the command checks it (search, redundant-flush
analysis, replay of every counterexample) twice: with the reductions (colour and thread
symmetry, deferred environment events, dead lines: docs/engines.md) and without
(`CheckOptions(reduction=False)`). The verdicts (finding kinds, redundant statements and
their dependencies) must be identical. The plain search is itself held state for state to
the reference interpreter by tests/test_engines.py. A case whose plain search passes
--max-states is skipped, never counted as agreeing.

The figures go into bench/RESULTS.md between the `reductions` markers.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import seed as hypothesis_seed  # noqa: E402
from sections import write_section  # noqa: E402
from strategies import arches, protocols  # noqa: E402

from checker.check import CheckOptions, check  # noqa: E402
from checker.errors import FlowError  # noqa: E402
from checker.front.resolve_calls import check_protocol_on_arch  # noqa: E402


def generate(count: int, seed: int, levels: int) -> list:
    cases: list = []

    @hypothesis_seed(seed)
    @settings(max_examples=count, phases=[Phase.generate], database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(protocol=protocols(max_words=2, symmetric=True),
           arch=arches(max_levels=levels, max_colours=6))
    def collect(protocol, arch) -> None:
        cases.append((protocol, arch))

    collect()
    return cases


def run_case(job) -> dict:
    index, (protocol, arch), max_states = job
    try:
        check_protocol_on_arch(protocol, arch)
    except FlowError:
        return {"outcome": "invalid"}
    try:
        start = time.perf_counter()
        plain = check(protocol, arch, CheckOptions(max_states=max_states, reduction=False))
        middle = time.perf_counter()
        reduced = check(protocol, arch, CheckOptions(max_states=max_states))
        end = time.perf_counter()
    except Exception as error:  # a crash is a failure, recorded, not fatal
        return {"outcome": "disagree", "index": index, "detail": repr(error)}
    if not plain.complete:
        return {"outcome": "skipped"}
    record = {"plain_s": middle - start, "reduced_s": end - middle,
              "plain_states": plain.states, "reduced_states": reduced.states}
    if not reduced.complete or reduced.verdict() != plain.verdict():
        return {**record, "outcome": "disagree", "index": index,
                "detail": f"plain {plain.verdict()} reduced {reduced.verdict()}"}
    return {**record, "outcome": "agree", "kinds": sorted(plain.kinds)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--max-states", type=int, default=20_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    rows, failures = [], 0
    for levels in (1, 2):
        count = args.cases * 4 // 5 if levels == 1 else args.cases - args.cases * 4 // 5
        cases = generate(count, args.seed + levels, levels)
        start = time.perf_counter()
        jobs = [(i, case, args.max_states) for i, case in enumerate(cases)]
        with ProcessPoolExecutor(args.jobs) as pool:
            records = list(pool.map(run_case, jobs, chunksize=8))
        wall = time.perf_counter() - start
        counts = Counter(r["outcome"] for r in records)
        for r in records:
            if r["outcome"] == "disagree":
                failures += 1
                print(f"DISAGREE levels={levels} case {r['index']}: {r['detail']}",
                      file=sys.stderr)
        judged = [r for r in records if r["outcome"] == "agree"]
        plain_states = sum(r["plain_states"] for r in judged)
        reduced_states = sum(r["reduced_states"] for r in judged)
        fewer = sum(r["reduced_states"] < r["plain_states"] for r in judged)
        found = sum(bool(r["kinds"]) for r in judged)
        rows.append(
            f"| up to {levels} | {len(records):,} | {counts['agree']:,} | "
            f"{counts['disagree']} | {counts['skipped'] + counts['invalid']:,} | "
            f"{fewer:,} | {found:,} | {plain_states:,} / {reduced_states:,} | "
            f"{sum(r['plain_s'] for r in judged):.0f} s / "
            f"{sum(r['reduced_s'] for r in judged):.0f} s | {wall:.0f} s |")
    text = "\n".join([
        "## Differential run: reduced against plain explicit search",
        "",
        f"`python bench/reductions.py {' '.join(argv or sys.argv[1:])}` (the script says "
        "what is generated). Agree: the same finding kinds and the same redundant "
        "statements with the same dependencies, every counterexample replayed. Skipped: "
        "the plain search passed --max-states, or the front end refused the case.",
        "",
        "| cache levels | cases | agree | disagree | skipped | reduced fewer states | with "
        "a finding | states plain / reduced | CPU plain / reduced | wall |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
    ])
    if not args.no_write:
        write_section("reductions", text)
    print(text)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
