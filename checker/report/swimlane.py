"""A counterexample as an SVG swimlane: what the text trace says, drawn.

Time flows down, one row per step (row 0 is the start state). Columns, left to right:

- the step number;
- one lane per thread and one for the hardware (the environment): the actor of a step gets a
  box in its lane with the protocol statement and, inside arch code, the arch's
  micro-operation;
- one band per cache line the execution touches (each level, page, line, and colour or
  alias), then one per line of memory: in each row, the line as it is after the step:
  absent, clean or dirty, and which write (#n) each word holds.

The finding's row is marked. The write the finding is about (the one a stale read should have
seen, or the last write a lost write lost) is followed from the step that made it through
every place that held it, to where it went: the line the reader missed, or the step that
dropped its last copy.

Every element a reader or a test looks for carries a class and `data-` attributes (lanes,
bands, cells with their state and values, rows), and the page's script uses them for
stepping. Text is monospace so that clipping to a lane's width is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from checker.machine.semantics import Semantics
from checker.report.text import TraceRenderer, where
from checker.report.trace import Trace

CHAR = 6.6  # px per character of 11px monospace
ROW = 38  # px per row: two lines of text
HEAD = 58  # px of column headings
GUTTER = 44  # the step-number column
THREAD_LANE = 250
HARDWARE_LANE = 190
PAD = 6


@dataclass(frozen=True)
class Band:
    """One column of cells: a cache slot, or one line of memory (slot -1)."""

    name: str
    slot: int  # -1 for memory
    words: range  # flat memory indices of the line's words
    x: float
    width: float


def _clip(text: str, width: float) -> str:
    most = max(3, int((width - 2 * PAD) / CHAR))
    return text if len(text) <= most else text[: most - 1] + "\u2026"


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


class Swimlane:
    """The SVG of one trace of one check (`key` makes its ids unique on the page)."""

    def __init__(self, renderer: TraceRenderer, trace: Trace, key: str) -> None:
        self.r = renderer
        self.trace = trace
        self.key = key
        self.states = [trace.start, *(step.after for step in trace.steps)]
        self.drain = trace.kind == "lost_write"
        if self.drain:  # one more row: the caches written out in the finding's order
            order = trace.finding.data[3]
            self.states.append(Semantics(renderer.p).drained(self.states[-1], order))
        self.steps = len(trace.steps)  # rows 1..steps are steps; a drain row follows
        self.lanes = self._lanes()
        self.bands = self._bands()
        self.rows = len(self.states)
        slot = self.stale_slot()
        word = trace.finding.data[0] if slot is not None else -1
        self.stale_band = next((b for b in self.bands if b.slot == slot
                                and (slot >= 0 or word in b.words)), None)
        last = self.bands[-1] if self.bands else None
        self.width = (last.x + last.width if last else self._lanes_end()) + PAD
        self.height = HEAD + self.rows * ROW + PAD

    # -- layout ----------------------------------------------------------------------------

    def _lanes(self) -> list[tuple[str, int, float, float]]:
        """(name, actor, x, width): every thread, then the hardware (actor -1)."""
        out, x = [], float(GUTTER)
        for t in range(len(self.r.p.threads)):
            out.append((self.r.thread_name(t), t, x, float(THREAD_LANE)))
            x += THREAD_LANE
        out.append(("hardware", -1, x, float(HARDWARE_LANE)))
        return out

    def _lanes_end(self) -> float:
        name, actor, x, width = self.lanes[-1]
        return x + width

    def _bands(self) -> list[Band]:
        """The cache slots that hold a line at some point of the execution, in the order of
        the machine's slots (level, page, line, colour or alias), then memory by line."""
        r, lay = self.r, self.r.layout
        used = [slot for slot in range(len(lay.slots))
                if any(state.cache[slot] is not None for state in self.states)]
        out, x = [], self._lanes_end() + PAD
        for slot in used:
            info = lay.slots[slot]
            words = lay.line_words(info.page, info.line)
            width = max(96.0, 2 * PAD + CHAR * (4 * len(words) + 2))
            out.append(Band(r.slot_name(slot), slot, words, x, width))
            x += width
        for page in range(len(r.p.pages)):
            for line in range(r.p.lines(page)):
                words = lay.line_words(page, line)
                name = f"memory {r.p.pages[page].name}"
                if r.p.lines(page) > 1:
                    name += f" line {line}"
                width = max(96.0, 2 * PAD + CHAR * (4 * len(words) + 2))
                out.append(Band(name, -1, words, x, width))
                x += width
        return out

    def row_y(self, row: int) -> float:
        return HEAD + row * ROW

    # -- what the finding is about ---------------------------------------------------------

    def wanted(self) -> int | None:
        """The write the finding is about: the newest write the stale reader knew of, or
        the last write of the word memory lost; None for other kinds."""
        f = self.trace.finding
        if f.kind in ("stale_read", "lost_write"):
            return f.data[2]
        return None

    def finding_row(self) -> int:
        """The row that shows the finding: the step of a stale read or use after unmap; the
        drain row of a lost write; the last row of a deadlock."""
        return self.rows - 1

    def holders(self, row: int, write: int) -> list[Band]:
        """The bands whose cell in `row` holds `write` in some word."""
        state = self.states[row]
        out = []
        for band in self.bands:
            if band.slot < 0:
                if any(state.mem[w] == write for w in band.words):
                    out.append(band)
            else:
                line = state.cache[band.slot]
                if line is not None and write in line[1]:
                    out.append(band)
        return out

    def stale_slot(self) -> int | None:
        """The slot a stale read read from (-1: it missed every level and read memory), or
        None when the finding is not a CPU's stale read."""
        if self.trace.kind != "stale_read" or not self.trace.steps:
            return None
        last = self.trace.steps[-1]
        node = self.r.nodes[last.label.node]
        if last.label.actor < 0 or node.kind not in ("read", "copy"):
            return None
        handle = last.before.regs[node.reg2 if node.kind == "copy" else node.reg]
        if handle < 0:
            return None
        lay, p = self.r.layout, self.r.p
        word = self.trace.finding.data[0]
        page = p.handles[handle].page
        line = (word - lay.word_offset[page]) // p.line_words
        for level in range(len(p.levels)):
            slot = lay.alias_slot(last.before.hcol, level, p.handles[handle].alias, line)
            if last.before.cache[slot] is not None:
                return slot
        return -1

    def write_step(self, write: int) -> int | None:
        """The step (row) that made `write`, or None (the initial value, or before the
        start)."""
        for row in range(1, self.steps + 1):
            if self.states[row - 1].counter < write <= self.states[row].counter:
                return row
        return None

    # -- drawing ---------------------------------------------------------------------------

    def svg(self) -> str:
        parts = [
            f'<svg class="swimlane" xmlns="http://www.w3.org/2000/svg" '
            f'width="{self.width:.0f}" height="{self.height:.0f}" '
            f'viewBox="0 0 {self.width:.0f} {self.height:.0f}" data-trace="{_attr(self.key)}" '
            f'data-rows="{self.rows}" role="img" '
            f'aria-label="{_attr(self.trace.kind)}: the execution step by step">',
        ]
        parts += self._row_backgrounds()
        parts += self._headings()
        parts += self._lane_lines()
        parts += self._steps()
        parts += self._cells()
        parts += self._wanted_path()
        parts.append("</svg>")
        return "\n".join(parts)

    def _row_backgrounds(self) -> list[str]:
        out = []
        finding = self.finding_row()
        for row in range(self.rows):
            classes = ["row"]
            if row == finding:
                classes.append("finding-row")
            out.append(f'<rect class="{" ".join(classes)}" data-row="{row}" x="0" '
                       f'y="{self.row_y(row):.0f}" width="{self.width:.0f}" height="{ROW}"/>')
            label = "start" if row == 0 else ("end" if self.drain and row == self.rows - 1
                                               else str(row))
            out.append(f'<text class="stepno" x="{GUTTER - PAD}" '
                       f'y="{self.row_y(row) + 23:.0f}" text-anchor="end">{label}</text>')
        return out

    def _headings(self) -> list[str]:
        out = []
        for name, _actor, x, width in self.lanes:
            out.append(f'<text class="lane-head" x="{x + width / 2:.0f}" y="{HEAD - 10}" '
                       f'text-anchor="middle">{escape(_clip(name, width))}</text>')
        for band in self.bands:
            # Two lines: "L1 pg" and "colour 1" (or "memory" and "pg").
            words = band.name.split(" ")
            first, second = " ".join(words[:2]), " ".join(words[2:])
            kind = "memory" if band.slot < 0 else "cache"
            cx = band.x + band.width / 2
            out.append(f'<text class="band-head {kind}" x="{cx:.0f}" y="{HEAD - 24}" '
                       f'text-anchor="middle">{escape(_clip(first, band.width))}</text>')
            out.append(f'<text class="band-head {kind}" x="{cx:.0f}" y="{HEAD - 10}" '
                       f'text-anchor="middle">{escape(_clip(second, band.width))}</text>')
        return out

    def _lane_lines(self) -> list[str]:
        bottom = self.row_y(self.rows)
        out = []
        for name, actor, x, width in self.lanes:
            kind = "hardware" if actor < 0 else "thread"
            out.append(f'<g class="lane {kind}" data-lane="{_attr(name)}">'
                       f'<line class="lifeline" x1="{x + width / 2:.0f}" y1="{HEAD:.0f}" '
                       f'x2="{x + width / 2:.0f}" y2="{bottom:.0f}"/></g>')
        for band in self.bands:
            kind = "memory" if band.slot < 0 else "cache"
            out.append(f'<g class="band {kind}" data-band="{_attr(band.name)}">'
                       f'<line class="band-edge" x1="{band.x:.0f}" y1="{HEAD:.0f}" '
                       f'x2="{band.x:.0f}" y2="{bottom:.0f}"/></g>')
        return out

    def step_texts(self, row: int) -> tuple[str, str, str]:
        """(actor's lane name, first line, second line) of a step's box."""
        step = self.trace.steps[row - 1]
        label = step.label
        if label.actor < 0:
            return "hardware", self.r.env_text(label.choice), ""
        node = self.r.nodes[label.node]
        # The protocol's line number only: every step of a lane is in the protocol's file.
        first = f"{node.origin.line:>3}  {self.r.statement_text(node.origin)}"
        if node.span != node.origin:
            second = f"{where(node.span)}: {node.text}"
        elif node.kind == "nop":
            second = "(no cache effect on this arch)"
        else:
            second = ""
        if node.kind == "test":
            second += f": {'true' if label.choice[1] else 'false'}"
        return self.r.thread_name(label.actor), first, second

    def _steps(self) -> list[str]:
        out = []
        lanes = {name: (x, width) for name, actor, x, width in self.lanes}
        for row in range(1, self.steps + 1):
            lane, first, second = self.step_texts(row)
            x, width = lanes[lane]
            y = self.row_y(row)
            tip = first + (f"\n{second}" if second else "")
            cls = "step hardware" if lane == "hardware" else "step"
            if row == self.write_step(self.wanted() or -1):
                cls += " wanted-write"
            out.append(
                f'<g class="{cls}" data-row="{row}" data-lane="{_attr(lane)}">'
                f"<title>{escape(tip)}</title>"
                f'<rect x="{x + 3:.0f}" y="{y + 3:.0f}" width="{width - 6:.0f}" '
                f'height="{ROW - 6}" rx="4"/>'
                f'<text x="{x + PAD:.0f}" y="{y + 16:.0f}">{escape(_clip(first, width))}</text>'
                f'<text class="op" x="{x + PAD:.0f}" y="{y + 29:.0f}">'
                f"{escape(_clip(second, width))}</text></g>")
        if self.drain:
            x, width = lanes["hardware"]
            y = self.row_y(self.rows - 1)
            out.append(f'<g class="step hardware drain" data-row="{self.rows - 1}" '
                       f'data-lane="hardware"><title>the caches drain (every dirty line '
                       f'written out)</title><rect x="{x + 3:.0f}" y="{y + 3:.0f}" '
                       f'width="{width - 6:.0f}" height="{ROW - 6}" rx="4"/>'
                       f'<text x="{x + PAD:.0f}" y="{y + 16:.0f}">caches drain</text></g>')
        return out

    def _cell_values(self, row: int, band: Band) -> tuple[str, tuple[int, ...] | None]:
        """(state, the write each word holds) of one cell."""
        state = self.states[row]
        if band.slot < 0:
            return "memory", tuple(state.mem[w] for w in band.words)
        line = state.cache[band.slot]
        if line is None:
            return "absent", None
        return ("dirty" if line[0] else "clean"), tuple(line[1])

    def _cells(self) -> list[str]:
        out = []
        wanted = self.wanted()
        for band in self.bands:
            previous = None
            for row in range(self.rows):
                state, values = self._cell_values(row, band)
                changed = row > 0 and (state, values) != previous
                previous = (state, values)
                x, y = band.x + 3, self.row_y(row) + 5
                classes = ["cell", state]
                if changed:
                    classes.append("changed")
                if wanted is not None and values is not None and wanted in values:
                    classes.append("wanted")
                if row == self.steps and band is self.stale_band:
                    classes.append("stale")  # where the stale read read from
                text = "" if values is None else ",".join(f"#{v}" for v in values)
                data = "" if values is None else ",".join(map(str, values))
                tip = f"{band.name}: {state}" + (f" {{{text}}}" if text else "")
                out.append(
                    f'<g class="{" ".join(classes)}" data-row="{row}" '
                    f'data-band="{_attr(band.name)}" data-state="{state}" '
                    f'data-values="{data}"><title>{escape(tip)}</title>'
                    f'<rect x="{x:.0f}" y="{y:.0f}" width="{band.width - 6:.0f}" '
                    f'height="{ROW - 10}" rx="3"/>'
                    f'<text x="{x + band.width / 2 - 3:.0f}" y="{y + 18:.0f}" '
                    f'text-anchor="middle">{escape(_clip(text, band.width))}</text></g>')
        return out

    def _wanted_path(self) -> list[str]:
        """A dotted path from the step that made the wanted write through one place holding
        it per row; a cross where its last copy went, if it went before the end."""
        wanted = self.wanted()
        if wanted is None:
            return []
        lanes = {name: (x, width) for name, actor, x, width in self.lanes}
        made = self.write_step(wanted)
        points: list[tuple[float, float]] = []
        first_row = 0
        if made is not None:
            lane, _, _ = self.step_texts(made)
            x, width = lanes[lane]
            points.append((x + width - 8, self.row_y(made) + ROW / 2))
            first_row = made
        current: Band | None = None
        gone_at = None
        for row in range(first_row, self.rows):
            holders = self.holders(row, wanted)
            if not holders:
                if points:
                    gone_at = row
                break
            if current not in holders:
                current = holders[0]
            points.append((current.x + current.width / 2, self.row_y(row) + ROW / 2))
        if len(points) < 2 and gone_at is None:
            return []
        d = " ".join(f"{'M' if i == 0 else 'L'}{x:.0f},{y:.0f}"
                     for i, (x, y) in enumerate(points))
        out = [f'<path class="wanted-path" d="{d}" data-write="{wanted}"/>']
        if gone_at is not None:
            x, y = points[-1][0], self.row_y(gone_at) + ROW / 2
            out.append(f'<g class="wanted-gone" data-row="{gone_at}"><title>#{wanted} is '
                       f"nowhere after step {gone_at}</title>"
                       f'<path d="M{x - 6:.0f},{y - 6:.0f} L{x + 6:.0f},{y + 6:.0f} '
                       f'M{x - 6:.0f},{y + 6:.0f} L{x + 6:.0f},{y - 6:.0f}"/></g>')
        return out
