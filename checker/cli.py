"""The `check` command: argparse -> load -> check each protocol on each arch -> report.

This is the only module that prints or chooses an exit status:
0 every result matches its expect, 1 some does not, 2 unusable input, 3 inconclusive,
4 internal error (a counterexample that did not replay: a bug in the checker); 141 when the
output pipe closed early, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from checker.check import ENGINES, CheckOptions, CheckResult, check
from checker.encode import DecodeError
from checker.errors import FlowError
from checker.load import check_protocol_on_arch, load_files, select_arches
from checker.report.json import render_json
from checker.report.text import render_result, summary_lines
from checker.trace import ReplayError

EXIT_OK, EXIT_MISMATCH, EXIT_INPUT, EXIT_INCONCLUSIVE, EXIT_INTERNAL = 0, 1, 2, 3, 4


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="check",
        description="Check cache-flush protocols (.flow files) on kernel arch models.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help=".flow files to check")
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
        type=float,
        default=None,
        metavar="SECONDS",
        help="give up on one check (inconclusive) after this long; the run goes on",
    )
    parser.add_argument(
        "--max-states",
        type=int,
        default=CheckOptions.max_states,
        metavar="N",
        help="give up (inconclusive) after exploring N states of one check",
    )
    return parser


def run(argv: Sequence[str], out=sys.stdout, err=sys.stderr) -> int:
    args = build_parser().parse_args(argv)
    sources = {}
    try:
        loaded = load_files(list(args.files))
        sources = loaded.sources
        arch_names = select_arches(loaded.library, args.arch)
        options = CheckOptions(engine=args.engine, max_states=args.max_states,
                               timeout=args.timeout)
        results: list[CheckResult] = []
        for protocol in loaded.library.protocols:
            for name in arch_names:
                arch = loaded.library.arches[name]
                check_protocol_on_arch(protocol, arch, loaded.library)
                result = check(protocol, arch, options)
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
