"""JSON reports: the same content as the text report, as data for other tools (CI bots,
editors), with full `path:line:col` locations. Keys are sorted and there are no timings, so
the same input gives the same bytes (`--timing` adds each check's seconds). docs/json.md
describes the document, and tests/schemas/report.schema.json holds it."""

from __future__ import annotations

import json
from collections.abc import Sequence

from checker.check import CheckResult
from checker.errors import FlowError, FlowWarning
from checker.front.source import SourceText, Span
from checker.report.explain import rests_on
from checker.report.text import TraceRenderer
from checker.report.trace import Trace


def trace_data(renderer: TraceRenderer, trace: Trace) -> dict:
    renderer.reset_writes()
    steps = []
    for number, step in enumerate(trace.steps, 1):
        label = step.label
        entry: dict = {"step": number}
        if label.actor < 0:
            entry.update(thread=None, event=renderer.env_text(label.choice))
        else:
            node = renderer.nodes[label.node]
            entry.update(thread=renderer.thread_name(label.actor), at=str(node.origin),
                         statement=renderer.statement_text(node.origin))
            if node.span != node.origin:
                entry.update(operation=node.text, operation_at=str(node.span))
            if node.kind == "test":
                entry["condition"] = bool(label.choice[1])
        effects = renderer.effects(number, step)
        entry["changes"] = [renderer.effect_text(e) for e in effects]  # as the text says it
        entry["effects"] = effects  # the same, as data
        # As in the text: the trace's own kind only.
        entry["findings"] = sorted(f.kind for f in step.findings if f.kind == trace.kind)
        steps.append(entry)
    return {
        "start": renderer.start_text(trace.start).removeprefix("start: "),
        "steps": steps,
        "finding": " ".join(line.strip() for line in renderer.conclusion(trace)),
        "rests_on": rests_on(renderer, trace),
    }


def _redundancy(renderer: TraceRenderer, r) -> dict:
    return {
        "at": str(r.statement),
        "statement": renderer.statement_text(r.statement),
        # The arch's `cost` of the maintenance that can go (line operations, the most one
        # execution pays); null when the arch gives none.
        "cost": renderer.unit_cost_value(r.unit),
        # Inside the statement (empty: all of it): each call or micro-operation on the way
        # to the part that can go.
        "within": [{"at": str(s), "statement": renderer.statement_text(s)} for s in r.within],
        "not_together_with": [" > ".join(map(str, u)) for u in r.depends_on],
        "not_all_together_with": [" > ".join(map(str, u)) for u in r.group],
    }


def result_data(result: CheckResult, sources: dict[str, SourceText],
                timing: bool = False) -> dict:
    data: dict = {
        "file": result.protocol.span.path,
        "protocol": result.protocol.name,
        "arch": result.arch.name,
        "engine": result.engine,
        "complete": result.complete,
        # When not complete: what was found before the limit ("status" says what it means).
        "found": sorted(result.kinds),
        "expected": sorted(result.expected),
        # `expect redundant_flush at LINES`: the lines pinned (absent when none are)
        **({"expected_redundant_lines": sorted(result.expected_lines)}
           if result.expected_lines is not None else {}),
        "as_expected": result.matches,
        "status": result.status,
    }
    if not result.complete:
        data["reason"] = result.reason
    if timing:
        data["seconds"] = round(result.seconds, 3)
    if result.program is not None:
        renderer = TraceRenderer(result.program, sources)
        data["traces"] = {kind: trace_data(renderer, trace)
                          for kind, trace in sorted(result.traces.items())}
        data["redundant"] = [_redundancy(renderer, r) for r in result.redundant]
        # Beside the verdict: parts of needed statements that can go.
        data["redundant_inside"] = [_redundancy(renderer, r) for r in result.inner]
    return data


def render_json(
    results: list[CheckResult],
    sources: dict[str, SourceText],
    warnings: Sequence[FlowWarning] = (),
    timing: bool = False,
) -> str:
    mismatched = sum(1 for r in results if r.status == "unexpected")
    inconclusive = sum(1 for r in results if r.status == "inconclusive")
    document = {
        "checks": [result_data(r, sources, timing) for r in results],
        "summary": {
            "checks": len(results),
            "as_expected": len(results) - mismatched - inconclusive,
            "unexpected": mismatched,
            "inconclusive": inconclusive,
        },
        "warnings": [_diagnostic(w.span, w.message, w.notes) for w in warnings],
    }
    return json.dumps(document, indent=2, sort_keys=True)


def render_input_errors(error: FlowError, warnings: Sequence[FlowWarning] = ()) -> str:
    """The document for a run whose input is unusable (exit status 2): the errors, each with
    its location (null for a file as a whole), how many were left out, and the warnings."""
    document = {
        "errors": [_diagnostic(e.span, e.message, e.notes) for e in error.errors],
        "errors_not_shown": error.more,
        "warnings": [_diagnostic(w.span, w.message, w.notes) for w in warnings],
    }
    return json.dumps(document, indent=2, sort_keys=True)


def _diagnostic(span: Span | None, message: str, notes: tuple[str, ...]) -> dict:
    return {"at": None if span is None else str(span), "message": message, "notes": list(notes)}
