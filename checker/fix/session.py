"""`check --fix` over a run's files: a placement per protocol (synthesis.py), the edit of
each file (patch.py), and the edited files loaded and checked again before anything is
printed or written: what `--fix` shows is what the edited file does."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from checker.check import CheckOptions, CheckResult, check
from checker.fix import patch
from checker.fix.synthesis import DEFECTS, FixOutcome, synthesise
from checker.front.load import Loaded, load_files


class RecheckError(Exception):
    """The edited file does not do what the synthesis found: a bug in flowcheck."""


@dataclass
class FileFix:
    path: str
    before: str
    after: str
    outcomes: list[FixOutcome] = field(default_factory=list)
    # (protocol, arch) -> the edited protocol's result, redundancy analysis included.
    rechecked: dict[tuple[str, str], CheckResult] = field(default_factory=dict)
    # (protocol, candidate number) -> the line of the inserted call in the edited text.
    lines: dict[tuple[str, int], int] = field(default_factory=dict)

    @property
    def diff(self) -> str:
        return patch.unified_diff(self.path, self.before, self.after)


def fix_run(loaded: Loaded, files: list[str], pairs: list[tuple[int, str]], scope: str,
            options: CheckOptions, max_calls: int,
            functions: list[str] | None = None) -> list[FileFix]:
    library = loaded.library
    by_protocol: dict[int, list[str]] = {}
    for index, key in pairs:
        by_protocol.setdefault(index, []).append(key)
    fixes: dict[str, FileFix] = {}
    for index, keys in by_protocol.items():
        protocol = library.protocols[index]
        path = protocol.span.path
        deadline = None if options.timeout is None else time.monotonic() + options.timeout
        outcome = synthesise(protocol, [library.arches[k] for k in keys], options,
                             max_calls=max_calls, deadline=deadline, functions=functions)
        text = loaded.sources[path].text
        fixes.setdefault(path, FileFix(path, text, text)).outcomes.append(outcome)
    for fix in fixes.values():
        edits = [(o.protocol, o.best.calls) for o in fix.outcomes if o.best is not None]
        if not edits:
            continue
        fix.after, fix.lines = patch.apply(fix.before, edits)
        _recheck(fix, files, scope, options)
    return list(fixes.values())


def _recheck(fix: FileFix, files: list[str], scope: str, options: CheckOptions) -> None:
    """Load the edited text in place of the file and check each fixed protocol again on
    every arch it was fixed for."""
    library = load_files(files, read={fix.path: fix.after}, scope=scope).library
    again = CheckOptions(engine="explicit", max_states=options.max_states,
                         timeout=options.timeout, max_memory=options.max_memory)
    for outcome in fix.outcomes:
        if outcome.best is None:
            continue
        index = next(i for i, p in enumerate(library.protocols)
                     if p.name == outcome.protocol.name and p.span.path == fix.path)
        protocol = library.protocols[index]
        for arch in outcome.arches:
            key = next(k for k in library.scope_of(index) if library.arches[k].name == arch.name)
            result = check(protocol, library.arches[key], again)
            fix.rechecked[(protocol.name, arch.name)] = result
            if arch.name not in outcome.unfixable and result.complete and result.kinds & DEFECTS:
                raise RecheckError(f"{protocol.name} on {arch.name}: the edited file still "
                                   f"has {', '.join(sorted(result.kinds & DEFECTS))}")
