"""Passes over a thread's control graph without recursion.

A thread is a loop-free graph of up to 50,000 steps (checker/machine/limits.py), while Python
stops recursing at about 1,000 frames: a recursive walk failed on a thread of 250 steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from checker.machine.program import END


def postorder(roots: Iterable[int], successors: Callable[[int], Iterable[int]]) -> list[int]:
    """The nodes reachable from `roots` (END left out), each after all of its successors:
    the order in which a recursive pass over a loop-free graph would finish them."""
    done: set[int] = {END}
    order: list[int] = []
    for root in roots:
        if root in done:
            continue
        done.add(root)
        stack = [(root, iter(successors(root)))]
        while stack:
            pc, rest = stack[-1]
            nxt = next((n for n in rest if n not in done), None)
            if nxt is None:
                stack.pop()
                order.append(pc)
            else:
                # Marked when first reached: in a loop-free graph no node is reached again
                # while it is still on the stack.
                done.add(nxt)
                stack.append((nxt, iter(successors(nxt))))
    return order
