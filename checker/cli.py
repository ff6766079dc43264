"""The `check` command: argparse -> load -> check each protocol on each arch -> report.

This is the only module that prints or chooses an exit status:
0 every result matches its expect, 1 some does not, 2 unusable input, 3 inconclusive,
4 internal error (a counterexample that did not replay, or any other exception: a bug in the
checker), 5 the output could not be written (a full disk, a closed stdout); 141 when the
output pipe closed early, 130 on Ctrl-C, 143 on SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import traceback
from collections.abc import Callable, Sequence

from checker.check import ENGINES, CheckOptions, CheckResult
from checker.engines.smt import DecodeError
from checker.errors import ErrorList, FlowError, FlowWarning
from checker.front.discover import expand_paths
from checker.front.load import SCOPES, Loaded, check_protocol_on_arch, load_files
from checker.front.selection import plan_checks, select_arches
from checker.front.source import Span
from checker.jobs import run_checks
from checker.report.arches import list_arches, show_arch
from checker.report.baseline import compare, load_baseline, render_changes
from checker.report.grid import render_grid
from checker.report.html import render_html, render_html_errors
from checker.report.json import render_input_errors, render_json
from checker.report.junit import render_junit, render_junit_errors
from checker.report.progress import ProgressLine
from checker.report.sarif import render_sarif, render_sarif_errors
from checker.report.text import render_result, summary_lines
from checker.report.trace import ReplayError

FORMATS = ("text", "json", "sarif", "junit", "html")
EXIT_OK, EXIT_MISMATCH, EXIT_INPUT, EXIT_INCONCLUSIVE, EXIT_INTERNAL, EXIT_OUTPUT = 0, 1, 2, 3, 4, 5

# Past this a time-out is no limit (11 days), and a deadline this far off overflows the
# solver's millisecond counter.
MAX_TIMEOUT = 1_000_000


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="check",
        description="Check cache-flush protocols (.flow files) on kernel arch models.",
        epilog="`flowcheck lsp` (or `check lsp`) runs the language server for editors "
        "instead (docs/editors.md).",
    )
    parser.add_argument(
        "files", nargs="*", metavar="FILE",
        help=".flow files to check; a directory stands for every .flow file under it",
    )
    parser.add_argument(
        "--arch",
        default=None,
        metavar="NAME[,NAME...]|all|expected",
        help="arches to check on (default: all built-in arches and those in the files; "
        "expected: each protocol on the arches its expect lines name and those its file "
        "defines)",
    )
    parser.add_argument(
        "--arch-scope",
        choices=SCOPES,
        default=None,
        help="where an arch defined in a file applies: to the protocols of that file only "
        "(file: the default when an argument is a directory) or to every protocol of the "
        "run (run: the default for files)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only the summary lines"
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (traces, then a protocol x arch grid), json (one document with everything, "
        "docs/json.md), sarif (SARIF 2.1.0 for code scanning), junit (JUnit XML) or html (one "
        "self-contained page: the grid, each counterexample drawn, docs/html.md)",
    )
    parser.add_argument("--sarif", metavar="FILE",
                        help="also write a SARIF 2.1.0 report to FILE")
    parser.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report to FILE")
    parser.add_argument("--html", metavar="FILE", dest="html_file",
                        help="also write the HTML report to FILE (open it in a browser)")
    parser.add_argument("--json", metavar="FILE", dest="json_file",
                        help="also write the JSON report to FILE (a baseline for --baseline)")
    parser.add_argument(
        "--baseline", metavar="FILE.json",
        help="compare with a saved JSON report: print only what changed (new findings, "
        "findings gone, redundant statements changed); exit 1 on a change, 0 on none")
    parser.add_argument(
        "--fix", action="store_true",
        help="find the cheapest cache-API calls to insert so that each protocol has no "
        "finding on every selected arch; print the edit as a unified diff, then the arches "
        "before and after (docs/fix.md)")
    parser.add_argument("--write", action="store_true",
                        help="with --fix: apply the edit to the files")
    parser.add_argument("--fix-calls", type=_positive(int, 4), default=2, metavar="N",
                        help="with --fix: insert at most N calls per protocol (default: "
                        "%(default)s)")
    parser.add_argument("--fix-api", metavar="NAME[,NAME...]",
                        help="with --fix: insert only these functions (default: the whole "
                        "cache API, docs/fix.md)")
    parser.add_argument(
        "--explain", action="store_true",
        help="for each protocol: which statements' cache maintenance is load-bearing on "
        "which arch (dropping it brings a finding) and which can go, as one table")
    parser.add_argument(
        "--compare", metavar="ARCH_A,ARCH_B",
        help="every protocol on two arches (one usually a variant of the other, written "
        "with extends): the protocols whose verdict or redundant statements differ")
    parser.add_argument(
        "--drop-calls", metavar="NAME[,NAME...]",
        help="with --compare: on ARCH_B, leave out the protocols' own calls of these "
        "functions (callers dropping their flush_dcache_page)")
    parser.add_argument("--timing", action="store_true",
                        help="json: give each check's time in seconds (off: the same input "
                        "gives the same bytes)")
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=CheckOptions.engine,
        help="search engine: explicit (breadth-first search over the interpreter's states) or "
        "z3 (bounded model checking with a complete bound); default: %(default)s",
    )
    parser.add_argument(
        "--timeout",
        type=_positive(float, MAX_TIMEOUT),
        default=None,
        metavar="SECONDS",
        help="give up on one check (inconclusive) after this long, redundancy analysis "
        "included; the run goes on (at most 1,000,000; default: no limit)",
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
        help="give up on one check (inconclusive) when this process (the Z3 solver's "
        "memory included) holds "
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


def _positive(kind: type, most: float | None = None) -> Callable[[str], float | int]:
    """An argparse type: a finite number above zero (and at most `most`)."""

    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"'{text}' must be a finite number above 0")
        if most is not None and value > most:
            raise argparse.ArgumentTypeError(f"'{text}' is more than {most:,}")
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
    if sum(map(bool, (args.fix, args.explain, args.compare))) > 1:
        parser.error("--fix, --explain and --compare are separate runs: give one")
    if (args.explain or args.compare) and (args.format != "text" or args.baseline):
        parser.error("--explain and --compare print tables: no --format or --baseline")
    if (args.fix or args.compare) and _side_files(args):
        parser.error("--fix and --compare write no report files (--explain takes --html)")
    if args.explain and any(kind != "html" for _, kind in _side_files(args)):
        parser.error("--explain writes only an HTML page beside its tables (--html FILE)")
    if args.drop_calls and not args.compare:
        parser.error("--drop-calls goes with --compare")
    if args.write and not args.fix:
        parser.error("--write applies the edit of --fix: give --fix too")
    if args.fix and (args.format != "text" or args.baseline or args.engine != "explicit"):
        parser.error("--fix prints a diff and a table: no --format, --baseline or --engine")
    sources = {}
    warnings: list[FlowWarning] = []
    text = args.format == "text"
    try:
        baseline = load_baseline(args.baseline) if args.baseline else None
        files, directory = expand_paths(list(args.files))
        scope = args.arch_scope or ("file" if directory else "run")
        loaded = load_files(files, scope=scope)
        sources = loaded.sources
        if args.list_arches or args.show_arch:
            return describe_arches(loaded, args, out)
        memory = args.max_memory or default_memory_mb(args.jobs)
        options = CheckOptions(engine=args.engine, max_states=args.max_states,
                               timeout=args.timeout, max_memory=memory)
        pairs, warnings = check_on_arches(loaded, plan_checks(loaded.library, args.arch))
        for warning in warnings:
            print(warning.render(sources), file=err)
        if args.fix:
            return run_fix(loaded, files, pairs, scope, options, args, out)
        if args.explain:
            return run_explain(loaded, pairs, options, out, args.html_file)
        if args.compare:
            return run_compare(loaded, options, args, out)
        results: list[CheckResult] = []
        progress = ProgressLine(err) if ProgressLine.wanted(err) else None
        for result in run_checks(loaded, files, pairs, options, args.jobs,
                                 progress, _pipe_watch(out), scope):
            results.append(result)
            if not args.quiet and text and baseline is None:
                print("\n".join(render_result(result, sources)), file=out)
    except FlowError as error:
        print(error.render(sources), file=err)
        # A tool reading the output gets a document all the same.
        if not text:
            print(_error_document(args.format, error, warnings, sources), file=out)
        for path, kind in _side_files(args):
            _write(path, _error_document(kind, error, warnings, sources))
        return EXIT_INPUT
    except (ReplayError, DecodeError) as error:
        print(f"internal error: a counterexample did not replay: {error}", file=err)
        return EXIT_INTERNAL
    reports = {
        "json": lambda: render_json(results, sources, warnings, args.timing),
        "sarif": lambda: render_sarif(results, sources, warnings),
        "junit": lambda: render_junit(results, sources),
        "html": lambda: render_html(results, sources, warnings),
    }
    for path, kind in _side_files(args):
        _write(path, reports[kind]())
    if baseline is not None:
        changes = compare(baseline, results)
        if args.format == "json":
            print(json.dumps({"baseline": args.baseline,
                              "changes": [c.data() for c in changes]}, indent=2,
                             sort_keys=True), file=out)
        else:
            print("\n".join(render_changes(changes, args.baseline)), file=out)
        return EXIT_MISMATCH if changes else EXIT_OK
    if text:
        print("\n".join(closing_lines(results)), file=out)
    else:
        print(reports[args.format](), file=out)
    return exit_status(results, out if text else None)


def run_fix(loaded: Loaded, files: list[str], pairs: list[tuple[int, str]], scope: str,
            options: CheckOptions, args: argparse.Namespace, out) -> int:
    """--fix (docs/fix.md): the edit, checked again, then the tables; --write applies it."""
    from checker.fix.candidates import CACHE_API, DMA_API
    from checker.fix.session import fix_run
    from checker.report.fix import fix_exit_status, render_fixes

    functions = None
    if args.fix_api:
        functions = [name.strip() for name in args.fix_api.split(",") if name.strip()]
        known = {name for name, _ in (*CACHE_API, *DMA_API)}
        for name in functions:
            if name not in known:
                raise FlowError(None, f"--fix-api: '{name}' is not a call --fix inserts "
                                f"(those are: {', '.join(sorted(known))})")
    fixes = fix_run(loaded, files, pairs, scope, options, args.fix_calls, functions)
    print("\n".join(render_fixes(fixes, args.fix_calls)), file=out)
    if args.write:
        for fix in fixes:
            if fix.after != fix.before:
                _write(fix.path, fix.after.removesuffix("\n"))
    return fix_exit_status(fixes)


def run_explain(loaded: Loaded, pairs: list[tuple[int, str]], options: CheckOptions,
                out, html_file: str | None = None) -> int:
    """--explain: per protocol, the table of load-bearing maintenance across the arches
    (and, with --html FILE, the same tables as a page)."""
    from checker.report.html import render_explain_html
    from checker.report.whatif import render_explanations
    from checker.whatif import explain

    library = loaded.library
    explanations = [explain(library.protocols[i], library.arches[k], options)
                    for i, k in pairs]
    print("\n".join(render_explanations(explanations, loaded.sources)), file=out)
    if html_file:
        _write(html_file, render_explain_html(explanations, loaded.sources))
    if any(e.status == "inconclusive" or any(not r.complete for r in e.roles.values())
           for e in explanations):
        return EXIT_INCONCLUSIVE
    return EXIT_OK


def run_compare(loaded: Loaded, options: CheckOptions, args: argparse.Namespace, out) -> int:
    """--compare A,B: the protocols whose results differ on the two arches. Exit 0 when
    none differs, 1 when some do (as a diff does), 3 when a check was inconclusive."""
    from checker.report.whatif import render_comparisons
    from checker.whatif import compare

    library = loaded.library
    names = [n.strip() for n in args.compare.split(",")]
    if len(names) != 2:
        raise FlowError(None, f"--compare takes two arches, A,B: not '{args.compare}'")
    drop = frozenset(n.strip() for n in (args.drop_calls or "").split(",") if n.strip())
    comparisons = []
    for index, protocol in enumerate(library.protocols):
        scope = {library.arches[k].name: k for k in library.scope_of(index)}
        for name in names:
            if name not in {a.name for a in library.arches.values()}:
                known = ", ".join(sorted({a.name for a in library.arches.values()}))
                raise FlowError(None, f"unknown arch '{name}' (known: {known})")
        if not all(n in scope for n in names):
            continue  # --arch-scope file: an arch of another file does not apply here
        a, b = (library.arches[scope[n]] for n in names)
        for arch in (a, b):
            check_protocol_on_arch(protocol, arch, library)
        comparisons.append(compare(protocol, a, b, options, drop))
    print("\n".join(render_comparisons(comparisons, names[0], names[1], drop)), file=out)
    if any(not (c.a.complete and c.b.complete) for c in comparisons):
        return EXIT_INCONCLUSIVE
    return EXIT_MISMATCH if any(c.differs for c in comparisons) else EXIT_OK


def _error_document(kind: str, error: FlowError, warnings: list[FlowWarning],
                    sources: dict) -> str:
    """The report of a run whose input is unusable, in a format other than text."""
    if kind == "json":
        return render_input_errors(error, warnings)
    if kind == "sarif":
        return render_sarif_errors(error, warnings)
    if kind == "html":
        return render_html_errors(error, sources, warnings)
    return render_junit_errors(error, sources)


def _side_files(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The reports to write to files beside the output: (path, format)."""
    wanted = [(args.sarif, "sarif"), (args.junit, "junit"), (args.json_file, "json"),
              (args.html_file, "html")]
    return [(path, kind) for path, kind in wanted if path]


