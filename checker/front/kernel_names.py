"""Kernel function names flowcheck does not model, and what to say when a protocol calls one.

A call of a name the arch does not have is either a typo or a real kernel function that the
library leaves out. For the second, the message says so and names the modelled functions of
the same family that come nearest (chosen by what they do, not by spelling: flush_cache_mm
flushes a whole address space, so flush_cache_range is nearer than flush_cache_vmap). Every
name below is the kernel's own (include/linux/highmem.h, include/linux/dma-mapping.h,
include/linux/mm.h, include/linux/vmalloc.h, Documentation/core-api/cachetlb.rst).
"""

from __future__ import annotations

from collections.abc import Collection

from checker.front.suggest import suggest

# Name -> (the modelled functions nearest to it, why it is not modelled / how to write it).
UNMODELLED: dict[str, tuple[tuple[str, ...], str]] = {
    # Cache flushing (Documentation/core-api/cachetlb.rst). A protocol has one address space:
    # "the whole mm" is the user mappings of the pages it declares.
    "flush_cache_all": (("flush_cache_range", "flush_cache_page"), ""),
    "flush_cache_mm": (("flush_cache_range", "flush_cache_page"), ""),
    "flush_cache_dup_mm": (("flush_cache_range", "flush_cache_page"), ""),
    "flush_cache_kmaps": ((), "the pool of kmap slots is not modelled"),
    "flush_dcache_mmap_lock": ((), "it takes a lock and does no cache work"),
    "flush_dcache_mmap_unlock": ((), "it takes a lock and does no cache work"),
    "flush_icache_range": ((), "flowcheck models data caches only"),
    "flush_icache_page": ((), "flowcheck models data caches only"),
    "flush_tlb_all": ((), "TLB maintenance happens inside the arch's functions (purge_tlb)"),
    "flush_tlb_mm": ((), "TLB maintenance happens inside the arch's functions (purge_tlb)"),
    "flush_tlb_range": ((), "TLB maintenance happens inside the arch's functions (purge_tlb)"),
    "flush_tlb_page": ((), "TLB maintenance happens inside the arch's functions (purge_tlb)"),
    "flush_tlb_kernel_range": ((), "TLB maintenance happens inside the arch's functions"),
    "update_mmu_cache": ((), "it runs as the arch's `on user_map` hook after mmap"),
    "update_mmu_cache_range": ((), "it runs as the arch's `on user_map` hook after mmap"),
    # Kernel mappings of a page (include/linux/highmem.h).
    "kmap_local_folio": (("kmap_local_page",), "a folio is one page here"),
    "kmap_to_page": ((), "a mapping already knows its page"),
    "kmap_high": (("kmap",), "kmap calls it for a highmem page"),
    "kunmap_high": (("kunmap",), "kunmap calls it for a highmem page"),
    "kmap_flush_unused": ((), "the pool of kmap slots is not modelled"),
    # Page copies and clears (include/linux/highmem.h); memcpy, copy_to_user and
    # copy_from_user are statements (docs/language.md, section 5).
    "copy_highpage": (("copy_user_highpage",), ""),
    "copy_user_page": (("copy_user_highpage",), "copy_user_highpage calls it"),
    "clear_page": (("clear_user_highpage", "memzero_page"), ""),
    "clear_user_page": (("clear_user_highpage",), "clear_user_highpage calls it"),
    "clear_highpage": (("clear_user_highpage", "memzero_page"), ""),
    "memcpy_page": (("memcpy_to_page", "memcpy_from_page"), ""),
    "memset_page": (("memzero_page",), ""),
    "memmove_page": (("memcpy_to_page", "memcpy_from_page"), ""),
    "zero_user": (("memzero_page",), ""),
    "zero_user_segment": (("memzero_page",), ""),
    "zero_user_segments": (("memzero_page",), ""),
    # get_user_pages and friends (mm/gup.c, include/linux/mm.h).
    "get_user_pages_remote": (("get_user_pages",), ""),
    "get_user_pages_unlocked": (("get_user_pages",), ""),
    "pin_user_pages_remote": (("pin_user_pages",), ""),
    "pin_user_pages_unlocked": (("pin_user_pages",), ""),
    "unpin_user_pages": (("unpin_user_page",), "one page here"),
    "unpin_user_page_range_dirty_lock": (("unpin_user_pages_dirty_lock",), ""),
    "get_page": (("put_page",), "a reference count does no cache work"),
    "folio_put": (("put_page",), ""),
    "folio_mark_dirty": (("set_page_dirty",), ""),
    # vmap (include/linux/vmalloc.h).
    "vm_map_ram": (("vmap",), ""),
    "vm_unmap_ram": (("vunmap",), ""),
    "vmap_pfn": (("vmap",), ""),
    "vmalloc": (("vmap",), ""),
    "vfree": (("vunmap",), ""),
    # The DMA API (include/linux/dma-mapping.h): streaming mappings of one page are modelled.
    "dma_map_sg": (("dma_map_page",), "one page: dma_map_page(p, DIRECTION)"),
    "dma_unmap_sg": (("dma_unmap_page",), "one page: dma_unmap_page(p, DIRECTION)"),
    "dma_sync_sg_for_cpu": (("dma_sync_single_for_cpu",), ""),
    "dma_sync_sg_for_device": (("dma_sync_single_for_device",), ""),
    "dma_map_page_attrs": (("dma_map_page",), "attributes are not modelled"),
    "dma_unmap_page_attrs": (("dma_unmap_page",), "attributes are not modelled"),
    "dma_map_single_attrs": (("dma_map_single",), "attributes are not modelled"),
    "dma_unmap_single_attrs": (("dma_unmap_single",), "attributes are not modelled"),
    "dma_alloc_coherent": ((), "coherent DMA memory needs no cache maintenance"),
    "dma_free_coherent": ((), "coherent DMA memory needs no cache maintenance"),
}

