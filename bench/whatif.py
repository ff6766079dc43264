"""What the 2019 proposal ("kunmap flushes on every aliasing arch") does to the library:
`check --compare X,X_flushing_kunmap` over specs/ for each arch of
examples/kunmap_flushes_everywhere.flow, with and without callers dropping their own
flush_dcache_page. Writes the `whatif` section of bench/RESULTS.md (docs/fix.md quotes it).

    python bench/whatif.py
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from sections import write_section

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from checker.cli import run  # noqa: E402

ARCHES = ["arm_v6", "arm_vivt", "mips", "sh4", "xtensa", "arc700", "csky_abiv1", "nios2",
          "sparc32", "sparc64"]


def summary(arch: str, drop: bool) -> tuple[str, str]:
    argv = ["--compare", f"{arch},{arch}_flushing_kunmap", "--arch-scope", "run",
            str(REPO / "specs"), str(REPO / "examples" / "kunmap_flushes_everywhere.flow")]
    if drop:
        argv += ["--drop-calls", "flush_dcache_page"]
    out = io.StringIO()
    run(argv, out, io.StringIO())
    lines = out.getvalue().splitlines()
    return lines[-2], lines[-1]


def main() -> None:
    rows = []
    for arch in ARCHES:
        for drop in (False, True):
            counts, cost = summary(arch, drop)
            # "21 of 59 protocols differ: findings gone in 7, new findings in 0, newly
            # redundant statements in 16."
            words = counts.replace(",", "").replace(".", "").split()
            differ, total = words[0], words[2]
            gone, new, redundant = words[8], words[12], words[17]
            costs = cost.rsplit(":", 1)[1].replace(".", "").replace(",", "").split()
            rows.append(f"| {arch} | {'yes' if drop else 'no'} | {differ} of {total} | {gone} "
                        f"| {new} | {redundant} | {costs[1]} -> {costs[3]} |")
            print(rows[-1], flush=True)
    lines = [
        "## What-if: kunmap flushes on every aliasing arch (issue 12)",
        "",
        "`python bench/whatif.py`: `check --compare X,X_flushing_kunmap --arch-scope run specs/ "
        "examples/kunmap_flushes_everywhere.flow` for each arch (with `--drop-calls "
        "flush_dcache_page` where the second column says yes: the protocols' own "
        "flush_dcache_page calls left out on the variant). Findings gone / new: protocols "
        "whose stale reads, lost writes (...) disappear / appear on the variant; newly "
        "redundant: protocols with statements redundant on the variant and not on the arch. "
        "Cost: the maintenance one run of every protocol can do, in line operations (the "
        "variant's flush costs 128 a page: indicative).",
        "",
        "| arch | callers drop flush_dcache_page | protocols differing | findings gone | "
        "new findings | newly redundant | cost |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]
    write_section("whatif", "\n".join(lines))


if __name__ == "__main__":
    main()
