"""The nesting limit: how deep statements and conditions may nest in one body.

Every later stage (resolving, the per-arch call checks, lowering, the engines' conditions)
walks bodies and conditions recursively, so the depth of the input must stay well inside
Python's recursion limit. The parser itself is not recursive; this check, run on what it
built, refuses deeper input with an error at the first statement or condition too deep.
"""

from __future__ import annotations

from collections.abc import Iterable

from checker.errors import FlowError
from checker.front import syntax as st
from checker.front.source import Span

# A statement or condition may sit inside at most this many levels: bodies in braces (of
# `either`, `or`, `repeat`, `if`, `else`), `else if`s and condition operators (`not`, `and`,
# `or`). Kernel code nests a few levels; 64 keeps every recursive stage far from Python's
# recursion limit (1,000 frames), even through a chain of calls. docs/language.md, section 6.
MAX_NESTING = 64

_Node = st.Stmt | st.Cond


def check_nesting(file: st.File) -> None:
    """Raise a located FlowError at the first statement or condition of `file` that is more
    than MAX_NESTING levels deep. Iterative: the input may be far deeper than Python's stack."""
    stack: list[tuple[_Node, int]] = []
    for block in reversed(file.blocks):
        for item in reversed(block.items):
            if isinstance(item, st.ThreadDecl | st.FnDecl):
                stack.extend((stmt, 0) for stmt in reversed(item.body))
    while stack:  # depth first, in source order: the first node too deep is reported
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise too_deep(node.span)
        stack.extend((child, depth + 1) for child in reversed(list(_children(node))))


def too_deep(span: Span) -> FlowError:
    return FlowError(
        span,
        f"input nested too deeply: more than {MAX_NESTING} levels of '{{ }}' bodies, "
        "'else if's and condition operators",
    )


def _children(node: _Node) -> Iterable[_Node]:
    """What is one level inside `node`."""
    if isinstance(node, st.EitherStmt):
        return (stmt for branch in node.branches for stmt in branch)
    if isinstance(node, st.RepeatStmt):
        return node.body
    if isinstance(node, st.IfStmt):
        return (node.condition, *node.then, *node.orelse)
    if isinstance(node, st.NotCond):
        return (node.operand,)
    if isinstance(node, st.AndCond | st.OrCond):
        return (node.left, node.right)
    return ()
