"""Where a thread stops after the silent nodes (`move`, `choice`) that follow a step.

Both the reference interpreter (semantics.py) and the explicit engine (flat.py) settle a
thread this way, so that both see the same successors, each once.
"""

from __future__ import annotations

from collections.abc import Sequence

from checker.machine.program import END, Node

# The register moves of a silent path as one simultaneous assignment: (destination, source)
# pairs, sorted, with the sources read before any destination is written.
Moves = tuple[tuple[int, int], ...]


def silent_paths(nodes: Sequence[Node], pc: int) -> tuple[tuple[int, Moves], ...]:
    """Each place a thread at `pc` can stop (the first node that is not silent, or END),
    with the register moves made on the way, in the order a depth-first walk that takes a
    choice's branches in order first reaches them.

    Two paths that stop at the same node with the same moves give the same state, so each is
    kept once, and a walk that meets a (node, moves) pair it has met before goes no further:
    a chain of n empty `either`s is 2n nodes to walk, not 2^n paths (it once was, in both
    engines, and with one Python frame per choice)."""
    found: list[tuple[int, Moves]] = []
    seen: set[tuple[int, Moves]] = set()
    stack: list[tuple[int, Moves]] = [(pc, ())]
    while stack:
        at, moves = stack.pop()
        if (at, moves) in seen:
            continue
        seen.add((at, moves))
        node = nodes[at] if at != END else None
        if node is not None and node.kind == "move":
            stack.append((node.next[0], _then(moves, node.reg, node.reg2)))
        elif node is not None and node.kind == "choice":
            stack.extend((branch, moves) for branch in reversed(node.next))
        else:
            found.append((at, moves))
    return tuple(found)


def _then(moves: Moves, dst: int, src: int) -> Moves:
    """`moves`, then `dst = src`, as one simultaneous assignment."""
    assignment = dict(moves)
    source = assignment.get(src, src)
    if source == dst:
        assignment.pop(dst, None)
    else:
        assignment[dst] = source
    return tuple(sorted(assignment.items()))


def apply_moves(regs, base: int, moves: Moves) -> None:
    """Make the register moves in `regs` (a mutable sequence; register r at base + r)."""
    values = [regs[base + src] for _, src in moves]
    for (dst, _), value in zip(moves, values, strict=True):
        regs[base + dst] = value
