"""Differential run: the explicit and Z3 engines on many random protocols and arches.

    python bench/differential.py                 # 10,000 cases, 2 workers, seed 0
    python bench/differential.py --cases 200     # a quick look

Cases come from the hypothesis strategies the test suite uses (tests/strategies.py): random
protocols (threads and a device, pages of 1-4 words, user mappings at fixed or free colours,
some starting unfaulted (a page fault at the first access), reads, writes, copies,
kmap/kunmap, mmap/munmap, signal/wait, locks, either, DMA) on random
single-level arches (indexing, colours, write policy, line size, speculation, DMA coherence,
random bodies for kmap, kunmap, a flush function and both hooks). Each case is checked as the
command checks it, once per engine: the search, the redundant-flush analysis and the replay of
every counterexample through the reference interpreter. The engines must report the same
finding kinds and the same redundant statements with the same dependencies. A case whose
explicit search passes --max-states, or that either engine leaves inconclusive within
--timeout, is counted as skipped, never as agreeing.

A second batch runs arches of two levels (victim_fill included) on the explicit engine only
(the Z3 engine models one level): there every counterexample is replayed, nothing compared.

Each run adds its figures to bench/differential_batches.json (the ledger of every batch, so
that runs with other seeds add up), and the section between the `differential` markers of
bench/RESULTS.md shows them all (bench/run.py keeps that section); `--no-write` only prints.
Each disagreement is written to bench/disagreements/ as the repr of the case,
to become a regression test.
"""

from __future__ import annotations

import argparse
import json
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
from checker.engines.smt import DecodeError  # noqa: E402
from checker.errors import FlowError  # noqa: E402
from checker.front import model  # noqa: E402
from checker.front.resolve_calls import check_protocol_on_arch  # noqa: E402
from checker.report.trace import ReplayError  # noqa: E402

Case = tuple[model.Protocol, model.Arch]


