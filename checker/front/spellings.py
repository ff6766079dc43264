"""The kernel's own spellings, rewritten into the language's forms before a call is resolved.

Kernel code passes a DMA direction as an argument, copies with memcpy, copy_to_user and
copy_from_user, and ends a kmap with kunmap(page). Each becomes what the language already has
(a per-direction function of generic.flow, a `copy`, kunmap of the handle), so every arch model
works unchanged; the statement keeps its span, so traces quote what the user wrote.
docs/language.md, section 5.
"""

from __future__ import annotations

from typing import Protocol

from checker.errors import FlowError
from checker.front import syntax as st
from checker.front.kernel_names import DIRECTION_CALLS
from checker.front.suggest import suggest

# include/linux/dma-direction.h: enum dma_data_direction, as the suffix of the per-direction
# functions of generic.flow. DMA_NONE is refused, as the kernel's valid_dma_direction does.
DIRECTIONS = {
    "DMA_BIDIRECTIONAL": "bidirectional",
    "DMA_TO_DEVICE": "to_device",
    "DMA_FROM_DEVICE": "from_device",
}
# The kernel's call -> the per-direction function family that does its cache work.
# dma_map_single(ptr) is dma_map_page(virt_to_page(ptr)) in include/linux/dma-mapping.h, and
# the _range_ syncs do what the whole-buffer ones do over part of it (one page here).
_DMA_FAMILY = {
    "dma_map_page": "dma_map_page",
    "dma_map_single": "dma_map_page",
    "dma_unmap_page": "dma_unmap_page",
    "dma_unmap_single": "dma_unmap_page",
    "dma_sync_single_for_cpu": "dma_sync_single_for_cpu",
    "dma_sync_single_range_for_cpu": "dma_sync_single_for_cpu",
    "dma_sync_single_for_device": "dma_sync_single_for_device",
    "dma_sync_single_range_for_device": "dma_sync_single_for_device",
}
assert set(_DMA_FAMILY) == set(DIRECTION_CALLS)

# Copies written as calls: name -> which argument must be a user mapping (None: neither).
COPY_CALLS = {"memcpy": None, "copy_to_user": 0, "copy_from_user": 1}


class Scope(Protocol):
    """What a rewrite needs to know about the names at the call."""

    def is_page(self, name: str) -> bool: ...

    def is_mapping(self, name: str) -> bool: ...

    def is_user_mapping(self, name: str) -> bool | None:
        """Whether a mapping is a user mapping; None when it cannot be known here."""
        ...

    def kmap_handles(self, page: str) -> list[str]:
        """The variables holding a live handle that kmap(page) returned, in binding order."""
        ...


def respell(stmt: st.CallStmt, scope: Scope) -> st.CallStmt | st.CopyStmt:
    """The statement a kernel spelling stands for; `stmt` itself when it is none."""
    name = stmt.function.text
    if name in _DMA_FAMILY and len(stmt.args) == 2:
        return _dma(stmt, scope)
    if name in COPY_CALLS:
        return _copy(stmt, scope)
    if name == "kunmap" and len(stmt.args) == 1 and scope.is_page(stmt.args[0].text):
        return _kunmap_page(stmt, scope)
    return stmt


def _dma(stmt: st.CallStmt, scope: Scope) -> st.CallStmt:
    """`dma_map_page(p, DMA_TO_DEVICE)` -> `dma_map_page_to_device(p)`."""
    name = stmt.function.text
    page, direction = stmt.args
    if direction.text == "DMA_NONE":
        raise FlowError(
            direction.span,
            "DMA_NONE is not a direction a buffer can be mapped or synced in "
            "(the kernel refuses it): use DMA_TO_DEVICE, DMA_FROM_DEVICE or DMA_BIDIRECTIONAL",
        )
    if direction.text not in DIRECTIONS:
        raise FlowError(
            direction.span,
            f"the second argument of {name} is a DMA direction: DMA_TO_DEVICE, "
            f"DMA_FROM_DEVICE or DMA_BIDIRECTIONAL, not '{direction.text}'"
            + suggest(direction.text, set(DIRECTIONS)),
        )
    if scope.is_mapping(page.text) and not scope.is_page(page.text):
        raise FlowError(
            page.span,
            f"{name} takes the buffer's page here (the kernel's DMA address stands for it), "
            f"but '{page.text}' is a mapping",
        )
    if stmt.result is not None:
        raise FlowError(
            stmt.span,
            f"{name} returns a DMA address, which flowcheck does not model: "
            "call it without keeping its result",
        )
    function = f"{_DMA_FAMILY[name]}_{DIRECTIONS[direction.text]}"
    return st.CallStmt(st.Name(function, stmt.function.span), (page,), None, stmt.span)


def _copy(stmt: st.CallStmt, scope: Scope) -> st.CopyStmt:
    """`memcpy(dst, src)`, `copy_to_user(dst, src)`, `copy_from_user(dst, src)` -> `copy`."""
    name = stmt.function.text
    if len(stmt.args) != 2:
        extra = " (the whole page is copied: there is no length)" if len(stmt.args) == 3 else ""
        raise FlowError(stmt.span, f"{name} takes two mappings: {name}(DST, SRC){extra}")
    if stmt.result is not None:
        raise FlowError(stmt.span, f"{name}(DST, SRC) is a copy here: it has no result to keep")
    user = COPY_CALLS[name]
    if user is not None:
        arg = stmt.args[user]
        if scope.is_user_mapping(arg.text) is False:
            side = "destination" if user == 0 else "source"
            raise FlowError(
                arg.span,
                f"the {side} of {name} is a user address: '{arg.text}' must be a user "
                "mapping (declared, or made by mmap)",
            )
    dst, src = stmt.args
    return st.CopyStmt(dst, src, stmt.span)


def _kunmap_page(stmt: st.CallStmt, scope: Scope) -> st.CallStmt:
    """`kunmap(p)` -> `kunmap(k)`, k the one live handle kmap(p) returned. With none, the
    call is left as written (an arch may take the page); with several, it is ambiguous."""
    page = stmt.args[0]
    handles = scope.kmap_handles(page.text)
    if not handles:
        return stmt
    if len(handles) > 1:
        names = ", ".join(f"'{h}'" for h in handles)
        raise FlowError(
            page.span,
            f"kunmap({page.text}) is ambiguous: {names} each hold a live kmap({page.text}); "
            f"write kunmap of the one to end",
        )
    return st.CallStmt(stmt.function, (st.Name(handles[0], page.span),), stmt.result, stmt.span)
