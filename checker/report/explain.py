"""What a counterexample rests on, in words a reviewer can check against their own code.

A finding of the model may come from the protocol, or from something the protocol author did
not write: a start state (a line of a declared mapping that started dirty), a hardware event
(an eviction, a speculative fill), or the arch's own hooks (munmap's flush on parisc). The
trace shows all of them; this names them after the conclusion, so an arch-side cause reads
as one. Traces are shrunk first (report/trace.py): no hardware event can be dropped one at a
time, and no start state with fewer or cleaner lines gives the finding, so each item listed
here is one the execution needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from checker.machine.program import cond_flags
from checker.machine.state import LIVE, UNFAULTED, State

if TYPE_CHECKING:
    from checker.report.text import TraceRenderer
    from checker.report.trace import Trace


def rests_on(r: TraceRenderer, trace: Trace) -> list[str]:
    """One sentence per thing the execution depends on beyond the protocol's statements."""
    out = _start(r, trace) + _hardware(r, trace) + _hooks(r, trace) + _faults(r, trace)
    if trace.kind == "stale_read":
        out += _stale_source(r, trace)
    return out


def _start(r: TraceRenderer, trace: Trace) -> list[str]:
    p, start = r.p, trace.start
    out = []
    for slot, line in enumerate(start.cache):
        if line is None:
            continue
        info = r.layout.slots[slot]
        owners = _start_owners(r, start, slot)
        if any(line[1]):  # only the kernel's write before the start is in a start line
            out.append(f"the start: {r.slot_name(slot)} holds the kernel's write made before "
                       f"the protocol (`start kernel({p.pages[info.page].name}) dirty`)")
            continue
        state = "dirty" if line[0] else "clean"
        hint = ""
        declared = [h for h in owners if h >= 0]
        if declared:
            names = ", ".join(p.handles[h].name for h in declared)
            if line[0]:
                hint = (f"; if the process only read the page, say `start "
                        f"{p.handles[declared[0]].name} clean`")
            else:
                hint = (f"; if nothing of the process's is cached, say `start "
                        f"{p.handles[declared[0]].name} empty`")
            whose = f"{names}'s line"
        else:
            whose = f"kernel({p.pages[info.page].name})'s line"
        out.append(f"the start: {whose} {r.slot_name(slot)} started {state}{hint}")
    tested = {pf for step in trace.steps if step.label.actor >= 0
              for pf in cond_flags(r.nodes[step.label.node].cond)
              if r.nodes[step.label.node].kind == "test"}
    for page, flag in sorted(start.flags & tested):
        out.append(f"the start: {p.pages[page].name}.{flag} was set when the page's user "
                   "mapping was faulted in (the arch's `on user_map` hook)")
    return out


def _start_owners(r: TraceRenderer, start: State, slot: int) -> list[int]:
    """The declared handles whose alias reaches `slot` at the start (-1: the linear alias)."""
    p, lay = r.p, r.layout
    info = lay.slots[slot]
    owners = []
    for h, handle in enumerate(p.handles):
        if (handle.declared and handle.page == info.page
                and lay.alias_slot(start.hcol, info.level, handle.alias, info.line) == slot):
            owners.append(h)
    return owners


def _hardware(r: TraceRenderer, trace: Trace) -> list[str]:
    out = []
    for number, step in enumerate(trace.steps, 1):
        if step.label.actor < 0:
            choice = step.label.choice
            what = "an eviction" if choice[0] == "evict" else "a speculative fill"
            out.append(f"{what} by the hardware at step {number} ({r.env_text(choice)})")
    return out


def _hooks(r: TraceRenderer, trace: Trace) -> list[str]:
    """The arch hooks the trace passed through, with the steps that did cache work in them."""
    from checker.report.text import short_path  # text.py imports this module
    seen: dict[tuple, list[int]] = {}
    for number, step in enumerate(trace.steps, 1):
        if step.label.actor < 0:
            continue
        node = r.nodes[step.label.node]
        hooks = [name for name in node.via if name.startswith("on ")]
        if hooks and node.candidate:  # a fault's hook steps: _faults says those
            seen.setdefault((node.origin, hooks[0]), []).append(number)
    out = []
    for (origin, hook), steps in seen.items():
        numbers = ", ".join(str(n) for n in steps)
        out.append(f"the arch's `{hook}` hook, run by {r.statement_text(origin)} "
                   f"({short_path(origin.path)}:{origin.line}): its cache work at "
                   f"step{'s' * (len(steps) > 1)} {numbers} is the arch's, not the protocol's")
    return out


def _faults(r: TraceRenderer, trace: Trace) -> list[str]:
    """Each page fault of a mapping that started unfaulted: which access made it, and what
    the arch's `on user_map` did for it (a reviewer asks whether the fault should have
    flushed)."""
    out = []
    for number, step in enumerate(trace.steps, 1):
        if step.label.actor < 0:
            continue
        for h, info in enumerate(r.p.handles):
            if not (step.before.hstat[h] == UNFAULTED and step.after.hstat[h] == LIVE):
                continue
            node = r.nodes[step.label.node]
            hook = [n for n, s in enumerate(trace.steps[:number - 1], 1)
                    if s.label.actor == step.label.actor and r.nodes[s.label.node].fault_of == h
                    and r.nodes[s.label.node].origin == node.origin]
            work = [n for n in hook if r.nodes[trace.steps[n - 1].label.node].kind == "maint"]
            if not hook:
                done = "the arch's `on user_map` does nothing"
            elif work:
                numbers = ", ".join(map(str, work))
                done = (f"after the arch's `on user_map`, whose cache work is at "
                        f"step{'s' * (len(work) > 1)} {numbers}")
            else:
                done = "after the arch's `on user_map`, which did no cache work here"
            out.append(f"the page fault of {info.name} (`start {info.name} unfaulted`): "
                       f"{r.statement_text(node.origin)} at step {number} faulted it in, "
                       f"{done}")
    return out


def _stale_source(r: TraceRenderer, trace: Trace) -> list[str]:
    """Where the value a stale read returned came from: which step brought the line in, or
    memory."""
    f = trace.finding
    last = trace.steps[-1] if trace.steps else None
    if last is None or last.label.actor < 0:
        return []
    node = r.nodes[last.label.node]
    word = f.data[0]
    page = next(pg for pg in range(len(r.p.pages))
                if r.layout.word_offset[pg] <= word < r.layout.word_offset[pg]
                + r.p.pages[pg].words)
    line = (word - r.layout.word_offset[page]) // r.p.line_words
    if node.kind == "dma_read":
        return [f"the device read memory, which held #{f.data[1]}"]
    reg = node.reg2 if node.kind == "copy" else node.reg
    handle = last.before.regs[reg]
    if handle < 0:
        return []
    alias = r.p.handles[handle].alias
    for level in range(len(r.p.levels)):
        slot = r.layout.alias_slot(last.before.hcol, level, alias, line)
        if last.before.cache[slot] is None:
            continue
        # The most recent step that put a line in this slot (absent before it).
        for number in range(len(trace.steps) - 1, 0, -1):
            step = trace.steps[number - 1]
            if step.before.cache[slot] is None and step.after.cache[slot] is not None:
                who = ("the hardware" if step.label.actor < 0
                       else f"{r.thread_name(step.label.actor)}'s "
                            f"{r.statement_text(r.nodes[step.label.node].origin)}")
                return [f"the read hit {r.slot_name(slot)}, which step {number} brought in "
                        f"({who})"]
        return [f"the read hit {r.slot_name(slot)}, which was there from the start"]
    return [f"the read missed every level and read memory, which held #{f.data[1]}"]
