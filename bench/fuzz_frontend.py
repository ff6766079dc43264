"""Front-end fuzzing: many generated and broken .flow inputs through read, parse, resolve, the
per-arch checks and the size limits.

    python bench/fuzz_frontend.py               # 5,000 inputs per strategy, seed 0
    python bench/fuzz_frontend.py --per 500     # a quick look
    python bench/fuzz_frontend.py --count 100000 --no-write   # 20,000 per strategy
    python bench/fuzz_frontend.py --hostile-only --count 2000 --scale 300 --no-write

The first four strategies are tests/text_strategies.py's (the test suite runs 40 of each):
valid text printed from random models, that text mutated (tokens inserted, spans deleted,
duplicated, swapped), token soups, and arbitrary bytes. The fifth is hand-made hostile input
(`hostile_cases`: what a tester found breaking the front end, tests/test_inputs.py has one test
each): long strings, comments and names, long runs of blank lines, numbers of 19 to 100,000
digits in every place a number goes, call chains past the depth limit, deep nesting of every
kind, long `extends` chains, line separators in comments, bad UTF-8, a file past the size
limit; each case as made, then mutated (`hostile_mutants`). `--scale` sets how long the long
ones are (the cases at full `--scale`, their mutants at a tenth).

Every input must end in a result or a located error (`file:line:col: error:`, or `error:` for
a file as a whole); another exception, a MemoryError under the `--memory-mb` limit on the
whole run (RLIMIT_AS), or one input taking more than `--deadline` seconds (a hang, stopped by
an alarm) is a failure, printed with the input's case and start. The counts go into
bench/RESULTS.md between the `fuzz` markers unless `--no-write`.
"""

from __future__ import annotations

import argparse
import random
import resource
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))  # sections, when imported from the tests
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import seed as hypothesis_seed  # noqa: E402
from sections import write_section  # noqa: E402
from text_strategies import (  # noqa: E402
    TOKENS,
    flow_texts,
    front_end,
    garbage,
    mutated_texts,
    token_soups,
)

from checker.front.load import MAX_FILE_BYTES  # noqa: E402

STRATEGIES = [("valid text from random models", flow_texts()),
              ("mutated valid text", mutated_texts()), ("token soups", token_soups),
              ("arbitrary bytes", garbage)]
HOSTILE = "hand-made hostile input, then mutated"

# Where a number goes: every INT of grammar/flow.lark.
NUMBER_PLACES = [
    "arch a {{ cache L1 vipt colours {n} }}",
    "arch a {{ cache L1 pipt line_words {n} }}",
    "protocol p {{ page g words {n} }}",
    "protocol p {{ page g\nmapping u = user(g) colour {n} }}",
    "protocol p {{ page g\nmapping u = user(g)\nthread t {{ read u[{n}]; write u[{n}] }} }}",
    "protocol p {{ page g\ndevice d {{ dma_read g[{n}]; dma_write g[{n}] }} }}",
    "protocol p {{ thread t {{ repeat {n} {{ signal e }} }} }}",
    "arch a {{ fn f(p: page) {{ flush kernel(p) cost {n} }} }}",
    "arch a {{ fn f(p: page) -> mapping {{ return map p colour {n} }} }}",
    "arch a {{ fn f(p: page) {{ x = map p colour {n}; unmap x }} }}",
]
# Inserted by the hostile mutations, besides the language's own tokens.
HOSTILE_TOKENS = [*TOKENS, "\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x85", "\u202e",
                  "9" * 19, "9" * 4_301, "either {", "} or {", "not", "else if anon(p) {",
                  "repeat 1024 {", "f0(g)", "u = mmap(g)", "munmap(u)", '"\\', "\\"]
_CALLER = "protocol q {\n    page g\n    thread t { f0(g) }\n}\n"


class Hang(Exception):
    """One input took longer than the deadline."""


