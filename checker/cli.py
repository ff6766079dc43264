"""The `check` command: argparse -> load -> check each protocol on each arch -> report.

This is the only module that prints or chooses an exit status:
0 every result matches its expect, 1 some does not, 2 unusable input, 3 inconclusive,
4 internal error (a counterexample that did not replay: a bug in the checker); 141 when the
output pipe closed early, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence

from checker.check import ENGINES, CheckOptions, CheckResult
from checker.engines.smt import DecodeError
from checker.errors import FlowError
from checker.front.load import Loaded, check_protocol_on_arch, load_files, select_arches
from checker.jobs import run_checks
from checker.report.arches import list_arches, show_arch
from checker.report.json import render_json
from checker.report.progress import ProgressLine
from checker.report.text import render_result, summary_lines
from checker.report.trace import ReplayError

EXIT_OK, EXIT_MISMATCH, EXIT_INPUT, EXIT_INCONCLUSIVE, EXIT_INTERNAL = 0, 1, 2, 3, 4


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="check",
        description="Check cache-flush protocols (.flow files) on kernel arch models.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help=".flow files to check")
    parser.add_argument(
        "--arch",
        default=None,
        metavar="NAME[,NAME...]|all",
        help="arches to check on (default: all built-in arches and those in the files)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only the summary lines"
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (traces and summary lines) or json (one document with everything)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=CheckOptions.engine,
        help="search engine: explicit (breadth-first search over the interpreter's states) or "
        "z3 (bounded model checking with a complete bound); default: %(default)s",
    )
    parser.add_argument(
        "--timeout",
        type=_positive(float),
        default=None,
        metavar="SECONDS",
        help="give up on one check (inconclusive) after this long, redundancy analysis "
        "included; the run goes on (default: no limit)",
    )
    parser.add_argument(
        "--max-states",
        type=_positive(int),
        default=CheckOptions.max_states,
        metavar="N",
        help="explicit engine: give up on one check (inconclusive) after N states; a state "
        "takes about 0.2-0.4 KB (default: %(default)s)",
    )
    parser.add_argument(
        "--max-memory",
        type=_positive(int),
        default=None,
        metavar="MB",
        help="explicit engine: give up on one check (inconclusive) when this process holds "
        "more than MB megabytes (default: 60%% of this machine's memory, shared by the "
        "--jobs workers)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="run N checks at a time in worker processes (0: one per CPU); the output is the "
        "same whatever N is",
    )
    parser.add_argument(
        "--list-arches",
        action="store_true",
        help="list the arches (built-in, and those in the given files) and exit",
    )
    parser.add_argument(
        "--show-arch",
        metavar="NAME",
        help="print one arch as resolved, inherited functions and their citations included",
    )
    return parser


def _positive(kind: type) -> Callable[[str], float | int]:
    """An argparse type: a finite number above zero."""

    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"'{text}' must be a finite number above 0")
        return value

    parse.__name__ = kind.__name__
    return parse


def default_memory_mb(jobs: int) -> int | None:
    """60% of the machine's memory, divided among the processes that search at once."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
    workers = jobs if jobs > 0 else (os.cpu_count() or 1)
    return max(256, int(total * 0.6) >> 20) // max(1, workers)


def run(argv: Sequence[str], out=sys.stdout, err=sys.stderr) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.files and not (args.list_arches or args.show_arch):
        parser.error("give at least one FILE to check (or --list-arches, --show-arch NAME)")
    if args.jobs < 0:
        parser.error("--jobs must be 0 (one per CPU) or more")
    sources = {}
    try:
        loaded = load_files(list(args.files))
        sources = loaded.sources
        if args.list_arches or args.show_arch:
            return describe_arches(loaded, args, out)
        arch_names = select_arches(loaded.library, args.arch)
        memory = args.max_memory or default_memory_mb(args.jobs)
        options = CheckOptions(engine=args.engine, max_states=args.max_states,
                               timeout=args.timeout, max_memory=memory)
        pairs = []
        for index, protocol in enumerate(loaded.library.protocols):
            for name in arch_names:
                check_protocol_on_arch(protocol, loaded.library.arches[name], loaded.library)
                pairs.append((index, name))
        results: list[CheckResult] = []
        progress = ProgressLine(err) if ProgressLine.wanted(err) else None
        for result in run_checks(loaded, list(args.files), pairs, options, args.jobs,
                                 progress):
            results.append(result)
            if not args.quiet and args.format == "text":
                print("\n".join(render_result(result, sources)), file=out)
    except FlowError as error:
        print(error.render(sources), file=err)
        return EXIT_INPUT
    except (ReplayError, DecodeError) as error:
        print(f"internal error: a counterexample did not replay: {error}", file=err)
        return EXIT_INTERNAL
    if args.format == "json":
        print(render_json(results, sources), file=out)
    else:
        for line in summary_lines(results):
            print(line, file=out)
    return exit_status(results, out if args.format == "text" else None)


def describe_arches(loaded: Loaded, args: argparse.Namespace, out) -> int:
    """--list-arches and --show-arch."""
    library = loaded.library
    if args.show_arch:
        select_arches(library, args.show_arch)  # a located error for an unknown name
        if "," in args.show_arch:
            raise FlowError(None, "--show-arch takes one arch name")
        print("\n".join(show_arch(library, args.show_arch.strip(), loaded.sources)), file=out)
    else:
        print("\n".join(list_arches(library, select_arches(library, args.arch))), file=out)
    return EXIT_OK


def exit_status(results: list[CheckResult], out) -> int:
    """The exit status of a run; with `out`, also print the closing count."""
    mismatched = [r for r in results if r.complete and not r.matches]
    inconclusive = [r for r in results if not r.complete]
    if out is not None:
        print(
            f"{len(results)} checks: {len(results) - len(mismatched) - len(inconclusive)} as "
            f"expected, {len(mismatched)} unexpected, {len(inconclusive)} inconclusive",
            file=out,
        )
    if mismatched:
        return EXIT_MISMATCH
    if inconclusive:
        return EXIT_INCONCLUSIVE
    return EXIT_OK


def main() -> None:
    try:
        code = run(sys.argv[1:])
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`check ... | head`): stop quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 141  # 128 + SIGPIPE, as the shell reports a command killed by a closed pipe
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