def _write(path: str, text: str) -> None:
    """Write a report file, whole or not at all (a reader never sees half of one)."""
    temporary = f"{path}.tmp{os.getpid()}"
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise OutputError(f"{path}: {error.strerror or error}") from error


def closing_lines(results: list[CheckResult]) -> list[str]:
    """What ends a text run before the count: the protocol x arch grid, then one line for
    each check that is not as expected (an unexpected result, or a limit that stopped it)."""
    lines = render_grid(results)
    off = [r for r in results if r.status != "ok"]
    if off:
        lines += ["", "Not as expected:", *summary_lines(off)]
    return [*lines, ""] if lines else []


def check_on_arches(
    loaded: Loaded, planned: list[tuple[int, str]]
) -> tuple[list[tuple[int, str]], list[FlowWarning]]:
    """The per-arch input checks of each planned (protocol index, arch key) pair: the pairs
    to search and the warnings, each once. The first error of each protocol on each arch is
    raised, all together; one at a place already reported for the protocol on another arch
    is not repeated."""
    library = loaded.library
    errors = ErrorList()
    pairs: list[tuple[int, str]] = []
    warnings: dict[str, FlowWarning] = {}
    reported: set[tuple[int, Span | None]] = set()
    for index, key in planned:
        try:
            found = check_protocol_on_arch(library.protocols[index], library.arches[key],
                                           library)
        except FlowError as error:
            if (index, error.span) not in reported:
                reported.add((index, error.span))
                errors.add(error)
            continue
        warnings.update((w.render(), w) for w in found if w.render() not in warnings)
        pairs.append((index, key))
    errors.raise_any()
    return pairs, list(warnings.values())


