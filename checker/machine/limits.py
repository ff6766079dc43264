"""Size limits: a model too large to check is refused up front, with the limit it passed.

Without them a few lines of input (three nested `repeat 1024`, a page of 1024 words behind a
user mapping, a 1024-colour cache) make the checker build billions of steps or start states
and exhaust memory before the search starts. Each limit is far above what a protocol of
the kernel needs (the shipped specs have at most 2 threads, 39 steps, 4 cache lines and 12
start states on any arch), and far below what would exhaust a machine. Passing one is
an input error (exit 2) at the protocol, naming the limit; docs/language.md lists them.
"""

from __future__ import annotations

import math

from checker.errors import FlowError
from checker.front import model
from checker.machine.program import Program

MAX_THREADS = 64  # threads and devices of one protocol
MAX_STEPS = 50_000  # steps once every repeat is unrolled and every call inlined
MAX_CACHE_LINES = 4_096  # cache lines the model tracks (levels x colours or aliases x lines)
MAX_START_STATES = 1_000_000  # colour choices x start contents of the declared mappings' lines


def check_protocol_size(protocol: model.Protocol, arch: model.Arch) -> None:
    """The limits that can be judged before lowering (lowering would build the steps)."""
    if len(protocol.threads) > MAX_THREADS:
        _too_large(protocol, arch.name, f"{len(protocol.threads)} threads and devices", MAX_THREADS,
                   "threads and devices")
    steps = sum(_steps(thread.body, arch, MAX_STEPS + 1) for thread in protocol.threads)
    if steps > MAX_STEPS:
        what = "more than 50,000 steps once repeats are unrolled and calls inlined"
        _too_large(protocol, arch.name, what, MAX_STEPS, "steps")


def check_program_size(protocol: model.Protocol, program: Program) -> None:
    """The limits judged on the lowered program (cache lines and start states)."""
    cache_lines = cache_line_count(program)
    if cache_lines > MAX_CACHE_LINES:
        what = f"{cache_lines:,} cache lines to track"
        _too_large(protocol, program.arch.name, what, MAX_CACHE_LINES, "cache lines")
    log_states = log10_start_states(program)
    if log_states > math.log10(MAX_START_STATES):
        what = (f"about 10^{log_states:.0f} start states (the contents and colours of the "
                "declared mappings)")
        _too_large(protocol, program.arch.name, what, MAX_START_STATES, "start states")


def cache_line_count(program: Program) -> int:
    """len(Layout(program).slots), counted without building the layout."""
    return sum(program.slots_per_line(level) for level in program.levels) * program.total_lines


def log10_start_states(program: Program) -> float:
    """log10 of an upper bound on len(semantics.initial_states()) (tests/test_limits.py holds
    it to that). Each declared mapping without a colour takes every colour; then each cache
    line the declared mappings reach may be absent, clean or dirty (dirty only on a
    write-back level). A PIPT line is shared by every mapping of its page; a VIPT level holds
    one line per colour in use."""
    declared = [h for h in program.handles if h.declared]
    log_states = sum(math.log10(program.colour_count) for h in declared if h.colour is None)
    log_states += math.log10(len(program.start_flags))
    read = {page for page, info in enumerate(program.pages) if info.kernel_start == "clean"}
    for level in program.levels:
        contents = math.log10(3 if level.write_back else 2)
        for page in {h.page for h in declared} | read:
            # `start kernel(P) clean` lets the linear alias hold lines too: one more mapping
            mappings = sum(1 for h in declared if h.page == page) + (page in read)
            width = {"pipt": 1, "vipt": min(mappings, level.colours), "vivt": mappings}
            log_states += width[level.indexing] * program.lines(page) * contents
    # `start kernel(P) dirty`: a write-through level before the first write-back one may
    # hold the kernel's write or not.
    for page, info in enumerate(program.pages):
        if info.kernel_start == "dirty":
            for level in program.levels:
                if level.write_back:
                    break
                log_states += program.lines(page) * math.log10(2)
    return log_states


def _too_large(protocol: model.Protocol, arch: str, what: str, limit: int, unit: str) -> None:
    raise FlowError(
        protocol.span,
        f"protocol '{protocol.name}' is too large to check on {arch}: {what}; the limit is "
        f"{limit:,} {unit}",
    )


def _steps(body: tuple[model.Statement, ...], arch: model.Arch, cap: int) -> int:
    """The steps `body` lowers to (a bound), counted until `cap` is passed."""
    total = 0
    for statement in body:
        total += 1
        if isinstance(statement, model.Repeat):
            total += statement.count * _steps(statement.body, arch, cap)
        elif isinstance(statement, model.Either):
            total += sum(_steps(branch, arch, cap) for branch in statement.branches)
        elif isinstance(statement, model.If):
            total += _steps(statement.then, arch, cap) + _steps(statement.orelse, arch, cap)
        elif isinstance(statement, model.Call) and statement.function in arch.functions:
            total += _steps(arch.functions[statement.function].body, arch, cap)
        elif isinstance(statement, (model.Mmap, model.Munmap)):
            hook = "user_map" if isinstance(statement, model.Mmap) else "user_unmap"
            if hook in arch.hooks:
                total += _steps(arch.hooks[hook].body, arch, cap)
        elif isinstance(statement, model.Copy):
            total += 1  # a copy is a read and a write per word (bounded by the page size)
        if total > cap:
            return total
    return total
