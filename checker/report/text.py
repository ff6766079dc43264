"""Plain-text reports: counterexample traces a person can follow, and summary lines.

Every line stays under 80 columns so a trace can be pasted into a mail. The output depends
only on the input (no timings, no hashes), so the same input gives the same bytes.
"""

from __future__ import annotations

import textwrap
from pathlib import PurePosixPath

from checker.check import CheckResult
from checker.front.source import SourceText, Span
from checker.machine.program import Node, Program
from checker.machine.state import ENDED, LIVE, UNFAULTED, Layout, State
from checker.report.explain import rests_on
from checker.report.trace import Trace, TraceStep

WIDTH = 78
INDENT = " " * 9


def short_path(path: str) -> str:
    return PurePosixPath(path).name


def where(span: Span) -> str:
    return f"{short_path(span.path)}:{span.line}"


def unit_where(unit: tuple[Span, ...]) -> str:
    """A redundancy unit in a few words: the statement, and the last step into it."""
    if len(unit) == 1:
        return where(unit[0])
    return f"{where(unit[0])} ({where(unit[-1])})"


class TraceRenderer:
    """Renders the traces of one Program."""

    def __init__(self, program: Program, sources: dict[str, SourceText]) -> None:
        self.p = program
        self.sources = sources
        self.layout = Layout(program)
        self.nodes: tuple[Node, ...] = program.nodes
        self.writes: dict[int, str] = {0: "the initial value"}

    # -- names -----------------------------------------------------------------------------

    def statement_text(self, span: Span) -> str:
        source = self.sources.get(span.path)
        if source is None:
            return "?"
        text = source.line(span.line)[span.col - 1 :]
        text = text.split("//")[0].split(";")[0].strip()
        # A one-line body (`fn f(p: page) { g(p) }`): the statement ends before the brace.
        while text.endswith("}") and text.count("}") > text.count("{"):
            text = text[:-1].rstrip()
        # A block's head (`on user_map(p: page) {`, a hook on a redundancy path): its name.
        return text.removesuffix("{").rstrip()

    def word_name(self, word: int) -> str:
        for page, base in enumerate(self.layout.word_offset):
            if base <= word < base + self.p.pages[page].words:
                return f"{self.p.pages[page].name}[{word - base}]"
        return f"word {word}"

    def slot_name(self, slot: int) -> str:
        info = self.layout.slots[slot]
        level = self.p.levels[info.level]
        name = f"{level.name} {self.p.pages[info.page].name}"
        if self.p.lines(info.page) > 1:
            name += f" line {info.line}"
        if level.indexing == "vipt":
            name += f" colour {info.key}"
        elif level.indexing == "vivt":
            name += f" via {self.p.aliases[info.key].name}"
        return name

    @staticmethod
    def line_text(line) -> str:
        return _line_words(_line_data(line))

    def thread_name(self, t: int) -> str:
        return self.p.threads[t].name

    def cost_text(self, statement: Span) -> str:
        """The price the arch puts on a statement's maintenance (its `cost` annotations, each
        counted once: the most one execution of the statement can pay)."""
        costs = [n.cost for n in self.nodes if n.origin == statement and n.kind == "maint"]
        known = [c for c in costs if c is not None]
        if not known:
            return ""
        return f"  (cost up to {sum(known)} line ops)"

    def unit_cost(self, unit: tuple[Span, ...]) -> str:
        """cost_text for the part of a statement a unit names."""
        cost = self.unit_cost_value(unit)
        return "" if cost is None else f" (cost up to {cost} line ops)"

    def unit_cost_value(self, unit: tuple[Span, ...]) -> int | None:
        """The `cost` of the maintenance in the part of a statement a unit names (a unit of
        one span: the whole statement), or None when the arch prices none of it."""
        n = len(unit)
        costs = [c.cost for c in self.nodes if c.kind == "maint" and c.unit[:n] == unit]
        known = [c for c in costs if c is not None]
        return sum(known) if known else None

    # -- the trace -------------------------------------------------------------------------

    def reset_writes(self) -> None:
        """Forget the writes of the last trace: the ones made before any step remain."""
        self.writes = {0: "the initial value"}
        pre = [info.name for info in self.p.pages if info.kernel_start == "dirty"]
        if pre:
            self.writes[1] = f"the kernel's write to {', '.join(pre)} before the start"

    def render(self, trace: Trace) -> list[str]:
        self.reset_writes()
        out = [self.start_text(trace.start)]
        for number, step in enumerate(trace.steps, 1):
            out.extend(self.step_lines(number, step, trace.kind))
        out.extend(self.conclusion(trace))
        reasons = rests_on(self, trace)
        if reasons:
            out.append("It rests on:")
            for reason in reasons:
                out.extend(textwrap.wrap(reason, WIDTH, initial_indent="- ",
                                         subsequent_indent="  "))
        return out

    def start_text(self, start: State) -> str:
        parts = []
        if self.p.colour_count > 1:
            for h, info in enumerate(self.p.handles):
                if info.declared:
                    parts.append(f"{info.name} at colour {start.hcol[h]}")
        for slot, line in enumerate(start.cache):
            if line is not None:
                parts.append(f"{self.slot_name(slot)} {self.line_text(line)}")
        if not parts:
            parts.append("caches empty")
        parts.extend(f"{info.name} not faulted in" for h, info in enumerate(self.p.handles)
                     if info.declared and start.hstat[h] == UNFAULTED)
        # Flags the arch's `on user_map` hook set when the declared mappings were faulted in.
        for page, flag in sorted(start.flags):
            parts.append(f"{self.p.pages[page].name}.{flag} set (at fault-in)")
        body = "; ".join(parts)
        return textwrap.fill(f"start: {body}", WIDTH, subsequent_indent=INDENT)

    def step_lines(self, number: int, step: TraceStep, kind: str | None = None) -> list[str]:
        label = step.label
        if label.actor < 0:
            lines = [f"{number:>3}. {'(hardware)':<10} {self.env_text(label.choice)}"]
        else:
            node = self.nodes[label.node]
            head = f"{number:>3}. {self.thread_name(label.actor):<10} {where(node.origin)}"
            text = self.statement_text(node.origin)
            lines = [_clip(f"{head}  {text}")]
            if node.span != node.origin:
                lines.append(_clip(f"{INDENT}{where(node.span)}: {node.text}"))
            elif node.kind == "nop":
                lines.append(f"{INDENT}(no cache effect on this arch)")
            if node.kind == "test":
                lines[-1] += f": {'true' if label.choice[1] else 'false'}"
            elif node.kind == "fault":
                mapping = self.p.handles[node.handle].name
                lines.append(f"{INDENT}(page fault: {mapping} has no page-table entry yet)"
                             if label.choice[1] else
                             f"{INDENT}(no page fault: {mapping} is faulted in already)")
        lines.extend(INDENT + change for change in self.changes(number, step))
        for finding in step.findings:
            # Only the trace's own kind: a lost_write trace that passes a stale read on the
            # way does not claim it (the stale_read trace, if any, is its own).
            if kind is None or finding.kind == kind:
                lines.append(f"{INDENT}=> {finding.kind}")
        return lines

    def env_text(self, choice: tuple) -> str:
        if choice[0] == "evict":
            return f"evicts {self.slot_name(choice[1])}"
        alias = self.p.aliases[choice[1]]
        return f"fills a line speculatively through {alias.name}"

    def changes(self, number: int, step: TraceStep) -> list[str]:
        """What a step did, one line each (`effects` as sentences)."""
        return [_clip(self.effect_text(e), WIDTH - len(INDENT))
                for e in self.effects(number, step)]

    def effects(self, number: int, step: TraceStep) -> list[dict]:
        """What a step did, as data: a page fault first (the access that makes its entry),
        the values read, the writes made (each numbered, as the text calls them #N),
        mappings made and ended, TLB entries loaded and purged, cache lines and memory
        words changed, page flags set and cleared."""
        before, after = step.before, step.after
        out: list[dict] = [{"effect": "fault", "mapping": info.name}
                           for h, info in enumerate(self.p.handles)
                           if before.hstat[h] == UNFAULTED and after.hstat[h] == LIVE]
        label = step.label
        if label.actor >= 0:
            node = self.nodes[label.node]
            out.extend(self.observations(node, label.actor, step))
            for n in range(before.counter + 1, after.counter + 1):
                who = self.thread_name(label.actor)
                self.writes[n] = f"{who}'s {self.statement_text(node.origin)} (step {number})"
                word = next(w for w, v in enumerate(after.last) if v == n)
                out.append({"effect": "write", "word": self.word_name(word), "value": n})
        for h, info in enumerate(self.p.handles):
            if before.hstat[h] != after.hstat[h]:
                if after.hstat[h] == LIVE and before.hstat[h] != UNFAULTED:  # faults: listed first
                    mapped: dict = {"effect": "map", "mapping": info.name}
                    if info.alias == info.page:
                        mapped["alias"] = self.p.aliases[info.alias].name
                    elif self.p.colour_count > 1:
                        mapped["colour"] = after.hcol[h]
                    out.append(mapped)
                elif after.hstat[h] == ENDED:
                    out.append({"effect": "unmap", "mapping": info.name})
        for alias, (was, now) in enumerate(zip(before.tlb, after.tlb, strict=True)):
            if was != now:
                out.append({"effect": "tlb", "alias": self.p.aliases[alias].name,
                            "present": bool(now)})
        for slot, (was, now) in enumerate(zip(before.cache, after.cache, strict=True)):
            if was != now:
                out.append({"effect": "cache", "line": self.slot_name(slot),
                            "before": _line_data(was), "after": _line_data(now)})
        for word, (was, now) in enumerate(zip(before.mem, after.mem, strict=True)):
            if was != now:
                out.append({"effect": "memory", "word": self.word_name(word), "before": was,
                            "after": now})
        for page, flag in sorted(after.flags - before.flags):
            out.append({"effect": "flag", "page": self.p.pages[page].name, "flag": flag,
                        "set": True})
        for page, flag in sorted(before.flags - after.flags):
            out.append({"effect": "flag", "page": self.p.pages[page].name, "flag": flag,
                        "set": False})
        return out

    def effect_text(self, effect: dict) -> str:
        kind = effect["effect"]
        if kind == "read":
            return f"reads {effect['word']} = #{effect['value']}"
        if kind == "write":
            return f"writes #{effect['value']} to {effect['word']}"
        if kind == "map":
            at = (f" on {effect['alias']}" if "alias" in effect
                  else f" at colour {effect['colour']}" if "colour" in effect else "")
            return f"{effect['mapping']} mapped{at}"
        if kind == "unmap":
            return f"{effect['mapping']} unmapped"
        if kind == "fault":
            return f"page fault: {effect['mapping']} gets its page-table entry"
        if kind == "tlb":
            return f"TLB entry of {effect['alias']} {'loaded' if effect['present'] else 'purged'}"
        if kind == "cache":
            return (f"{effect['line']}: {_line_words(effect['before'])} -> "
                    f"{_line_words(effect['after'])}")
        if kind == "memory":
            return f"memory {effect['word']}: #{effect['before']} -> #{effect['after']}"
        return f"{effect['page']}.{effect['flag']} {'set' if effect['set'] else 'cleared'}"

    def observations(self, node: Node, t: int, step: TraceStep) -> list[dict]:
        """What a read returned (a read changes nothing a diff would show)."""
        stale = {f.data[0]: f.data[1] for f in step.findings if f.kind == "stale_read"}
        words = []
        if node.kind == "dma_read":
            words = [self.layout.word_offset[node.page] + node.index]
        elif node.kind in ("read", "copy"):
            handle = step.before.regs[node.reg2 if node.kind == "copy" else node.reg]
            if handle < 0:
                return []
            page = self.p.handles[handle].page
            base = self.layout.word_offset[page]
            words = [base + node.index] if node.kind == "read" else list(
                range(base, base + self.p.pages[page].words))
        return [{"effect": "read", "word": self.word_name(word),
                 "value": stale.get(word, step.after.views[t][word])} for word in words]

    # -- the finding in words --------------------------------------------------------------

    def conclusion(self, trace: Trace) -> list[str]:
        f = trace.finding
        if f.kind == "stale_read":
            word, got, known = f.data
            node = self.nodes[f.node]
            text = (f"stale_read: {self.thread_name(f.thread)} read {self.word_name(word)} "
                    f"({self.statement_text(node.origin)}, {where(node.origin)}) and got "
                    f"#{got}, {self.writes.get(got, '?')}, but it already knew of #{known}, "
                    f"{self.writes.get(known, '?')}.")
        elif f.kind == "lost_write":
            word, value, last, order = f.data
            drained = ", then ".join(self.slot_name(s) for s in order) or "nothing"
            text = (f"lost_write: when the caches drain ({drained} written out), memory "
                    f"keeps {self.word_name(word)} = #{value}, {self.writes.get(value, '?')}; "
                    f"the last write to it was #{last}, {self.writes.get(last, '?')}.")
        elif f.kind == "use_after_unmap":
            reg, handle = f.data
            node = self.nodes[f.node]
            when = "before it was ever mapped"
            ended = [n for n, step in enumerate(trace.steps, 1) if handle >= 0
                     and step.before.hstat[handle] == LIVE and step.after.hstat[handle] == ENDED]
            if ended:
                when = f"after it was unmapped at step {ended[0]}"
            text = (f"use_after_unmap: {self.thread_name(f.thread)} used "
                    f"'{self.p.registers[reg]}' ({where(node.span)}: {node.text}) {when}.")
        else:
            blocked = ", ".join(self.blocked_text(trace, t) for t in f.data)
            text = f"deadlock: no thread can move: {blocked}."
        return textwrap.wrap(text, WIDTH)

    def blocked_text(self, trace: Trace, t: int) -> str:
        state = trace.steps[-1].after if trace.steps else trace.start
        node = self.nodes[state.pcs[t]]
        return f"{self.thread_name(t)} is stuck at {node.text} ({where(node.span)})"


