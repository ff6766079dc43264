"""What `check --list-arches` and `check --show-arch NAME` print: the arch library described.

`--list-arches` gives one entry per arch (name, kernel version, cache geometry, description);
`--show-arch` gives an arch as resolved, inherited functions included, each with the comment
that cites the kernel code it follows, quoted from the file that defines it.
"""

from __future__ import annotations

from checker.front import model
from checker.front.source import SourceText
from checker.report.text import short_path


def geometry(arch: model.Arch) -> str:
    """The cache hierarchy, speculation and DMA of an arch in one line."""
    if arch.levels:
        levels = " + ".join(_level(level) for level in arch.levels)
    else:
        levels = "no cache (memory only)"
    speculation = {"no": "no speculative fill", "yes": "speculative fill",
                   "tlb": "speculative fill through TLB entries"}[arch.speculative_fill]
    dma = "coherent DMA" if arch.dma_coherent else "non-coherent DMA"
    return f"{levels}; {speculation}; {dma}"


def _level(level: model.CacheLevel) -> str:
    words = [level.name, level.indexing.upper()]
    if level.indexing == "vipt":
        words.append(f"{level.colours} colour{'s' if level.colours != 1 else ''}")
    words.append("write-back" if level.write_back else "write-through")
    if level.line_words != 1:
        words.append(f"{level.line_words}-word lines")
    if level.victim_fill:
        words.append("victim fill")
    return " ".join(words)


def list_arches(library: model.Library, names: list[str]) -> list[str]:
    lines = []
    for name in names:
        arch = library.arches[name]
        origin = "" if arch.builtin else f"  [{short_path(arch.span.path)}]"
        kernel = arch.kernel or "kernel version not given"
        lines.append(f"{name}  ({kernel}){origin}")
        lines.append(f"    {geometry(arch)}")
        if arch.doc:
            lines.append(f"    {arch.doc}")
    return lines


def show_arch(library: model.Library, name: str, sources: dict[str, SourceText]) -> list[str]:
    arch = library.arches[name]
    chain = [name]
    while (parent := library.arches[chain[-1]].parent) is not None:
        chain.append(parent)
    lines = [f"arch {' extends '.join(chain)}"]
    lines.append(f"    defined at {arch.span}")
    lines.append(f"    kernel: {arch.kernel or 'not given'}")
    if arch.doc:
        lines.append(f"    doc: {arch.doc}")
    lines.append(f"    {geometry(arch)}")
    texts: dict[str, list[str]] = {}  # the lines of each file quoted, split once
    for function in [*arch.functions.values(), *arch.hooks.values()]:
        lines.append("")
        where = f"{function.arch}, {function.span}"
        lines.append(f"// {'inherited from' if function.arch != name else 'defined in'} {where}")
        path = function.span.path
        if path in sources and path not in texts:
            texts[path] = source_lines(sources[path])
        lines.extend(quote_block(texts[path], function.span.line) if path in texts else [])
    return lines


def source_lines(source: SourceText) -> list[str]:
    """The lines of a file as the parser numbers them: only `\\n` ends a line (splitlines
    would also end one at U+2028, `\\x0b`, `\\x85`..., and quote the wrong lines after it)."""
    return [source.line(number) for number in range(1, source.text.count("\n") + 2)]


def quote_block(text: list[str], line: int) -> list[str]:
    """The `//` comment that heads the block starting at line `line` of `text`, and the
    block as written. Arch files often give one comment to a group of functions written
    together (no blank line between): a function with no comment of its own gets its group's."""
    first = line - 1
    end = _block_end(text, first)
    above = first - 1
    while above >= 0 and text[above].strip() and not text[above].strip().startswith("//"):
        above -= 1  # code of the functions grouped above this one
    stop = above
    while above >= 0 and text[above].strip().startswith("//"):
        above -= 1
    comment = [row.rstrip() for row in text[above + 1 : stop + 1]]
    shared = comment and stop != first - 1
    note = ["    // (the comment of the group of functions this one belongs to:)"] if shared else []
    return [*note, *comment, *(row.rstrip() for row in text[first : end + 1])]


def _block_end(text: list[str], first: int) -> int:
    """The index of the line that closes the brace block opening on line `first`."""
    depth = 0
    opened = False
    for index in range(first, len(text)):
        code = text[index].split("//", 1)[0]
        for char in code:
            if char == "{":
                depth += 1
                opened = True
            elif char == "}":
                depth -= 1
        if opened and depth <= 0:
            return index
    return first
