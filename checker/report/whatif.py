"""`--explain` and `--compare` as text, under 80 columns."""

from __future__ import annotations

from checker.check import DEFECTS, CheckResult
from checker.front.source import SourceText, Span
from checker.report.grid import CODES, WIDTH, arch_header
from checker.whatif import Comparison, Explanation, maintenance_cost

EXPLAIN_LEGEND = [
    "  a letter: dropping this statement's maintenance brings that finding",
    f"  ({'  '.join(f'{code} {kind}' for kind, code in CODES.items() if code != 'R')});",
    "  R: it can go alone; . : no maintenance on that arch; x: the protocol has",
    "  findings there (nothing to explain); ?: a limit stopped the search",
]


def source_statement(sources: dict[str, SourceText], span: Span) -> str:
    """The text of the line a span is on, without its comment."""
    source = sources.get(span.path)
    return source.line(span.line).split("//")[0].strip() if source else "?"


def _statement(sources: dict[str, SourceText], span: Span) -> str:
    return f"{span.line:>4}  {source_statement(sources, span)}"


def explanation_groups(explanations: list[Explanation]) -> list[list[Explanation]]:
    """The explanations by protocol, in the order they came."""
    by_protocol: dict[int, list[Explanation]] = {}
    for e in explanations:
        by_protocol.setdefault(id(e.protocol), []).append(e)
    return list(by_protocol.values())


def explain_cells(group: list[Explanation]) -> tuple[list, dict]:
    """One protocol's table: its maintained statements (spans, by line) and a cell per
    (statement, arch name): the letters of the findings dropping the statement's maintenance
    brings, R (it can go), `.` (no maintenance there), x (unsafe), ? (a limit)."""
    spans = sorted({s for e in group for s in e.roles}, key=lambda s: (s.line, s.col))
    cells = {}
    for e in group:
        for span in spans:
            if e.status == "unsafe":
                cells[(span, e.arch.name)] = "x"
            elif e.status == "inconclusive":
                cells[(span, e.arch.name)] = "?"
            elif span not in e.roles:
                cells[(span, e.arch.name)] = "."
            else:
                role = e.roles[span]
                text = "".join(c for k, c in CODES.items() if k in role.kinds) or "R"
                cells[(span, e.arch.name)] = text + ("?" if not role.complete else "")
    return spans, cells


def render_explanations(explanations: list[Explanation],
                        sources: dict[str, SourceText]) -> list[str]:
    """One table per protocol: its maintained statements down, the arches across."""
    out: list[str] = []
    for group in explanation_groups(explanations):
        protocol = group[0].protocol
        if out:
            out.append("")
        out.append(f"== why: {protocol.name} ({protocol.span.path})")
        spans, cells = explain_cells(group)
        if not spans:
            out.append("No statement performs cache maintenance on these arches.")
        arches = [e.arch.name for e in group]
        width = max([2, *(len(c) + 1 for c in cells.values())])
        labels = [_statement(sources, s) for s in spans]
        name_width = min(40, 1 + max([0, *map(len, labels)]))
        per_block = max(1, (WIDTH - name_width) // width)
        for start in range(0, len(arches), per_block):
            block = arches[start : start + per_block]
            out.extend(arch_header(block, width, name_width))
            for span, label in zip(spans, labels, strict=True):
                row = "".join(cells[(span, a)].ljust(width) for a in block)
                shown = label if len(label) < name_width else label[: name_width - 2] + "~"
                out.append((shown.ljust(name_width) + row).rstrip())
        unsafe = [e.arch.name for e in group if e.status == "unsafe"]
        if unsafe:
            out.append(f"Not safe (x): {', '.join(unsafe)}")
    if out:
        out += ["", *EXPLAIN_LEGEND]
    return out


def _kinds(result: CheckResult) -> str:
    text = ", ".join(sorted(result.kinds - {"redundant_flush"})) or "safe"
    return text if result.complete else text + ", inconclusive"


def render_comparisons(comparisons: list[Comparison], a: str, b: str,
                       drop: frozenset[str]) -> list[str]:
    """The protocols whose verdict or redundant statements differ between a and b, how,
    and the maintenance each arch can do over all the protocols."""
    dropped = f" (protocols' own {', '.join(sorted(drop))} left out on {b})" if drop else ""
    out = [f"== compare {a} with {b}{dropped}: {len(comparisons)} protocols"]
    differ = [c for c in comparisons if c.differs]
    gone = appeared = newly = 0
    for c in differ:
        out.append("")
        out.append(f"{c.protocol.name} ({c.protocol.span.path})")
        out.append(f"  {a}: {_kinds(c.a)}")
        out.append(f"  {b}: {_kinds(c.b)}")
        lost = sorted((c.a.kinds - c.b.kinds) & DEFECTS)
        new = sorted((c.b.kinds - c.a.kinds) & DEFECTS)
        gone += bool(lost)
        appeared += bool(new)
        if lost:
            out.append(f"  fixed on {b}: {', '.join(lost)}")
        if new:
            out.append(f"  new on {b}: {', '.join(new)}")
        more = sorted(c.b.redundant_lines - c.a.redundant_lines)
        less = sorted(c.a.redundant_lines - c.b.redundant_lines)
        if more:
            newly += 1
            out.append(f"  redundant on {b} only: lines {', '.join(map(str, more))}")
        if less:
            out.append(f"  redundant on {a} only: lines {', '.join(map(str, less))}")
    cost_a = sum(maintenance_cost(c.a) for c in comparisons)
    cost_b = sum(maintenance_cost(c.b) for c in comparisons)
    out += [
        "",
        f"{len(differ)} of {len(comparisons)} protocols differ: findings gone in {gone}, new "
        f"findings in {appeared}, newly redundant statements in {newly}.",
        f"Maintenance one run of every protocol can do, in line operations: {a} {cost_a}, "
        f"{b} {cost_b}.",
    ]
    return out

