"""SARIF 2.1.0 reports, for code scanning (GitHub) and SARIF viewers (VS Code).

One rule per kind of finding, plus `missing_finding` (an `expect`ed kind not found) and
`inconclusive` (a limit stopped the search). A result is made for each kind a check finds
and its `expect` lines do not name (level error), located at the statement where it shows:
the read that returned a stale value, the write that was lost, the access through an ended
mapping, the statement a deadlocked thread waits at. Its counterexample is a codeFlow with a
threadFlow per thread (and one for the hardware's events), each step a location carrying
the step's text. Redundant flushes are results of their own level: warning when not
expected, note when the protocol's `expect` lines name them. Findings a protocol expects are
not results: they are what the protocol says. Input errors are tool notifications, with no
results, and the run marked unsuccessful.

Locations are the paths as given on the command line (relative ones relative to where
`check` ran: %SRCROOT% for code scanning); statements inside arch code are reported at the
protocol statement that called them, the arch line in the message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from checker.check import CheckResult
from checker.errors import FlowError, FlowWarning
from checker.front.source import SourceText, Span
from checker.report.explain import rests_on
from checker.report.text import TraceRenderer, where
from checker.report.trace import Trace

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/flowcheck/flowcheck"
KIND_RULES = {
    "stale_read": ("StaleRead", "A read returns a value older than one the reader knew of",
                   "A thread read a word through one alias and got an older write than one "
                   "it already knew of: another alias's line hid the newer value.", "error"),
    "lost_write": ("LostWrite", "A write never reaches memory, or is overwritten there",
                   "When every thread has finished and the caches drain, memory does not "
                   "hold the last write to a word: an older dirty line at another alias was "
                   "written back over it, or the write stayed where nothing reads it.",
                   "error"),
    "use_after_unmap": ("UseAfterUnmap", "An access through a mapping after its unmap",
                        "A read, write, flush or unmap used a mapping handle that had been "
                        "unmapped.", "error"),
    "deadlock": ("Deadlock", "No thread can move and one has not finished",
                 "Some execution reaches a point where every unfinished thread waits for "
                 "something that never comes.", "error"),
    "redundant_flush": ("RedundantFlush", "Cache maintenance that can be dropped",
                        "A statement's flush, writeback, invalidate or TLB purge can be "
                        "removed at every place it runs without any finding appearing.",
                        "warning"),
    "missing_finding": ("MissingFinding", "An expected finding was not found",
                        "The protocol's expect line names a kind that no execution shows on "
                        "this arch.", "error"),
    "inconclusive": ("Inconclusive", "A limit stopped the search",
                     "The check hit --timeout, --max-states or --max-memory before it had "
                     "explored every execution: nothing is claimed about what it did not "
                     "reach.", "warning"),
}


def rules() -> list[dict]:
    return [
        {"id": rule_id, "name": name, "shortDescription": {"text": short},
         "fullDescription": {"text": full}, "defaultConfiguration": {"level": level},
         "helpUri": f"{INFORMATION_URI}/blob/main/docs/language.md"}
        for rule_id, (name, short, full, level) in KIND_RULES.items()
    ]


def render_sarif(results: list[CheckResult], sources: dict[str, SourceText],
                 warnings: Sequence[FlowWarning] = ()) -> str:
    out: list[dict] = []
    for result in results:
        out.extend(result_entries(result, sources))
    notes = [_notification(w.span, w.message, "warning") for w in warnings]
    return _log(out, notes, successful=True)


def render_sarif_errors(error: FlowError, warnings: Sequence[FlowWarning] = ()) -> str:
    """The log of a run whose input is unusable (exit status 2): no results, the errors and
    warnings as notifications."""
    notes = [_notification(e.span, e.message, "error") for e in error.errors]
    notes += [_notification(w.span, w.message, "warning") for w in warnings]
    return _log([], notes, successful=False)


def _log(results: list[dict], notifications: list[dict], successful: bool) -> str:
    run = {
        "tool": {"driver": {"name": "flowcheck", "version": _version(),
                            "informationUri": INFORMATION_URI, "rules": rules()}},
        "invocations": [{"executionSuccessful": successful,
                         "toolExecutionNotifications": notifications}],
        "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri() + "/"}},
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    document = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(document, indent=2, sort_keys=True)


def _version() -> str:
    try:
        return metadata.version("flowcheck")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "0"


def result_entries(result: CheckResult, sources: dict[str, SourceText]) -> list[dict]:
    """The SARIF results of one check."""
    protocol, arch = result.protocol.name, result.arch.name
    subject = f"{protocol} on {arch}"
    entries = []
    renderer = None if result.program is None else TraceRenderer(result.program, sources)
    for kind in sorted(result.kinds - result.expected - {"redundant_flush"}):
        trace = result.traces.get(kind)
        span = result.protocol.span
        text = f"{kind} in {subject} (expected: {_wanted(result)})."
        flows = []
        if renderer is not None and trace is not None:
            span = finding_span(renderer, trace, span)
            # The flow first: rendering its steps names the writes the conclusion cites.
            flows = [code_flow(renderer, trace, result.protocol.span)]
            conclusion = " ".join(line.strip() for line in renderer.conclusion(trace))
            reasons = rests_on(renderer, trace)
            text = f"{subject}: {conclusion}" + (
                " It rests on: " + " ".join(reasons) if reasons else "")
        entries.append(_result(kind, "error", text, span, result, flows))
    for kind in sorted(result.expected - result.kinds) if result.complete else ():
        expect = next((e for e in result.protocol.expects if e.arch == arch
                       and kind in e.kinds), None)
        span = expect.span if expect is not None else result.protocol.span
        entries.append(_result("missing_finding", "error",
                               f"{subject}: {kind} is expected but no execution shows it.",
                               span, result, []))
    if renderer is not None:
        expected = "redundant_flush" in result.expected
        for r in result.redundant:
            pinned = result.expected_lines
            ok = expected and (pinned is None or r.statement.line in pinned)
            cost = renderer.cost_text(r.statement).strip()
            text = (f"{subject}: the cache maintenance of `{renderer.statement_text(r.statement)}`"
                    f" can be dropped without any finding appearing {cost}".rstrip() + ".")
            if r.depends_on:
                others = ", ".join(where(u[0]) for u in r.depends_on)
                text += f" Not together with: {others}."
            entries.append(_result("redundant_flush", "note" if ok else "warning", text,
                                   r.statement, result, []))
    if not result.complete and not (result.kinds - result.expected):
        entries.append(_result("inconclusive", "warning",
                               f"{subject}: inconclusive ({result.reason}).",
                               result.protocol.span, result, []))
    return entries


def _wanted(result: CheckResult) -> str:
    return ", ".join(sorted(result.expected)) or "safe"


def _result(rule: str, level: str, text: str, span: Span, result: CheckResult,
            flows: list[dict]) -> dict:
    entry = {
        "ruleId": rule,
        "level": level,
        "message": {"text": text},
        "locations": [_location(span)],
        "partialFingerprints": {
            "flowcheck/v1": f"{result.protocol.name}/{result.arch.name}/{rule}/{span.line}"},
        "properties": {"protocol": result.protocol.name, "arch": result.arch.name},
    }
    if flows:
        entry["codeFlows"] = flows
    return entry


def finding_span(renderer: TraceRenderer, trace: Trace, protocol: Span) -> Span:
    """The protocol statement where a trace's finding shows (or the protocol's name)."""
    f = trace.finding
    if f.kind in ("stale_read", "use_after_unmap"):
        return renderer.nodes[f.node].origin
    if f.kind == "lost_write":
        last = f.data[2]  # the write memory should hold: the statement that made it
        for step in trace.steps:
            if step.label.actor >= 0 and step.before.counter < last <= step.after.counter:
                return renderer.nodes[step.label.node].origin
    else:  # deadlock: where the first stuck thread waits
        state = trace.steps[-1].after if trace.steps else trace.start
        return renderer.nodes[state.pcs[f.data[0]]].origin
    return protocol


def code_flow(renderer: TraceRenderer, trace: Trace, protocol: Span) -> dict:
    """The trace as one codeFlow: a threadFlow per thread, in thread order, then the
    hardware's; each location is a step (executionOrder: its number in the whole trace)."""
    renderer.reset_writes()
    flows: dict[int, list[dict]] = {}
    for number, step in enumerate(trace.steps, 1):
        label = step.label
        lines = renderer.step_lines(number, step, trace.kind)
        text = " ".join(" ".join(line.split()) for line in lines)
        # The hardware's events happen at no statement: they point at the protocol.
        span = protocol if label.actor < 0 else renderer.nodes[label.node].origin
        location = _location(span)
        location["message"] = {"text": text}
        flows.setdefault(label.actor, []).append(
            {"location": location, "executionOrder": number,
             **({"kinds": ["danger"]} if any(f.kind == trace.kind for f in step.findings)
                else {})})
    thread_flows = []
    for actor in sorted(flows, key=lambda a: (a < 0, a)):
        name = "hardware" if actor < 0 else renderer.thread_name(actor)
        thread_flows.append({"id": name, "message": {"text": name},
                             "locations": flows[actor]})
    if not thread_flows:  # a finding at the start (a deadlock with no step)
        location = _location(protocol)
        location["message"] = {"text": renderer.start_text(trace.start)}
        thread_flows.append({"id": "start", "locations": [{"location": location}]})
    start = renderer.start_text(trace.start)
    return {"message": {"text": f"{trace.kind}: {start}"}, "threadFlows": thread_flows}


def _location(span: Span) -> dict:
    physical: dict = {"artifactLocation": _artifact(span.path)}
    if span.line >= 1:
        physical["region"] = {"startLine": span.line, "startColumn": max(1, span.col)}
    return {"physicalLocation": physical}


def _artifact(path: str) -> dict:
    if path.startswith("<builtin>/"):  # a built-in arch file: in the package, not here
        return {"uri": "flowcheck-builtin/" + path.removeprefix("<builtin>/")}
    if os.path.isabs(path):
        return {"uri": Path(path).as_uri()}
    return {"uri": Path(path).as_posix(), "uriBaseId": "%SRCROOT%"}


def _notification(span: Span | None, message: str, level: str) -> dict:
    note: dict = {"level": level, "message": {"text": message}}
    if span is not None:
        note["locations"] = [_location(span)]
    return note
