"""The protocol x arch grid that ends a text run: one cell per check, under 80 columns.

    set_bit_to_user        .  .  SL!  R  ?
                           a  a  a    a  c ...   (arch names, read downwards)

A cell is the kinds found, one letter each (CODES), `.` for safe, `?` where a limit stopped
the search (after the letters of what it found before), and `!` when the result differs
from the protocol's `expect` lines; a blank cell is a check the run did not make (an arch
that does not apply to the protocol). Arches are columns, named downwards above them and cut
to NAME_ROWS letters where that keeps them apart; protocols are rows, under a line naming
their file when the run has several. When the columns do not fit beside the names they wrap
into blocks of columns, each with the rows again.
"""

from __future__ import annotations

from checker.check import CheckResult

CODES = {"stale_read": "S", "lost_write": "L", "use_after_unmap": "U", "deadlock": "D",
         "redundant_flush": "R"}
LEGEND = [
    "  " + "  ".join(f"{code} {kind}" for kind, code in CODES.items()),
    "  . safe  ? inconclusive  ! differs from expect  (blank) not checked",
]
WIDTH = 79
NAME_ROWS = 10  # a header taller than this cuts names, as long as the cut ones differ
MAX_NAME_WIDTH = 40  # longer protocol names are cut; the columns wrap beside shorter ones


def cell(result: CheckResult) -> str:
    text = "".join(code for kind, code in CODES.items() if kind in result.kinds)
    if not result.complete:
        text += "?"
    text = text or "."
    return text + "!" if result.status == "unexpected" else text


def render_grid(results: list[CheckResult]) -> list[str]:
    """The grid of `results` (in the order they ran), then its legend."""
    if not results:
        return []
    arches = list(dict.fromkeys(r.arch.name for r in results))
    rows: dict[tuple[str, int, str], dict[str, str]] = {}
    for result in results:
        protocol = result.protocol
        key = (protocol.span.path, protocol.span.line, protocol.name)
        rows.setdefault(key, {})[result.arch.name] = cell(result)
    width = max(2, *(len(text) + 1 for row in rows.values() for text in row.values()))
    several_files = len({path for path, _, _ in rows}) > 1
    indent = 2 if several_files else 0
    name_width = min(MAX_NAME_WIDTH, 1 + max(indent + len(name) for _, _, name in rows))
    per_block = max(1, (WIDTH - name_width) // width)
    blocks = -(-len(arches) // per_block)
    per_block = -(-len(arches) // blocks)  # as many columns in each block as can be
    out: list[str] = []
    for start in range(0, len(arches), per_block):
        block = arches[start : start + per_block]
        if out:
            out.append("")
        out.extend(arch_header(block, width, name_width))
        path = None
        for (file, _, name), row in rows.items():
            if several_files and file != path:
                out.append(_clip(file, WIDTH))
                path = file
            label = _clip(" " * indent + name, name_width).ljust(name_width)
            cells = "".join(row.get(arch, "").ljust(width) for arch in block)
            out.append((label + cells).rstrip())
    out.append("")
    out.extend(LEGEND)
    return out


def arch_header(arches: list[str], width: int, indent: int) -> list[str]:
    """The arch names written downwards, one letter a line, bottom-aligned."""
    names = _short_names(arches)
    height = max(len(name) for name in names)
    lines = []
    for row in range(height):
        letters = [
            (name[row - (height - len(name))] if row >= height - len(name) else " ").ljust(width)
            for name in names
        ]
        lines.append((" " * indent + "".join(letters)).rstrip())
    return lines


def _short_names(arches: list[str]) -> list[str]:
    """Each name cut to NAME_ROWS letters (the cut marked with `~`), unless two would then
    read the same: then all are whole."""
    cut = [name if len(name) <= NAME_ROWS else name[: NAME_ROWS - 1] + "~" for name in arches]
    return cut if len(set(cut)) == len(cut) else arches


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "~"
