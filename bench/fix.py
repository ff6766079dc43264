"""How long `check --fix` takes (issue 12: under 60 s a protocol over every arch).

For each case, the synthesis (checker/fix/synthesis.py) of one protocol, over five arches
and over every built-in arch: wall time, rounds of the loop, candidates, the outcome, and
whether the redundancy question was settled. Writes the `fix` section of bench/RESULTS.md.

    python bench/fix.py
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

from sections import fmt_s, write_section

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from checker.check import CheckOptions  # noqa: E402
from checker.fix.synthesis import synthesise  # noqa: E402
from checker.front.load import load_files  # noqa: E402

FIVE = ["x86", "arm64", "arm_v6", "arm_vivt", "parisc"]
CASES = [
    ("specs/set_bit_to_user.flow", "set_bit_to_user_quiescent"),
    ("specs/set_bit_to_user.flow", "set_bit_to_user"),
    ("specs/block/bio_copy_data_iter.flow", "bio_copy_data_iter_noflush"),
    ("specs/fs/read_folio_fill.flow", "read_folio_fill_noflush"),
]


def main() -> None:
    rows = []
    for path, name in CASES:
        library = load_files([str(REPO / path)]).library
        protocol = next(p for p in library.protocols if p.name == name)
        builtin = sorted(n for n, a in library.arches.items() if a.builtin)
        for label, names in (("5 arches", FIVE), (f"all {len(builtin)}", builtin)):
            began = time.perf_counter()
            outcome = synthesise(protocol, [library.arches[n] for n in names], CheckOptions())
            wall = time.perf_counter() - began
            best = outcome.best
            calls = ", ".join(c.text() for c in best.calls) if best else "-"
            lean = ("yes" if outcome.lean else "none (proven)") if outcome.lean_proven \
                else "not settled"
            if outcome.status in ("nothing", "none", "inconclusive"):
                lean = "-"
            unfixed = ", ".join(outcome.unfixable) or "-"
            rows.append(f"| {name} | {label} | {outcome.status} | {unfixed} | {calls} | "
                        f"{lean} | {len(outcome.candidates)} | {outcome.rounds} | "
                        f"{fmt_s(wall)} |")
            print(rows[-1], flush=True)
    lines = [
        "## Fix synthesis: `check --fix` (issue 12)",
        "",
        f"`python bench/fix.py`, one process, {os.cpu_count()} CPUs "
        f"({platform.processor() or platform.machine()}, Python {platform.python_version()}); "
        "default options (at most 2 calls, 30 s for the redundancy question). Status: fixed "
        "(every arch), partial (the arches listed cannot be fixed by any placement: proven). "
        "Lean: a placement with no redundant statement on any arch fixed. nothing: no "
        "finding on those arches.",
        "",
        "| protocol | arches | status | not fixable | placement | lean | candidates | rounds "
        "| wall |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
    ]
    write_section("fix", "\n".join(lines))


if __name__ == "__main__":
    main()