# Families of the kernel's cache API, by name prefix: an unknown name in one is compared with
# the modelled names of that family only.
FAMILIES: tuple[tuple[str, ...], ...] = (
    ("flush_cache_",),
    ("flush_dcache_", "flush_kernel_dcache_", "flush_anon_"),
    ("kmap", "kunmap", "page_address"),
    ("dma_",),
    ("copy_", "memcpy", "memzero", "memset", "clear_"),
    ("get_user_pages", "pin_user_pages", "unpin_user_page", "put_page", "set_page_dirty"),
    ("vmap", "vunmap", "flush_kernel_vmap", "invalidate_kernel_vmap", "flush_cache_vmap"),
)

# The kernel's spellings that take a DMA direction (spellings.py), shown when they are called
# without one.
DIRECTION_CALLS = (
    "dma_map_page",
    "dma_unmap_page",
    "dma_map_single",
    "dma_unmap_single",
    "dma_sync_single_for_cpu",
    "dma_sync_single_for_device",
    "dma_sync_single_range_for_cpu",
    "dma_sync_single_range_for_device",
)


def unknown_function(name: str, arch: str, modelled: Collection[str]) -> str:
    """The message for a call of `name`, which arch `arch` (with functions `modelled`) lacks."""
    if name in DIRECTION_CALLS:
        return (
            f"'{name}' takes a DMA direction here: {name}(PAGE, DMA_TO_DEVICE), "
            "DMA_FROM_DEVICE or DMA_BIDIRECTIONAL"
        )
    if name in UNMODELLED:
        nearest, why = UNMODELLED[name]
        present = [n for n in nearest if n in modelled or n in DIRECTION_CALLS]
        message = f"'{name}' is a kernel function that flowcheck does not model"
        if why:
            message += f" ({why})"
        if present:
            message += f"; nearest modelled in its family: {', '.join(present)}"
        return message
    return f"unknown function '{name}' on arch '{arch}'{_hint(name, modelled)}"


def _hint(name: str, modelled: Collection[str]) -> str:
    """` (did you mean 'x'?)` with x the closest modelled name of the same family when the
    name is in one, else the closest of all."""
    family = next((f for f in FAMILIES if name.startswith(f)), None)
    candidates = sorted(modelled)
    if family is not None:
        candidates = [n for n in candidates if n.startswith(family)] or candidates
    return suggest(name, candidates)
