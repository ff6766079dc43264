"""The HTML report: one self-contained page (no network: styles and script inline) with the
protocol x arch grid, each check's counterexamples drawn as swimlanes (swimlane.py) beside
their steps in words, and redundant-flush reports as tables. `--explain` gets a page of its
own tables. The page depends only on the input, like the text report.

The script steps through a trace (click a row, or j/k and the arrow keys) and records its
own errors on <body data-script-errors>, so a headless browser test can see them.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from checker.check import CheckResult, Redundancy
from checker.errors import FlowError, FlowWarning
from checker.front.source import SourceText
from checker.report.explain import rests_on
from checker.report.grid import CODES, cell
from checker.report.html_assets import SCRIPT, STYLE
from checker.report.swimlane import Swimlane
from checker.report.text import TraceRenderer, where
from checker.report.trace import Trace

if TYPE_CHECKING:  # whatif.py runs the engines: imported only by --explain's page
    from checker.whatif import Explanation


def _page(title: str, body: list[str]) -> str:
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        # The error hook comes first, in a script of its own, so that it also records a
        # syntax error in the main script.
        "<script>window.flowcheckErrors=[];window.addEventListener('error',function(e){"
        "window.flowcheckErrors.push(String(e.message));document.documentElement"
        ".setAttribute('data-script-errors',window.flowcheckErrors.join(' | '));});</script>",
        f"<style>{STYLE}</style></head><body>",
        *body,
        f"<script>{SCRIPT}</script>",
        "</body></html>",
    ])


def check_id(number: int) -> str:
    return f"check-{number}"


# A page with more check sections than this shows each section's heading and verdict, with
# its traces and tables folded (<details>): a run over the whole library draws hundreds of
# swimlanes, which a browser lays out slowly and a reader scrolls past. A grid link, or an
# address ending in a check's #id, unfolds its section (the script).
FOLD_ABOVE = 12


def render_html(results: list[CheckResult], sources: dict[str, SourceText],
                warnings: Sequence[FlowWarning] = ()) -> str:
    """The report of a run: the grid, then every check with what it found."""
    mismatched = sum(1 for r in results if r.status == "unexpected")
    inconclusive = sum(1 for r in results if r.status == "inconclusive")
    body = [
        "<header><h1>flowcheck report</h1>",
        f'<p class="summary">{len(results)} check{"" if len(results) == 1 else "s"}: '
        f"{len(results) - mismatched - inconclusive}"
        f" as expected, {mismatched} unexpected, {inconclusive} inconclusive</p></header>",
    ]
    if warnings:
        body.append('<section class="warnings"><h2>Warnings</h2><ul>')
        body += [f"<li><pre>{escape(w.render(sources))}</pre></li>" for w in warnings]
        body.append("</ul></section>")
    body += _grid(results)
    shown = [(number, r) for number, r in enumerate(results, 1) if _has_section(r)]
    fold = len(shown) > FOLD_ABOVE
    for number, result in shown:
        body += _check(number, result, sources, fold)
    return _page("flowcheck report", body)


def _has_section(result: CheckResult) -> bool:
    """A check has a section when there is more to say than its grid cell: a trace, a
    redundant statement, a result that is not as expected. (Without this, a page of the
    whole library is mostly `safe, as expected` sections.)"""
    return bool(result.traces or result.redundant or result.inner or result.status != "ok")


def render_html_errors(error: FlowError, sources: dict[str, SourceText],
                       warnings: Sequence[FlowWarning] = ()) -> str:
    """The page of a run whose input is unusable (exit status 2): the errors as the text
    report prints them."""
    body = ["<header><h1>flowcheck: the input has errors</h1></header>",
            '<section class="errors"><pre>', escape(error.render(sources)), "</pre>"]
    if warnings:
        body.append("<h2>Warnings</h2><pre>")
        body += [escape(w.render(sources)) for w in warnings]
        body.append("</pre>")
    body.append("</section>")
    return _page("flowcheck: input errors", body)


# -- the grid --------------------------------------------------------------------------------


def _grid(results: list[CheckResult]) -> list[str]:
    if not results:
        return ['<p class="empty">No checks ran.</p>']
    arches = list(dict.fromkeys(r.arch.name for r in results))
    rows: dict[tuple[str, int, str], dict[str, tuple[int, CheckResult]]] = {}
    for number, result in enumerate(results, 1):
        p = result.protocol
        rows.setdefault((p.span.path, p.span.line, p.name), {})[result.arch.name] = (
            number, result)
    out = ['<section class="grid-section"><h2>Protocols x arches</h2>',
           '<table class="grid"><thead><tr><th></th>']
    out += [f'<th class="arch"><span>{escape(a)}</span></th>' for a in arches]
    out.append("</tr></thead><tbody>")
    several_files = len({path for path, _, _ in rows}) > 1
    shown_path = None
    for (path, _, name), row in rows.items():
        if several_files and path != shown_path:  # as the text grid: a line per file
            out.append(f'<tr class="file"><th colspan="{len(arches) + 1}">{escape(path)}'
                       "</th></tr>")
            shown_path = path
        out.append(f'<tr><th class="protocol" title="{escape(path, quote=True)}">'
                   f"{escape(name)}</th>")
        for arch in arches:
            if arch not in row:
                out.append('<td class="not-checked"></td>')
                continue
            number, result = row[arch]
            found = ", ".join(sorted(result.kinds)) or "safe"
            tip = escape(f"{name} on {arch}: {found} ({result.status})", quote=True)
            text = escape(cell(result))
            if _has_section(result):
                text = f'<a href="#{check_id(number)}" title="{tip}">{text}</a>'
            out.append(f'<td class="{result.status}" title="{tip}">{text}</td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    legend = "  ".join(f"{code} {kind}" for kind, code in CODES.items())
    out.append(f'<p class="legend">{escape(legend)}; . safe; ? inconclusive; '
               "! differs from expect; blank: not checked. A cell links to its check's "
               "section when there is more to show than the cell.</p></section>")
    return out


# -- one check -------------------------------------------------------------------------------


def _check(number: int, result: CheckResult, sources: dict[str, SourceText],
           fold: bool = False) -> list[str]:
    name = f"{result.protocol.name} on {result.arch.name}"
    found = ", ".join(sorted(result.kinds)) or ("safe" if result.complete else "")
    if not result.complete:
        found = (found + ", then " if found else "") + f"inconclusive ({result.reason})"
    expected = ", ".join(sorted(result.expected)) or "safe"
    out = [f'<section class="check {result.status}" id="{check_id(number)}" '
           f'data-protocol="{escape(result.protocol.name, quote=True)}" '
           f'data-arch="{escape(result.arch.name, quote=True)}" '
           f'data-status="{result.status}">',
           f"<h2>{escape(name)}: {escape(found)}</h2>",
           f'<p class="verdict">expected: {escape(expected)}; '
           f"{'as expected' if result.matches else escape(result.status)}"
           f"{'' if result.engine in ('', 'explicit') else f'; engine: {result.engine}'}"
           f' &middot; <span class="where">{escape(str(result.protocol.span))}</span></p>']
    body = _has_body(result)
    fold = fold and body  # a section of a heading and a verdict only has nothing to fold
    if fold:
        out.append(f'<details class="check-body"><summary>{escape(_contents(result))}'
                   "</summary>")
    if body:
        assert result.program is not None
        renderer = TraceRenderer(result.program, sources)
        for kind, trace in sorted(result.traces.items()):
            out += _trace(renderer, trace, f"{check_id(number)}-{kind}")
        if result.redundant:
            out.append('<h3>redundant_flush: cache maintenance that can be dropped</h3>')
            out += _redundancy_table(renderer, result.redundant, "redundant")
        if result.inner:
            out.append("<h3>Redundant inside calls (each statement is needed; a part of it "
                       "is not)</h3>")
            out += _redundancy_table(renderer, result.inner, "redundant-inside")
    if fold:
        out.append("</details>")
    out.append("</section>")
    return out


def _has_body(result: CheckResult) -> bool:
    """Whether a check's section has more than its heading and verdict: traces or
    redundancy tables (drawn from its program)."""
    return result.program is not None and bool(result.traces or result.redundant
                                                or result.inner)


def _contents(result: CheckResult) -> str:
    """What a folded section holds, for its <summary>."""
    parts = []
    if result.traces:
        kinds = ", ".join(sorted(result.traces))
        parts.append(f"the trace{'s' * (len(result.traces) > 1)} ({kinds})")
    if result.redundant:
        parts.append(f"{len(result.redundant)} redundant statement"
                     f"{'s' * (len(result.redundant) > 1)}")
    if result.inner:
        parts.append(f"{len(result.inner)} redundant inside calls")
    return "show " + " and ".join(parts)


def _trace(renderer: TraceRenderer, trace: Trace, key: str) -> list[str]:
    renderer.reset_writes()
    lane = Swimlane(renderer, trace, key)
    steps = []
    for number, step in enumerate(trace.steps, 1):
        actor, first, second = lane.step_texts(number)
        actor_name = lane.lane_of(actor).name
        changes = [renderer.effect_text(e) for e in renderer.effects(number, step)]
        found = [f.kind for f in step.findings if f.kind == trace.kind]
        steps.append(
            f'<li data-row="{number}" class="{"finding" if found else ""}">'
            f'<span class="actor">{escape(actor_name)}</span> <code>{escape(first)}</code>'
            + (f'<br><code class="op">{escape(second)}</code>' if second else "")
            + "".join(f'<br><span class="change">{escape(c)}</span>' for c in changes)
            + "".join(f'<br><strong class="finding">=&gt; {escape(k)}</strong>'
                      for k in found)
            + "</li>")
    if lane.drain:
        steps.append(f'<li data-row="{lane.rows - 1}" class="finding">'
                     '<span class="actor">hardware</span> the caches drain: '
                     f"{escape(lane.drain_order())} written out (the order that loses the "
                     "write), then every other dirty line</li>")
    conclusion = " ".join(line.strip() for line in renderer.conclusion(trace))
    start = renderer.start_text(trace.start)
    reasons = rests_on(renderer, trace)
    out = [f'<div class="trace" id="{escape(key, quote=True)}" data-kind="{trace.kind}" '
           'tabindex="0">',
           f"<h3>{escape(trace.kind)}: a shortest execution</h3>",
           f'<p class="start">{escape(" ".join(start.split()))}</p>',
           '<div class="legend-cells"><span class="absent">absent</span>'
           '<span class="clean">clean</span><span class="dirty">dirty</span>'
           '<span class="memory">memory</span>'
           + ('<span class="wanted">holds the write the finding is about</span>'
              if lane.wanted() is not None else "")
           + ('<span class="stale">where the stale read read from</span>'
              if lane.stale_band is not None else "")
           + "<span>j/k or &uarr;/&darr;: step</span></div>",
           '<div class="trace-body"><div class="lane-scroll">', lane.svg(), "</div>",
           f'<ol class="steps" start="1">{"".join(steps)}</ol></div>',
           f'<p class="conclusion">{escape(conclusion)}</p>']
    if reasons:
        out.append('<div class="rests-on"><p>It rests on:</p><ul>')
        out += [f"<li>{escape(reason)}</li>" for reason in reasons]
        out.append("</ul></div>")
    out.append("</div>")
    return out


def _redundancy_table(renderer: TraceRenderer, found: Sequence[Redundancy],
                      kind: str) -> list[str]:
    out = [f'<table class="{kind}"><thead><tr><th>where</th><th>statement</th>'
           "<th>inside</th><th>cost (line ops)</th><th>not together with</th></tr></thead>"
           "<tbody>"]
    for r in found:
        within = "<br>".join(f"{escape(where(s))}: <code>{escape(renderer.statement_text(s))}"
                             "</code>" for s in r.within)
        cost = renderer.unit_cost_value(r.unit)
        # As the text report: the units it cannot go together with, or, failing a pair, the
        # group it cannot all go with.
        units = ", ".join(" > ".join(map(where, u)) for u in (r.depends_on or r.group))
        together = f"all of {units}" if units and not r.depends_on else units
        out.append(f"<tr><td>{escape(where(r.statement))}</td>"
                   f"<td><code>{escape(renderer.statement_text(r.statement))}</code></td>"
                   f"<td>{within}</td><td>{'' if cost is None else cost}</td>"
                   f"<td>{escape(together)}</td></tr>")
    out.append("</tbody></table>")
    return out


# -- --explain -------------------------------------------------------------------------------


def render_explain_html(explanations: list[Explanation],
                        sources: dict[str, SourceText]) -> str:
    """`--explain` as a page: per protocol, its maintained statements down and the arches
    across, each cell saying what dropping that statement's maintenance brings there."""
    from checker.report.whatif import (
        EXPLAIN_LEGEND,
        explain_cells,
        explanation_groups,
        source_statement,
    )

    body = ["<header><h1>flowcheck: why each flush is there</h1></header>"]
    for group in explanation_groups(explanations):
        protocol = group[0].protocol
        spans, cells = explain_cells(group)
        body.append(f'<section class="explain" data-protocol="'
                    f'{escape(protocol.name, quote=True)}"><h2>{escape(protocol.name)} '
                    f'<span class="where">({escape(protocol.span.path)})</span></h2>')
        if not spans:
            body.append("<p>No statement performs cache maintenance on these arches.</p>")
        else:
            arches = [e.arch.name for e in group]
            body.append('<table class="explain"><thead><tr><th>line</th><th>statement</th>')
            body += [f'<th class="arch">{escape(a)}</th>' for a in arches]
            body.append("</tr></thead><tbody>")
            for span in spans:
                text = source_statement(sources, span)
                body.append(f"<tr><td>{span.line}</td><td><code>{escape(text)}</code></td>")
                for arch in arches:
                    value = cells[(span, arch)]
                    kind = {"x": "unsafe", ".": "none", "?": "inconclusive"}.get(
                        value, "can-go" if value.startswith("R") else "bearing")
                    body.append(f'<td class="cell {kind}" data-arch="{escape(arch, quote=True)}"'
                                f">{escape(value)}</td>")
                body.append("</tr>")
            body.append("</tbody></table>")
        unsafe = [e.arch.name for e in group if e.status == "unsafe"]
        if unsafe:
            body.append(f"<p>Not safe (x): {escape(', '.join(unsafe))}</p>")
        body.append("</section>")
    body.append('<pre class="legend">' + escape("\n".join(EXPLAIN_LEGEND)) + "</pre>")
    return _page("flowcheck: --explain", body)
