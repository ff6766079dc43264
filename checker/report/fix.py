"""`check --fix` as text: per file the unified diff (what `git apply` takes), then per
protocol what was inserted, a table of the arches before and after, what the fix leaves
redundant, and whether a placement free of redundancy exists."""

from __future__ import annotations

import textwrap

from checker.fix.session import FileFix
from checker.fix.synthesis import DEFECTS, FixOutcome

WIDTH = 79


def render_fixes(fixes: list[FileFix], max_calls: int) -> list[str]:
    out: list[str] = []
    diffs = [fix.diff for fix in fixes if fix.after != fix.before]
    out.extend("".join(diffs).splitlines())
    for fix in fixes:
        for outcome in fix.outcomes:
            if out:
                out.append("")
            out.extend(render_outcome(fix, outcome, max_calls))
    return out


def _kinds(kinds) -> str:
    return ", ".join(sorted(kinds)) or "safe"


def _wrap(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ")


def render_outcome(fix: FileFix, outcome: FixOutcome, max_calls: int) -> list[str]:
    protocol = outcome.protocol
    names = [a.name for a in outcome.arches]
    head = f"== fix: {protocol.name} on {len(names)} arch{'es' if len(names) != 1 else ''}"
    out = [head]
    space = (f"{len(outcome.candidates)} candidate calls, placements of at most {max_calls}")
    if outcome.status == "nothing":
        out.extend(_wrap("No finding to fix on these arches (only redundant_flush, or safe)."))
        return out
    if outcome.status == "inconclusive":
        out.extend(_wrap(f"Inconclusive: {outcome.reason}. Nothing is claimed about the "
                         "placements not examined."))
        return out
    if outcome.status == "none":
        out.extend(_wrap(f"No placement removes the findings on any of "
                         f"{', '.join(outcome.unfixable)}: proven over the {space}."))
        return out
    if outcome.status == "partial":
        out.extend(_wrap(f"No placement removes every finding on {', '.join(outcome.unfixable)}"
                         f" (proven over the {space}, as many other arches fixed as "
                         "possible); the placement below fixes every other arch."))
    best = outcome.best
    assert best is not None
    calls = len(best.calls)
    out.extend(_wrap(f"Inserted ({calls} call{'s' if calls != 1 else ''}, cost {best.cost} "
                     "line ops summed over the arches; checked again in the edited file):"))
    for c in best.calls:
        body = protocol.threads[c.thread].body
        line = fix.lines.get((protocol.name, c.index), 0)
        thread = protocol.threads[c.thread].name
        place = ("after its last statement" if c.position >= len(body) else
                 f"before {_statement(fix.before, body[c.position].span.line)}")
        out.extend(_wrap(f"{_short(fix.path)}:{line}  {c.text()}  ({thread}, {place})", "  "))
    out.append("")
    width = max(len(n) for n in names) + 2
    out.append(f"{'arch':<{width}}{'before':<28}{'after':<28}cost")
    for arch in outcome.arches:
        before = outcome.before[arch.name]
        after = fix.rechecked.get((protocol.name, arch.name))
        cost = sum(outcome.effects[arch.name][c.index].cost for c in best.calls)
        shown_after = "?" if after is None else _kinds(after.kinds)
        if after is not None and not after.complete:
            shown_after += " (inconclusive)"
        out.append(f"{arch.name:<{width}}{_kinds(before.kinds):<28}{shown_after:<28}{cost}")
    redundant = [(arch.name, r) for arch in outcome.arches
                 for r in getattr(fix.rechecked.get((protocol.name, arch.name)), "redundant", ())]
    if redundant:
        out.append("")
        out.append("Redundant after the fix (its cache maintenance can go with no finding):")
        inserted = {fix.lines.get((protocol.name, c.index)) for c in best.calls}
        for arch_name, r in redundant:
            line = r.statement.line
            mark = " (inserted)" if line in inserted else ""
            others = ", ".join(f":{u[0].line}" for u in r.depends_on)
            alone = f"; not together with {others}" if others else ""
            out.extend(_wrap(f"{arch_name}: {_short(fix.path)}:{line}  "
                             f"{_statement(fix.after, line)}{mark}{alone}", "  "))
    out.append("")
    out.extend(_lean(outcome, space))
    return out


def _lean(outcome: FixOutcome, space: str) -> list[str]:
    best, lean = outcome.best, outcome.lean
    examined = f"{outcome.clean_sets} safe placement{'s' if outcome.clean_sets != 1 else ''}"
    if lean is not None and best is not None and lean.calls == best.calls:
        return _wrap("This placement leaves no statement redundant on any of these arches.")
    if lean is not None:
        calls = ", ".join(c.text() for c in lean.calls)
        return _wrap(f"A placement with no redundant statement on any arch exists: {calls} "
                     f"(cost {lean.cost}); the one above is cheaper.")
    if outcome.lean_proven:
        return _wrap(f"No placement is both free of findings and free of redundant "
                     f"statements on every arch fixed: proven over the {space} "
                     f"({examined} examined, each one's supersets ruled out).")
    reason = f": {outcome.reason}" if outcome.reason else ""
    return _wrap(f"Whether a placement free of redundant statements exists was not settled "
                 f"({examined} examined{reason}).")


def _statement(text: str, line: int) -> str:
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return "?"
    return "`" + lines[line - 1].split("//")[0].strip() + "`"


def _short(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def fix_exit_status(fixes: list[FileFix]) -> int:
    """0: every protocol fixed on every arch (or had nothing to fix); 1: some protocol has
    arches no placement fixes; 3: a limit left some search inconclusive."""
    outcomes = [o for fix in fixes for o in fix.outcomes]
    if any(o.status in ("none", "partial") for o in outcomes):
        return 1
    if any(o.status == "inconclusive" for o in outcomes):
        return 3
    return 0


__all__ = ["DEFECTS", "fix_exit_status", "render_fixes"]