def generate(count: int, seed: int, max_levels: int, max_words: int) -> list[Case]:
    """`count` cases drawn by hypothesis (generation only: no shrinking, no database)."""
    cases: list[Case] = []

    @hypothesis_seed(seed)
    @settings(max_examples=count, phases=[Phase.generate], database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(protocol=protocols(max_words=max_words), arch=arches(max_levels=max_levels))
    def collect(protocol: model.Protocol, arch: model.Arch) -> None:
        cases.append((protocol, arch))

    collect()
    return cases


def run_case(job: tuple[int, Case, bool, int, float]) -> dict:
    """Check one case on the explicit engine and, when `compare`, on the Z3 engine."""
    index, (protocol, arch), compare, max_states, timeout = job
    record: dict = {"index": index, "levels": len(arch.levels)}
    try:
        check_protocol_on_arch(protocol, arch)  # what the front end checks per arch
    except FlowError as error:  # the generator made a case the front end would refuse
        return {**record, "outcome": "invalid", "detail": error.message}
    start = time.perf_counter()
    try:
        explicit = check(protocol, arch, CheckOptions("explicit", max_states, timeout))
    except FlowError as error:
        return {**record, "outcome": "invalid", "detail": error.message}
    except (ReplayError, DecodeError) as error:
        return {**record, "outcome": "disagree", "detail": f"explicit: {error}"}
    except Exception as error:  # a crash is a failure of the checker, recorded, not fatal
        return {**record, "outcome": "disagree", "detail": f"explicit crashed: {error!r}"}
    record["explicit_s"] = time.perf_counter() - start
    record["states"] = explicit.states
    if not explicit.complete:
        return {**record, "outcome": "skipped", "detail": explicit.reason}
    record["kinds"] = sorted(explicit.kinds)
    record["redundant"] = len(explicit.redundant)
    if not compare:
        return {**record, "outcome": "replayed"}
    start = time.perf_counter()
    try:
        symbolic = check(protocol, arch, CheckOptions("z3", max_states, timeout))
    except (ReplayError, DecodeError) as error:
        return {**record, "outcome": "disagree", "detail": f"z3: {error}"}
    except Exception as error:  # a crash is a failure of the checker, recorded, not fatal
        return {**record, "outcome": "disagree", "detail": f"z3 crashed: {error!r}"}
    record["z3_s"] = time.perf_counter() - start
    if not symbolic.complete:
        return {**record, "outcome": "skipped", "detail": "z3: " + symbolic.reason}
    if symbolic.verdict() != explicit.verdict():
        detail = f"explicit {explicit.verdict()} z3 {symbolic.verdict()}"
        return {**record, "outcome": "disagree", "detail": detail}
    return {**record, "outcome": "agree"}


def run_batch(cases: list[Case], compare: bool, jobs: int, max_states: int, timeout: float,
              progress: str) -> list[dict]:
    work = [(i, case, compare, max_states, timeout) for i, case in enumerate(cases)]
    records = []
    with ProcessPoolExecutor(jobs) as pool:
        for done, record in enumerate(pool.map(run_case, work, chunksize=4), 1):
            records.append(record)
            if done % 250 == 0 or done == len(work):
                counts = Counter(r["outcome"] for r in records)
                print(f"{progress}: {done}/{len(work)} {dict(sorted(counts.items()))}",
                      file=sys.stderr, flush=True)
    return records


def _save_disagreements(cases: list[Case], records: list[dict], label: str, seed: int) -> int:
    out = ROOT / "bench" / "disagreements"
    found = [r for r in records if r["outcome"] == "disagree"]
    for record in found:
        out.mkdir(exist_ok=True)
        protocol, arch = cases[record["index"]]
        path = out / f"{label}-seed{seed}-case{record['index']}.txt"
        path.write_text(f"# {record['detail']}\n{protocol!r}\n{arch!r}\n", encoding="utf-8")
    return len(found)


def _table(
    label: str, records: list[dict], seconds: float, compare: bool
) -> tuple[list[str], str]:
    counts = Counter(r["outcome"] for r in records)
    judged = [r for r in records if r["outcome"] in ("agree", "replayed")]
    kinds = Counter(k for r in judged for k in r["kinds"])
    kinds["safe"] = sum(1 for r in judged if not r["kinds"])
    explicit = sum(r.get("explicit_s", 0.0) for r in records)
    z3 = sum(r.get("z3_s", 0.0) for r in records)
    states = sorted(r["states"] for r in judged) or [0]
    lines = [
        f"| {label} | {len(records):,} | {counts['agree'] if compare else '-'} | "
        f"{counts['replayed'] if not compare else '-'} | {counts['disagree']} | "
        f"{counts['skipped'] + counts['invalid']} | {seconds:.0f} s | {explicit:.0f} s | "
        f"{f'{z3:.0f} s' if compare else '-'} | {states[len(states) // 2]:,} / "
        f"{states[-1]:,} |",
    ]
    found = ", ".join(f"{k} {n:,}" for k, n in sorted(kinds.items()))
    return lines, f"- {label}: {found}; {sum(r.get('redundant', 0) > 0 for r in judged):,} " \
        "cases with a redundant statement."


LEDGER = ROOT / "bench" / "differential_batches.json"


def batch_record(sections: list[tuple[str, list[dict], float, bool]], argv: str,
                 seed: int) -> dict:
    """One run's figures as the ledger keeps them: its table rows, verdict lines and counts."""
    rows, kinds = [], []
    totals: Counter = Counter()
    for label, records, seconds, compare in sections:
        row, kind = _table(f"{label}, seed {seed}", records, seconds, compare)
        rows += row
        kinds.append(kind)
        counts = Counter(r["outcome"] for r in records)
        totals["cases"] += len(records)
        totals["judged"] += counts["agree"] + counts["replayed"]
        totals["disagree"] += counts["disagree"]
        if compare:
            totals["compared"] += len(records)
    return {"argv": argv, "rows": rows, "kinds": kinds, **totals}


def render_results(batches: list[dict]) -> str:
    """The section: every batch run so far (the ledger), and their totals."""
    compared = sum(b.get("compared", 0) for b in batches)
    judged = sum(b.get("judged", 0) for b in batches)
    disagree = sum(b.get("disagree", 0) for b in batches)
    return "\n".join([
        "## Differential run: explicit and Z3 engines on random cases",
        "",
        "Batches so far (each row one `python bench/differential.py` run; its command is "
        "listed below; bench/differential_batches.json keeps them, and a new run adds its "
        f"rows): {compared:,} cases run on both engines, {judged:,} judged in all, "
        f"{disagree} disagreements. bench/differential.py says what is generated. Agree: same "
        "finding kinds and same redundant statements with the same dependencies, every "
        "counterexample replayed. Skipped: over the state cap or inconclusive within the "
        "time-out, so not judged. CPU times are summed over workers.",
        "",
        "| batch | cases | agree | replayed only | disagree | skipped | wall | explicit CPU "
        "| z3 CPU | states median / max |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(row for b in batches for row in b["rows"]),
        "",
        "Commands:",
        "",
        *(f"- `python bench/differential.py {b['argv']}`" + (f" ({b['note']})" if b.get("note")
                                                            else "") for b in batches),
        "",
        "Verdicts among the judged cases:",
        "",
        *(kind for b in batches for kind in b["kinds"]),
        "",
        "Failures found by earlier runs, each now a regression test: the Z3 engine crashed "
        "(IndexError) building a copy for two handles of pages of different sizes that never "
        "meet (first full run, case 9073; tests/litmus/regress_copy_rebound_sizes.flow); "
        "the explicit engine rebuilt a witness from the normal form of a start state, which "
        "for a dead line of `start kernel(P) dirty` is no start state (a first seed-5 run "
        "on the code of f862bc1, 2 of its first 250 cases, stopped there; "
        "tests/litmus/regress_prewritten_dead_line.flow); "
        "before this script, a one-off run and reviews found the Z3 `either` variable "
        "wrapping past 256 paths (tests/litmus/regress_wide_either.flow) and the other "
        "tests/litmus/regress_*.flow cases.",
    ])


def load_ledger() -> list[dict]:
    return json.loads(LEDGER.read_text(encoding="utf-8")) if LEDGER.exists() else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="single-level cases")
    parser.add_argument("--multilevel", type=int, default=2_000,
                        help="two-level cases (explicit engine, replay only)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--max-states", type=int, default=5_000,
                        help="skip a case whose explicit search passes this many states")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per check")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args(argv)
    sections = []
    failures = 0
    for label, count, levels, compare in [("one level, both engines", args.cases, 1, True),
                                          ("two levels, explicit", args.multilevel, 2, False)]:
        if count <= 0:
            continue
        cases = generate(count, args.seed, levels, 4)
        start = time.perf_counter()
        records = run_batch(cases, compare, args.jobs, args.max_states, args.timeout, label)
        sections.append((label, records, time.perf_counter() - start, compare))
        failures += _save_disagreements(cases, records, "one" if compare else "two", args.seed)
    shown = " ".join(a for a in (argv if argv is not None else sys.argv[1:]))
    batches = [*load_ledger(), batch_record(sections, shown, args.seed)]
    text = render_results(batches)
    if not args.no_write:
        LEDGER.write_text(json.dumps(batches, indent=1) + "\n", encoding="utf-8")
        write_section("differential", text)
    print(text)  # with --no-write too: the figures are not lost
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