def _line_data(line) -> dict:
    """A cache line as data: absent, or clean or dirty with the write each word holds."""
    if line is None:
        return {"state": "absent"}
    return {"state": "dirty" if line[0] else "clean", "values": list(line[1])}


def _line_words(data: dict) -> str:
    if data["state"] == "absent":
        return "absent"
    words = ",".join(f"#{v}" for v in data["values"])
    return f"{data['state']} {{{words}}}"


def _clip(line: str, width: int = WIDTH) -> str:
    return line if len(line) <= width else line[: width - 3] + "..."


def render_result(result: CheckResult, sources: dict[str, SourceText]) -> list[str]:
    """The full report of one check: a header, each trace, the redundant statements."""
    name = f"{result.protocol.name} on {result.arch.name}"
    engine = f" (engine: {result.engine})" if result.engine not in ("", "explicit") else ""
    if not result.complete:
        if not result.kinds:
            return [f"== {name}: inconclusive ({result.reason}){engine}"]
        # Findings made before the limit are real executions (replayed): shown, with a
        # header that says the search did not finish, so nothing else is claimed.
        found = ", ".join(sorted(result.kinds))
        out = [f"== {name}: {found}, then inconclusive ({result.reason}){engine}"]
    else:
        found = ", ".join(sorted(result.kinds)) or "safe"
        out = [f"== {name}: {found}{engine}"]
    if result.program is None:
        return out
    renderer = TraceRenderer(result.program, sources)
    for kind, trace in sorted(result.traces.items()):
        out.append("")
        out.append(f"-- {kind}: a shortest execution")
        out.extend(renderer.render(trace))
    if result.redundant:
        out.append("")
        out.append("-- redundant_flush: cache maintenance that can be dropped")
        out.extend(_redundancy_lines(renderer, result.redundant))
    if result.inner:
        out.append("")
        out.append("-- redundant inside calls (each statement is needed; a part of it is not):")
        out.extend(_redundancy_lines(renderer, result.inner))
    out.append("")
    return out