def _pipe_watch(out) -> Callable[[], None] | None:
    """While workers search: raise BrokenPipeError once `out` is a pipe nobody reads (the
    reader of `check ... | head -1` went away), so the run ends now, not when the next
    result would have been written."""
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):
        return None  # not a file (a test's StringIO)
    import select

    if not hasattr(select, "poll"):
        return None
    poller = select.poll()
    poller.register(fd, 0)  # POLLERR and POLLHUP are reported whatever is asked for

    def watch() -> None:
        if any(events & select.POLLERR for _, events in poller.poll(0)):
            raise BrokenPipeError(f"the reader of {out.name} went away")

    return watch


def describe_arches(loaded: Loaded, args: argparse.Namespace, out) -> int:
    """--list-arches and --show-arch. `--show-arch all` shows every arch, in --arch all's
    order, a blank line between two: `all` is no arch's name (resolve_arch.py refuses it)."""
    library = loaded.library
    if args.show_arch:
        names = select_arches(library, args.show_arch)  # an error for an unknown name
        if "," in args.show_arch:
            raise FlowError(None, "--show-arch takes one arch name, or all")
        shown = ["\n".join(show_arch(library, name, loaded.sources)) for name in names]
        print("\n\n".join(shown), file=out)
    else:
        print("\n".join(list_arches(library, select_arches(library, args.arch))), file=out)
    return EXIT_OK


