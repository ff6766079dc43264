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
from checker.machine.state import State
from checker.report.text import TraceRenderer, where
from checker.report.trace import Trace

CHAR = 6.6  # px per character of 11px monospace
ROW = 38  # px per row: two lines of text
HEAD = 58  # px of column headings
GUTTER = 44  # the step-number column
THREAD_LANE = 250
HARDWARE_LANE = 190
PAD = 6
EDGE = 11  # px from a band's left edge to the wanted write's path


@dataclass(frozen=True)
class Lane:
    """The column of one actor: a thread, or the hardware (actor -1)."""

    name: str
    actor: int
    x: float
    width: float


@dataclass(frozen=True)
class Band:
    """One column of cells: a cache slot, or one line of memory (slot -1)."""

    name: str  # as the text trace names it (`L1 pg colour 1`, `memory pg`)
    heading: tuple[str, str]  # the name in two lines: `L1 pg` / `colour 1`
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
        self.step_count = len(trace.steps)  # rows 1..step_count are steps
        self.drain = trace.kind == "lost_write"
        if self.drain:  # one more row: the caches written out
            self.states.append(self._drained())
        self.lanes = self._lanes()
        self.bands = self._bands()
        self.rows = len(self.states)
        self.stale_band = self._stale_band()
        end = self.bands[-1] if self.bands else self.lanes[-1]
        self.width = end.x + end.width + PAD
        self.height = HEAD + self.rows * ROW + PAD

    def _drained(self) -> State:
        """The end of a lost write: the finding's line written out in the finding's order
        (the order that loses the write), then every other dirty line, level by level,
        which cannot change the lost word."""
        sem = Semantics(self.r.p)
        state = sem.drained(self.states[-1], self.trace.finding.data[3])
        for _ in self.r.p.levels:  # a dirty line written out may land dirty one level out
            dirty = tuple(slot for slot, line in enumerate(state.cache) if line and line[0])
            state = sem.drained(state, dirty)
        return state

    def drain_order(self) -> str:
        return ", then ".join(self.r.slot_name(s) for s in self.trace.finding.data[3])

    # -- layout ----------------------------------------------------------------------------

    def _lanes(self) -> list[Lane]:
        """Every thread, then the hardware."""
        out, x = [], float(GUTTER)
        for t in range(len(self.r.p.threads)):
            out.append(Lane(self.r.thread_name(t), t, x, float(THREAD_LANE)))
            x += THREAD_LANE
        out.append(Lane("hardware", -1, x, float(HARDWARE_LANE)))
        return out

    def lane_of(self, actor: int) -> Lane:
        return self.lanes[actor]  # the hardware, -1, is the last lane

    def _bands(self) -> list[Band]:
        """The cache slots that hold a line at some point of the execution, in the order of
        the machine's slots (level, page, line, colour or alias), then memory by line. A
        band is as wide as its heading and its widest cell need."""
        p, lay = self.r.p, self.r.layout
        used = [slot for slot in range(len(lay.slots))
                if any(state.cache[slot] is not None for state in self.states)]
        columns: list[tuple[str, tuple[str, str], int, range]] = []
        for slot in used:
            info = lay.slots[slot]
            level = p.levels[info.level]
            rest = []
            if p.lines(info.page) > 1:
                rest.append(f"line {info.line}")
            if level.indexing == "vipt":
                rest.append(f"colour {info.key}")
            elif level.indexing == "vivt":
                rest.append(f"via {p.aliases[info.key].name}")
            heading = (f"{level.name} {p.pages[info.page].name}", " ".join(rest))
            columns.append((self.r.slot_name(slot), heading, slot,
                            lay.line_words(info.page, info.line)))
        for page in range(len(p.pages)):
            for line in range(p.lines(page)):
                name = p.pages[page].name + (f" line {line}" if p.lines(page) > 1 else "")
                columns.append((f"memory {name}", ("memory", name), -1,
                                lay.line_words(page, line)))
        out, x = [], self.lanes[-1].x + self.lanes[-1].width + PAD
        for name, heading, slot, words in columns:
            chars = max(len(heading[0]), len(heading[1]), 4 * len(words) + 2)
            width = max(96.0, 2 * PAD + CHAR * chars)
            out.append(Band(name, heading, slot, words, x, width))
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

    def _stale_band(self) -> Band | None:
        """Where a stale read read from: the band of the cache slot it hit, or of the line
        of memory when it missed every level (a device's read always reads memory); None
        for other findings."""
        if self.trace.kind != "stale_read" or not self.trace.steps:
            return None
        last = self.trace.steps[-1]
        word = self.trace.finding.data[0]
        memory = next(b for b in self.bands if b.slot < 0 and word in b.words)
        node = self.r.nodes[last.label.node]
        if last.label.actor < 0 or node.kind not in ("read", "copy", "dma_read"):
            return None
        if node.kind == "dma_read":
            return memory
        handle = last.before.regs[node.reg2 if node.kind == "copy" else node.reg]
        if handle < 0:
            return None
        lay, p = self.r.layout, self.r.p
        page = p.handles[handle].page
        line = (word - lay.word_offset[page]) // p.line_words
        for level in range(len(p.levels)):
            slot = lay.alias_slot(last.before.hcol, level, p.handles[handle].alias, line)
            if last.before.cache[slot] is not None:
                return next(b for b in self.bands if b.slot == slot)
        return memory

    def write_step(self, write: int) -> int | None:
        """The step (row) that made `write`, or None (the initial value, or before the
        start)."""
        for row in range(1, self.step_count + 1):
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
        for row in range(self.rows):
            # The last row shows the finding: the step of a stale read, a use after unmap
            # or a deadlock; the drain of a lost write.
            classes = "row finding-row" if row == self.rows - 1 else "row"
            out.append(f'<rect class="{classes}" data-row="{row}" x="0" '
                       f'y="{self.row_y(row):.0f}" width="{self.width:.0f}" height="{ROW}"/>')
            out.append(f'<text class="stepno" x="{GUTTER - PAD}" '
                       f'y="{self.row_y(row) + 23:.0f}" text-anchor="end">'
                       f"{self.row_label(row)}</text>")
        return out

    def row_label(self, row: int) -> str:
        if row == 0:
            return "start"
        return "end" if row > self.step_count else str(row)

    def _headings(self) -> list[str]:
        out = []
        for lane in self.lanes:
            out.append(f'<text class="lane-head" x="{lane.x + lane.width / 2:.0f}" '
                       f'y="{HEAD - 10}" text-anchor="middle">'
                       f"{escape(_clip(lane.name, lane.width))}</text>")
        for band in self.bands:
            kind = "memory" if band.slot < 0 else "cache"
            cx = band.x + band.width / 2
            out.append(f'<g class="band-head {kind}"><title>{escape(band.name)}</title>')
            for y, text in ((HEAD - 24, band.heading[0]), (HEAD - 10, band.heading[1])):
                out.append(f'<text x="{cx:.0f}" y="{y}" text-anchor="middle">'
                           f"{escape(_clip(text, band.width))}</text>")
            out.append("</g>")
        return out

    def _lane_lines(self) -> list[str]:
        bottom = self.row_y(self.rows)
        out = []
        for lane in self.lanes:
            kind = "hardware" if lane.actor < 0 else "thread"
            mid = lane.x + lane.width / 2
            out.append(f'<g class="lane {kind}" data-lane="{_attr(lane.name)}" '
                       f'data-actor="{lane.actor}"><line class="lifeline" x1="{mid:.0f}" '
                       f'y1="{HEAD:.0f}" x2="{mid:.0f}" y2="{bottom:.0f}"/></g>')
        for band in self.bands:
            kind = "memory" if band.slot < 0 else "cache"
            out.append(f'<g class="band {kind}" data-band="{_attr(band.name)}">'
                       f'<line class="band-edge" x1="{band.x:.0f}" y1="{HEAD:.0f}" '
                       f'x2="{band.x:.0f}" y2="{bottom:.0f}"/></g>')
        return out

    def step_texts(self, row: int) -> tuple[int, str, str]:
        """(actor, first line, second line) of a step's box: the protocol's line and
        statement, then the arch's micro-operation and where the arch says it."""
        step = self.trace.steps[row - 1]
        label = step.label
        if label.actor < 0:
            return -1, self.r.env_text(label.choice), ""
        node = self.r.nodes[label.node]
        # The protocol's line number only: every step of a lane is in the protocol's file.
        first = f"{node.origin.line:>3}  {self.r.statement_text(node.origin)}"
        outcome = f": {'true' if label.choice[1] else 'false'}" if node.kind == "test" else ""
        if node.span != node.origin:
            # The operation first, its place after: a clipped box keeps what it does.
            second = f"{node.text}{outcome}  ({where(node.span)})"
        elif node.kind == "nop":
            second = "(no cache effect on this arch)"
        elif node.kind == "fault":
            name = self.r.p.handles[node.handle].name
            second = f"(page fault on {name})" if label.choice[1] else f"({name} faulted in)"
        else:
            first, second = first + outcome, ""
        return label.actor, first, second

    def _steps(self) -> list[str]:
        out = []
        made = self.write_step(self.wanted() or -1)
        for row in range(1, self.step_count + 1):
            actor, first, second = self.step_texts(row)
            out.append(self._box(row, self.lane_of(actor), first, second,
                                 first + (f"\n{second}" if second else ""),
                                 " wanted-write" if row == made else ""))
        if self.drain:
            order = self.drain_order()
            out.append(self._box(self.rows - 1, self.lane_of(-1), "caches drain",
                                 f"{order} first",
                                 f"the caches drain: {order} written out (the order that "
                                 "loses the write), then every other dirty line", " drain"))
        return out

    def _box(self, row: int, lane: Lane, first: str, second: str, tip: str,
             extra: str) -> str:
        kind = "step hardware" if lane.actor < 0 else "step"
        x, y, width = lane.x, self.row_y(row), lane.width
        return (f'<g class="{kind}{extra}" data-row="{row}" data-lane="{_attr(lane.name)}" '
                f'data-actor="{lane.actor}"><title>{escape(tip)}</title>'
                f'<rect x="{x + 3:.0f}" y="{y + 3:.0f}" width="{width - 6:.0f}" '
                f'height="{ROW - 6}" rx="4"/>'
                f'<text x="{x + PAD:.0f}" y="{y + 16:.0f}">{escape(_clip(first, width))}</text>'
                f'<text class="op" x="{x + PAD:.0f}" y="{y + 29:.0f}">'
                f"{escape(_clip(second, width))}</text></g>")

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
                if row == self.step_count and band is self.stale_band:
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
        """A dashed path from the step that made the wanted write through one place holding
        it per row, along the left edge of the cells (their text is centred); a cross at the
        left edge of the row where its last copy was gone, if it went before the end."""
        wanted = self.wanted()
        if wanted is None:
            return []
        made = self.write_step(wanted)
        points: list[tuple[float, float]] = []
        first_row = 0
        if made is not None:
            lane = self.lane_of(self.step_texts(made)[0])
            points.append((lane.x + lane.width - 8, self.row_y(made) + ROW / 2))
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
            points.append((current.x + EDGE, self.row_y(row) + ROW / 2))
        if len(points) < 2 and gone_at is None:
            return []
        d = " ".join(f"{'M' if i == 0 else 'L'}{x:.0f},{y:.0f}"
                     for i, (x, y) in enumerate(points))
        out = [f'<path class="wanted-path" d="{d}" data-write="{wanted}"/>']
        if gone_at is not None:
            x, y = points[-1][0], self.row_y(gone_at) + ROW / 2
            out.append(f'<g class="wanted-gone" data-row="{gone_at}"><title>#{wanted} is '
                       f"nowhere from row {self.row_label(gone_at)} on</title>"
                       f'<path d="M{x - 4:.0f},{y - 4:.0f} L{x + 4:.0f},{y + 4:.0f} '
                       f'M{x - 4:.0f},{y + 4:.0f} L{x + 4:.0f},{y - 4:.0f}"/></g>')
        return out