def _redundancy_lines(renderer: TraceRenderer, found) -> list[str]:
    out = []
    for r in found:
        text = f"   {where(r.statement)}  {renderer.statement_text(r.statement)}"
        if not r.within:
            out.append(_clip(text + renderer.cost_text(r.statement)))
        else:
            # The call or micro-operation that can go, with the arch line of each call on
            # the way to it.
            out.append(_clip(text))
            for depth, span in enumerate(r.within, 1):
                line = f"{INDENT}{'  ' * (depth - 1)}{where(span)}: {renderer.statement_text(span)}"
                out.append(_clip(line))
            out.append(_clip(f"{INDENT}can go{renderer.unit_cost(r.unit)}"))
        if r.depends_on:
            others = ", ".join(unit_where(u) for u in r.depends_on)
            out.extend(textwrap.wrap(f"can go alone, but not together with {others}",
                                     WIDTH, initial_indent=INDENT, subsequent_indent=INDENT))
        elif r.group:
            others = ", ".join(unit_where(u) for u in r.group)
            out.extend(textwrap.wrap(f"can go alone, but not together with all of {others}",
                                     WIDTH, initial_indent=INDENT, subsequent_indent=INDENT))
    return out


def summary_lines(results: list[CheckResult]) -> list[str]:
    """One line per result, in columns as wide as the longest protocol and arch name."""
    if not results:
        return []
    width_p = max(len(r.protocol.name) for r in results)
    width_a = max(len(r.arch.name) for r in results)
    return [summary_line(r, width_p, width_a) for r in results]


