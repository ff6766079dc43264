"""`--baseline FILE.json`: what changed since a saved run (`check --format json`).

Each check is keyed by its file, protocol and arch. A change is a check that appeared or
went away, a kind found now and not then or then and not now, redundant statements that
differ (by line), or a search that finished then and not now (or the reverse). Expectations
play no part: a patch series is checked against the verdicts before it, whatever its
`expect` lines say.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from checker.check import CheckResult
from checker.errors import FlowError

Key = tuple[str, str, str]  # file, protocol, arch


@dataclass(frozen=True)
class Verdict:
    found: frozenset[str]
    redundant_lines: frozenset[int]
    complete: bool


@dataclass(frozen=True)
class Change:
    key: Key
    text: str

    def data(self) -> dict:
        file, protocol, arch = self.key
        return {"file": file, "protocol": protocol, "arch": arch, "change": self.text}


def load_baseline(path: str) -> dict[Key, Verdict]:
    """The verdicts of a saved JSON report; a located error if it is not one."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as error:
        raise FlowError(None, f"cannot read baseline '{path}': {error.strerror or error}") \
            from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FlowError(None, f"baseline '{path}' is not JSON: {error}") from None
    checks = document.get("checks") if isinstance(document, dict) else None
    if not isinstance(checks, list):
        raise FlowError(None, f"baseline '{path}' is not a report of `check --format json` "
                        "(no \"checks\" list)")
    verdicts: dict[Key, Verdict] = {}
    try:
        for entry in checks:
            key = (entry["file"], entry["protocol"], entry["arch"])
            lines = {int(r["at"].rsplit(":", 2)[-2]) for r in entry.get("redundant", [])}
            verdicts[key] = Verdict(frozenset(entry["found"]), frozenset(lines),
                                    bool(entry["complete"]))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        raise FlowError(None, f"baseline '{path}' is not a report of `check --format json` "
                        "(a check lacks file, protocol, arch, found or complete)") from None
    return verdicts


def verdict_of(result: CheckResult) -> Verdict:
    return Verdict(frozenset(result.kinds), result.redundant_lines, result.complete)


def key_of(result: CheckResult) -> Key:
    return (result.protocol.span.path, result.protocol.name, result.arch.name)


def compare(before: dict[Key, Verdict], results: list[CheckResult]) -> list[Change]:
    """The changes from `before` to `results`, in the order of the run, then the checks
    that went away in the baseline's order."""
    changes: list[Change] = []
    seen: set[Key] = set()
    for result in results:
        key = key_of(result)
        seen.add(key)
        now = verdict_of(result)
        then = before.get(key)
        if then is None:
            changes.append(Change(key, f"new check: {_describe(now)}"))
            continue
        for kind in sorted(now.found - then.found):
            changes.append(Change(key, f"new finding: {kind}"))
        for kind in sorted(then.found - now.found):
            changes.append(Change(key, f"finding gone: {kind}"))
        if now.redundant_lines != then.redundant_lines and (
                now.redundant_lines or then.redundant_lines):
            changes.append(Change(key, "redundant statements: lines "
                                  f"{_lines(then.redundant_lines)} -> "
                                  f"{_lines(now.redundant_lines)}"))
        if now.complete != then.complete:
            changes.append(Change(key, "search now complete" if now.complete
                                  else "search now inconclusive"))
    for key, then in before.items():
        if key not in seen:
            changes.append(Change(key, f"check gone (was: {_describe(then)})"))
    return changes


def _describe(verdict: Verdict) -> str:
    found = ", ".join(sorted(verdict.found)) or "safe"
    return found if verdict.complete else f"{found}, inconclusive"


def _lines(lines: frozenset[int]) -> str:
    return ", ".join(map(str, sorted(lines))) or "none"


def render_changes(changes: list[Change], path: str) -> list[str]:
    if not changes:
        return [f"no change against {path}"]
    out = [f"{len(changes)} change{'s' if len(changes) != 1 else ''} against {path}:"]
    for change in changes:
        file, protocol, arch = change.key
        out.append(f"{file}: {protocol} on {arch}: {change.text}")
    return out
