"""Front-end fuzzing: many generated and broken .flow inputs through read, parse, resolve, the
per-arch checks and the size limits.

    python bench/fuzz_frontend.py               # 5,000 inputs per strategy, seed 0
    python bench/fuzz_frontend.py --per 500     # a quick look

The strategies are tests/text_strategies.py's (the test suite runs 40 of each): valid text
printed from random models, that text mutated (tokens inserted, spans deleted, duplicated,
swapped), token soups, and arbitrary bytes. Every input must end in a result or a located
error (`file:line:col: error:`); another exception, or one input taking more than 5 s (a
hang), is a failure, printed with the input. The counts go into bench/RESULTS.md between the
`fuzz` markers.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import seed as hypothesis_seed  # noqa: E402
from sections import write_section  # noqa: E402
from text_strategies import (  # noqa: E402
    flow_texts,
    front_end,
    garbage,
    mutated_texts,
    token_soups,
)

STRATEGIES = [("valid text from random models", flow_texts()),
              ("mutated valid text", mutated_texts()), ("token soups", token_soups),
              ("arbitrary bytes", garbage)]


def run(label: str, strategy, count: int, seed: int, path: Path) -> tuple[Counter, float]:
    outcomes: Counter = Counter()

    @hypothesis_seed(seed)
    @settings(max_examples=count, phases=[Phase.generate], database=None, deadline=5_000,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    @given(data=strategy)
    def one(data) -> None:
        outcomes[front_end(path, data)] += 1

    start = time.perf_counter()
    one()  # an exception or a deadline overrun propagates: the run fails loudly
    return outcomes, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per", type=int, default=5_000, help="inputs per strategy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args(argv)
    rows = []
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for label, strategy in STRATEGIES:
            outcomes, seconds = run(label, strategy, args.per, args.seed, Path(tmp) / "in.flow")
            n = sum(outcomes.values())
            total += n
            rows.append(f"| {label} | {n:,} | {outcomes['ok']:,} | {outcomes['error']:,} | "
                        f"0 | {seconds:.0f} s |")
            print(rows[-1], file=sys.stderr, flush=True)
    shown = " ".join(argv if argv is not None else sys.argv[1:])
    body = "\n".join([
        "## Front-end fuzzing",
        "",
        f"`python bench/fuzz_frontend.py {shown}`: {total:,} inputs through read, parse, "
        "resolve, the per-arch checks and the size limits (bench/fuzz_frontend.py says what "
        "is generated). Each ended in a result or a located error; none raised anything else "
        "or took over 5 s (either would have stopped the run).",
        "",
        "| strategy | inputs | loaded | located error | other exception or hang | time |",
        "|---|---|---|---|---|---|",
        *rows,
    ])
    print(write_section("fuzz", body) if not args.no_write else body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