def summary_line(result: CheckResult, width_p: int = 24, width_a: int = 10) -> str:
    """`protocol  arch  kinds  verdict` in columns."""
    want = ", ".join(sorted(result.expected)) or "safe"
    if result.expected_lines is not None:
        want = want.replace("redundant_flush", "redundant_flush at "
                            + ", ".join(map(str, sorted(result.expected_lines))))
    if not result.complete:
        # "?" stands for whatever the search did not get to: with findings, "kinds, ?".
        found = ", ".join([*sorted(result.kinds), "?"])
        verdict = f"INCONCLUSIVE: {result.reason}"
        if result.status == "unexpected":
            verdict = f"UNEXPECTED (expected {want}; then {verdict})"
    else:
        kinds = sorted(result.kinds)
        if result.expected_lines is not None and not result.matches and result.redundant:
            # Say where, when the lines were pinned and differ.
            at = ", ".join(map(str, sorted(result.redundant_lines)))
            kinds = [f"{k} at {at}" if k == "redundant_flush" else k for k in kinds]
        found = ", ".join(kinds) or "safe"
        verdict = "ok" if result.matches else f"UNEXPECTED (expected {want})"
    name, arch = f"{result.protocol.name:<{width_p}}", f"{result.arch.name:<{width_a}}"
    return f"{name}  {arch}  {found:<16}  {verdict}".rstrip()