def exit_status(results: list[CheckResult], out) -> int:
    """The exit status of a run; with `out`, also print the closing count."""
    mismatched = [r for r in results if r.status == "unexpected"]
    inconclusive = [r for r in results if r.status == "inconclusive"]
    if out is not None:
        print(
            f"{len(results)} check{'' if len(results) == 1 else 's'}: "
            f"{len(results) - len(mismatched) - len(inconclusive)} as "
            f"expected, {len(mismatched)} unexpected, {len(inconclusive)} inconclusive",
            file=out,
        )
    if mismatched:
        return EXIT_MISMATCH
    if inconclusive:
        return EXIT_INCONCLUSIVE
    return EXIT_OK


class Terminated(BaseException):
    """SIGTERM, raised where the run is so that it unwinds (and ends its workers)."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main() -> None:
    if sys.argv[1:2] == ["lsp"]:  # `flowcheck lsp`: the language server (checker/lsp)
        from checker.lsp.server import main as serve

        sys.exit(serve(sys.argv[2:]))
    sys.exit(main_status(sys.argv[1:]))


def main_status(argv: Sequence[str]) -> int:
    """Run `check` as a command: the exit status, whatever happens on the way."""
    if sys.stdout is None:  # started with its standard output closed (`check ... >&-`)
        _say("check: error: standard output is closed")
        return EXIT_OUTPUT
    signal.signal(signal.SIGTERM, _terminate)
    stdout = sys.stdout
    out = sys.stdout = _Output(stdout)  # argparse's --help and usage go through it too
    try:
        code = run(argv, out)
        out.flush()
    except SystemExit as exit_:  # argparse: --help, or a usage error (status 2)
        out.flush()
        return exit_.code if isinstance(exit_.code, int) else EXIT_INPUT
    except BrokenPipeError:
        # The reader went away (`check ... | head`): stop quietly, as other tools do.
        _silence_stdout()
        return 141  # 128 + SIGPIPE, as the shell reports a command killed by a closed pipe
    except OutputError as error:
        _silence_stdout()  # or Python reports the unwritten rest again at exit
        _say(f"check: error: cannot write the output: {error}")
        return EXIT_OUTPUT
    except KeyboardInterrupt:
        return 130
    except Terminated:
        return 143  # 128 + SIGTERM
    except Exception as error:  # a bug: one line and a request, not a traceback
        return _internal(error)
    finally:
        sys.stdout = stdout
    return code


class OutputError(Exception):
    """Standard output could not be written (a full disk, an I/O error)."""


class _Output:
    """Standard output, whose write errors say they are write errors: an OSError from
    anywhere else is a bug, and must not be reported as a full disk."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self._do(self.stream.write, text)

    def flush(self) -> None:
        self._do(self.stream.flush)

    def __getattr__(self, name: str):  # encoding, fileno, isatty, ...: the stream's own
        return getattr(self.stream, name)

    def _do(self, action, *args):
        try:
            return action(*args)
        except BrokenPipeError:
            raise
        except OSError as error:
            raise OutputError(error.strerror or str(error)) from error


def _internal(error: BaseException) -> int:
    if os.environ.get("FLOWCHECK_DEBUG"):
        traceback.print_exc()
    name = type(error).__name__
    _say(f"check: internal error: {name}: {error}".rstrip(": ")[:300])
    _say("check: this is a bug in flowcheck; please report it with the input and command "
         "(FLOWCHECK_DEBUG=1 shows the traceback)")
    return EXIT_INTERNAL


def _say(line: str) -> None:
    """One line on stderr, if there is one to write to."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(line, file=sys.stderr, flush=True)


def _silence_stdout() -> None:
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno())
