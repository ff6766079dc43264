"""The page flags at the start (flow language 1.1, section 3, "The start").

A page with a declared mapping was faulted in before the protocol begins, so the kernel ran
set_pte_at / update_mmu_cache for it: the flag operations of the arch's `on user_map` hook
are applied once per such page, in page order, before the start (ARM sets PG_dcache_clean
there). Not for a page whose only declared mappings start `unfaulted`: its fault is still
to come, and its flags are as the allocator left them. The hook's cache operations are
not applied: the start's cache contents already range over every outcome. This walks a
lowered copy of the hook with the flags alone; an `either` in the hook, or a flag test on
an earlier outcome, can give several flag sets, each a start.
"""

from __future__ import annotations

from checker.machine.program import END, LCond, Node, PageInfo

Flags = frozenset[tuple[int, str]]


def hook_flag_outcomes(
    nodes: list[Node] | tuple[Node, ...],
    entry: int,
    start: Flags,
    pages: list[PageInfo] | tuple[PageInfo, ...],
    mapped: frozenset[int],
    faulted: frozenset[int],
) -> set[Flags]:
    """Every flag set one run of a lowered hook from `entry` can leave, starting from `start`
    (`mapped`: the pages with a live user mapping while it runs; `faulted`: those of them
    with a page-table entry)."""
    outcomes: set[Flags] = set()
    seen: set[tuple[int, Flags]] = set()
    stack = [(entry, start)]
    while stack:
        pc, flags = stack.pop()
        if (pc, flags) in seen:
            continue
        seen.add((pc, flags))
        if pc == END:
            outcomes.add(flags)
            continue
        node = nodes[pc]
        if node.kind == "set":
            flags = flags | {(node.page, node.flag)}
        elif node.kind == "clear":
            flags = flags - {(node.page, node.flag)}
        if node.kind == "test":
            holds = _holds(node.cond, flags, pages, mapped, faulted)
            stack.append((node.next[0] if holds else node.next[1], flags))
        else:
            stack.extend((after, flags) for after in node.next)
    return outcomes


def _holds(c: LCond | None, flags: Flags, pages, mapped: frozenset[int],
           faulted: frozenset[int]) -> bool:
    assert c is not None
    if c.op == "pred":
        page = pages[c.page]
        return {
            "anon": page.kind == "anon",
            "file": page.kind == "file",
            "highmem": page.highmem,
            "mapped": c.page in mapped,
            "faulted": c.page in faulted,
        }[c.pred]
    if c.op == "flag":
        return (c.page, c.flag) in flags
    if c.op == "not":
        return not _holds(c.left, flags, pages, mapped, faulted)
    left = _holds(c.left, flags, pages, mapped, faulted)
    if c.op == "and":
        return left and _holds(c.right, flags, pages, mapped, faulted)
    return left or _holds(c.right, flags, pages, mapped, faulted)