def hostile_cases(scale: int) -> list[tuple[str, str | bytes]]:
    """(name, input) for each hand-made case; `scale` is the length of the long ones."""
    deep = max(scale // 10, 70)  # past the nesting limit (64), whatever the scale
    cases: list[tuple[str, str | bytes]] = [
        ("long string", 'protocol p {\n    doc "' + "a" * scale + '"\n}\n'),
        ("string of escapes", 'protocol p {\n    doc "' + '\\"\\\\' * (scale // 4) + '"\n}\n'),
        ("unterminated string", 'protocol p {\n    doc "' + "a" * scale + "\n}\n"),
        ("blank lines", "\n" * scale + "protocol p { x }\n"),
        ("blank lines in a block", "protocol p {" + " \n\t\r\n" * (scale // 4) + "}"),
        ("comment lines", "// c\n" * (scale // 5) + "protocol p { }\n"),
        ("long block comment", "/*" + "* " * (scale // 2) + "*/ protocol p { }\n"),
        ("unterminated comment", "protocol p { }\n/*" + "* " * (scale // 2)),
        ("long name", "protocol " + "p" * scale + " { page " + "g" * scale + " }\n"),
        ("separators", "protocol p {" + ";" * scale + "}\n"),
        ("call chain of 33", _chain(33)),
        ("recursion of 40", _chain(40, last="f10(p)")),
        ("recursion through a hook", _chain(40, last="u = mmap(p)").replace(
            "\n}\n", "\n    on user_map(p: page) { f35(p) }\n}\n", 1)),
        ("deep either", _thread("either { " * deep + "signal e" + " } or { }" * deep)),
        ("deep repeat", _thread("repeat 2 { " * deep + "signal e" + " }" * deep)),
        ("deep if", _function("if anon(p) { " * deep + "set p.x" + " }" * deep)),
        ("long else if", _function("if anon(p) { }" + " else if anon(p) { }" * deep)),
        ("else if lines", _function("if anon(p) { }\n" + "else if anon(p) { }\n" * deep)),
        ("deep not", _function(f"if {'not ' * deep}anon(p) {{ set p.x }}")),
        ("long and", _function(f"if {' and '.join(['anon(p)'] * deep)} {{ set p.x }}")),
        ("deep parentheses", _function(f"if {'(' * deep}anon(p){')' * deep} {{ set p.x }}")),
        ("open braces", _thread("either {" * deep)),
        ("extends chain", "".join(f"arch a{i} extends a{i + 1} {{ }}\n" for i in range(deep))
         + f"arch a{deep} {{ }}\n"),
        ("extends cycle", "".join(f"arch a{i} extends a{i + 1} {{ }}\n" for i in range(deep))
         + f"arch a{deep} extends a0 {{ }}\n"),
        ("bad UTF-8 after wide characters", 'protocol p { doc "é€'.encode() + b'\xff" }\n'),
        ("past the size limit", b"\n" * (MAX_FILE_BYTES + 1)),
    ]
    for separator in ["\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\r"]:
        text = f"// one{separator}two\nprotocol p {{\n    thread t {{ read }}\n}}\n"
        cases.append((f"{separator!r} in a comment", text))
    for digits in [19, 4_301, 100_000]:
        for place in NUMBER_PLACES:
            cases.append((f"{digits} digits in {place.split('{')[0]}...",
                          place.format(n="7" * digits)))
    return cases


def _chain(length: int, last: str = "set p.x") -> str:
    fns = [f"    fn f{i}(p: page) {{ f{i + 1}(p) }}" for i in range(length - 1)]
    fns.append(f"    fn f{length - 1}(p: page) {{ {last} }}")
    return "arch a {\n" + "\n".join(fns) + "\n}\n" + _CALLER


def _thread(body: str) -> str:
    return f"protocol p {{\n    page g\n    thread t {{\n{body}\n    }}\n}}\n"


def _function(body: str) -> str:
    return f"arch a {{\n    fn f0(p: page) {{\n{body}\n    }}\n}}\n" + _CALLER


def hostile_mutants(count: int, seed: int, scale: int) -> Iterator[tuple[str, str | bytes]]:
    """`count` inputs: each hand-made case once (at `scale`), then cases at a tenth of it
    with 1 to 4 mutations (a token inserted, a span deleted, duplicated or moved)."""
    rng = random.Random(seed)
    made = hostile_cases(scale)
    small = [(name, text) for name, text in hostile_cases(max(scale // 10, 100))
             if isinstance(text, str)]
    yield from made[:count]
    for _ in range(count - len(made)):
        name, text = rng.choice(small)
        yield f"{name}, mutated", _mutate(rng, text)


def _mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(text) + 1)
        size = rng.choice([1, 2, 8, 40, 400])
        how = rng.choice(["insert", "insert", "delete", "duplicate", "move"])
        if how == "insert":
            text = f"{text[:at]} {rng.choice(HOSTILE_TOKENS)} {text[at:]}"
        elif how == "delete":
            text = text[:at] + text[at + size:]
        elif how == "duplicate":
            text = text[:at] + text[at:at + size] * rng.randint(2, 50) + text[at:]
        else:
            piece = text[at:at + size]
            rest = text[:at] + text[at + size:]
            to = rng.randrange(len(rest) + 1)
            text = rest[:to] + piece + rest[to:]
    return text[: MAX_FILE_BYTES // 2]  # a duplicated duplicate stays a test of the text


def run_hostile(count: int, seed: int, scale: int, path: Path,
                deadline: float) -> tuple[Counter, float]:
    """Every hostile input through the front end, each under an alarm of `deadline` s."""
    outcomes: Counter = Counter()

    def alarm(signum, frame) -> None:
        raise Hang

    previous = signal.signal(signal.SIGALRM, alarm)
    start = time.perf_counter()
    try:
        for name, data in hostile_mutants(count, seed, scale):
            signal.setitimer(signal.ITIMER_REAL, deadline)
            try:
                outcomes[front_end(path, data)] += 1
            except Exception as error:  # Hang and MemoryError included
                shown = data[:200] if isinstance(data, bytes) else repr(data[:200])
                kind = f"took over {deadline:g} s" if isinstance(error, Hang) else repr(error)
                raise SystemExit(f"fuzz failure on {name}: {kind}\ninput: {shown}") from error
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    return outcomes, time.perf_counter() - start


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


def limit_memory(megabytes: int) -> None:
    """Cap this process's address space: a front end that allocates without bound fails
    with MemoryError (a failure of the run) instead of swapping the machine."""
    limit = megabytes << 20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per", type=int, default=5_000, help="inputs per strategy")
    parser.add_argument("--count", type=int, help="inputs in all, shared by the strategies "
                        "(overrides --per)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=int, default=100_000,
                        help="length of the long hand-made cases (their mutants: a tenth)")
    parser.add_argument("--hostile-only", action="store_true",
                        help="only the hand-made hostile inputs and their mutants")
    parser.add_argument("--memory-mb", type=int, default=2_048,
                        help="address-space limit of the run (0: none)")
    parser.add_argument("--deadline", type=float, default=5.0, help="seconds per input")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args(argv)
    if args.memory_mb:
        limit_memory(args.memory_mb)
    strategies = [] if args.hostile_only else STRATEGIES
    per = args.per if args.count is None else args.count // (len(strategies) + 1)
    rows = []
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.flow"
        results = [(label, *run(label, strategy, per, args.seed, path))
                   for label, strategy in strategies]
        results.append((HOSTILE, *run_hostile(per, args.seed, args.scale, path, args.deadline)))
        for label, outcomes, seconds in results:
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
        f"is generated), under a {args.memory_mb:,} MB address-space limit. Each ended in a "
        "result or a located error; none raised anything else or took over "
        f"{args.deadline:g} s (either would have stopped the run).",
        "",
        "| strategy | inputs | loaded | located error | other exception or hang | time |",
        "|---|---|---|---|---|---|",
        *rows,
    ])
    print(write_section("fuzz", body) if not args.no_write else body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
