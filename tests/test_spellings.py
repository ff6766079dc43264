"""The kernel's spellings (checker/front/spellings.py) and what an unknown kernel name says
(checker/front/kernel_names.py). The built-in library is used: the spellings rewrite into
generic.flow's functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from checker.errors import FlowError
from checker.front import model
from checker.front.kernel_names import UNMODELLED
from checker.front.load import check_protocol_on_arch, load_files

DECLS = "page p\npage q\nmapping u = user(p)"


def protocol_text(body: str, decls: str = DECLS) -> str:
    return f"protocol t {{\n{decls}\nthread a {{\n{body}\n}}\n}}\n"


def load(tmp_path: Path, body: str, decls: str = DECLS) -> model.Library:
    path = tmp_path / "t.flow"
    path.write_text(protocol_text(body, decls), encoding="utf-8")
    return load_files([str(path)]).library


def body_of(tmp_path: Path, body: str, decls: str = DECLS) -> tuple[model.Statement, ...]:
    return load(tmp_path, body, decls).protocols[0].threads[0].body


def error_of(tmp_path: Path, body: str, arch: str = "parisc", decls: str = DECLS) -> FlowError:
    with pytest.raises(FlowError) as caught:
        library = load(tmp_path, body, decls)
        check_protocol_on_arch(library.protocols[0], library.arches[arch], library)
    return caught.value


# ---------------------------------------------------------------------------------------------
# DMA directions


@pytest.mark.parametrize(
    ("call", "function"),
    [
        ("dma_map_page(p, DMA_TO_DEVICE)", "dma_map_page_to_device"),
        ("dma_map_page(p, DMA_FROM_DEVICE)", "dma_map_page_from_device"),
        ("dma_map_single(p, DMA_BIDIRECTIONAL)", "dma_map_page_bidirectional"),
        ("dma_unmap_page(p, DMA_FROM_DEVICE)", "dma_unmap_page_from_device"),
        ("dma_unmap_single(p, DMA_TO_DEVICE)", "dma_unmap_page_to_device"),
        ("dma_sync_single_for_cpu(p, DMA_BIDIRECTIONAL)", "dma_sync_single_for_cpu_bidirectional"),
        ("dma_sync_single_for_device(p, DMA_TO_DEVICE)", "dma_sync_single_for_device_to_device"),
        (
            "dma_sync_single_range_for_cpu(p, DMA_FROM_DEVICE)",
            "dma_sync_single_for_cpu_from_device",
        ),
        (
            "dma_sync_single_range_for_device(p, DMA_FROM_DEVICE)",
            "dma_sync_single_for_device_from_device",
        ),
    ],
)
def test_a_dma_direction_argument_calls_the_per_direction_function(tmp_path, call, function):
    (statement,) = body_of(tmp_path, call)
    assert isinstance(statement, model.Call)
    assert (statement.function, statement.args) == (function, (model.PageArg("p"),))
    assert statement.span.line == 6  # where the user wrote it, for traces and messages


def test_dma_none_and_unknown_directions_are_errors(tmp_path):
    error = error_of(tmp_path, "dma_map_page(p, DMA_NONE)")
    assert error.message.startswith("DMA_NONE is not a direction a buffer can be mapped")
    assert (error.span.line, error.span.col) == (6, 17)
    error = error_of(tmp_path, "dma_unmap_page(p, DMA_FROM_DEV)")
    assert error.message == (
        "the second argument of dma_unmap_page is a DMA direction: DMA_TO_DEVICE, "
        "DMA_FROM_DEVICE or DMA_BIDIRECTIONAL, not 'DMA_FROM_DEV' (did you mean "
        "'DMA_FROM_DEVICE'?)"
    )


def test_a_dma_call_takes_the_page_and_keeps_no_result(tmp_path):
    error = error_of(tmp_path, "k = kmap(p)\ndma_map_single(k, DMA_TO_DEVICE)")
    assert "takes the buffer's page here" in error.message and "'k' is a mapping" in error.message
    error = error_of(tmp_path, "d = dma_map_page(p, DMA_TO_DEVICE)")
    assert error.message.startswith("dma_map_page returns a DMA address")


def test_a_dma_call_without_its_direction_says_how_to_write_it(tmp_path):
    error = error_of(tmp_path, "dma_map_page(p)")
    assert error.message == (
        "'dma_map_page' takes a DMA direction here: dma_map_page(PAGE, DMA_TO_DEVICE), "
        "DMA_FROM_DEVICE or DMA_BIDIRECTIONAL"
    )


# ---------------------------------------------------------------------------------------------
# Copies


@pytest.mark.parametrize("call", ["memcpy(k, u)", "copy_from_user(k, u)", "copy_to_user(u, k)"])
def test_copies_written_as_calls_are_copy_statements(tmp_path, call):
    body = body_of(tmp_path, f"k = kmap(q)\n{call}")
    copy = body[1]
    assert isinstance(copy, model.Copy)
    dst, src = call[call.index("(") + 1 : -1].split(", ")
    assert (copy.dst, copy.src) == (dst, src)


def test_copy_calls_keep_the_copy_rules(tmp_path):
    decls = "page p\npage big words 2\nmapping u = user(p)\nmapping v = user(big)"
    error = error_of(tmp_path, "memcpy(u, v)", decls=decls)
    assert error.message.startswith("copy needs pages of the same size")
    error = error_of(tmp_path, "k = kmap(q)\nmemcpy(k, u, n)")
    assert error.message == (
        "memcpy takes two mappings: memcpy(DST, SRC) (the whole page is copied: there is no length)"
    )
    error = error_of(tmp_path, "k = kmap(q)\nx = memcpy(k, u)")
    assert error.message == "memcpy(DST, SRC) is a copy here: it has no result to keep"
    error = error_of(tmp_path, "memcpy(p, u)")
    assert error.message == "'p' is a page, but copy needs a mapping"


def test_copy_to_user_needs_a_user_mapping_on_its_user_side(tmp_path):
    error = error_of(tmp_path, "k = kmap(q)\nj = kmap(p)\ncopy_to_user(k, j)")
    assert error.message == (
        "the destination of copy_to_user is a user address: 'k' must be a user mapping "
        "(declared, or made by mmap)"
    )
    error = error_of(tmp_path, "k = kmap(q)\nj = kmap(p)\ncopy_from_user(k, j)")
    assert error.message.startswith("the source of copy_from_user is a user address: 'j'")
    (_, copy) = body_of(tmp_path, "m = mmap(q)\ncopy_to_user(m, u)")
    assert isinstance(copy, model.Copy)


def test_an_arch_fn_cannot_take_a_copy_call_name(tmp_path):
    path = tmp_path / "a.flow"
    path.write_text("arch mine { fn memcpy(m: mapping) { } }\n", encoding="utf-8")
    with pytest.raises(FlowError, match="an arch fn cannot be named 'memcpy': it is a statement"):
        load_files([str(path)], builtins=[])


# ---------------------------------------------------------------------------------------------
# kunmap(page)


def test_kunmap_of_a_page_ends_the_handle_kmap_returned(tmp_path):
    body = body_of(tmp_path, "k = kmap(p)\nwrite k[0]\nkunmap(p)")
    assert body[2] == model.Call("kunmap", (model.MappingArg("k"),), None, body[2].span)


def test_kunmap_of_a_page_after_a_kmap_whose_address_was_dropped(tmp_path):
    body = body_of(tmp_path, "kmap(p)\nkunmap(p)\nkmap(p)\nkunmap(p)")
    assert body[0].result == "kmap(p)"
    assert body[1].args == (model.MappingArg("kmap(p)"),)
    error = error_of(tmp_path, "kmap(p)\nkmap(p)")
    assert error.message == (
        "kmap(p) is live already, and its address was dropped: keep each handle "
        "('k = kmap(p)') to tell them apart"
    )


def test_kunmap_of_a_page_follows_the_handle_through_branches_and_rebinding(tmp_path):
    body = body_of(tmp_path, "either { k = kmap(p) } or { k = kmap(p) }\nkunmap(p)")
    assert body[1].args == (model.MappingArg("k"),)
    body = body_of(tmp_path, "k = kmap(p)\nk = kmap(q)\nj = kmap(p)\nkunmap(p)\nkunmap(q)")
    assert [s.args for s in body[3:]] == [(model.MappingArg("j"),), (model.MappingArg("k"),)]


def test_kunmap_of_a_page_is_ambiguous_with_two_live_handles(tmp_path):
    error = error_of(tmp_path, "k = kmap(p)\nj = kmap(p)\nkunmap(p)")
    assert error.message == (
        "kunmap(p) is ambiguous: 'k', 'j' each hold a live kmap(p); write kunmap of the one to end"
    )
    body = body_of(tmp_path, "k = kmap(p)\nj = kmap(p)\nkunmap(j)\nkunmap(p)")
    assert body[3].args == (model.MappingArg("k"),)


def test_kunmap_of_a_page_with_no_live_handle_says_why(tmp_path):
    error = error_of(tmp_path, "k = kmap(p)\nkunmap(p)\nkunmap(p)")
    assert (error.span.line, error.message) == (
        8,
        "kunmap expects a mapping as argument 1, but 'p' is a page: kunmap(p) ends the handle "
        "that kmap(p) returned, and none is live here",
    )
    error = error_of(tmp_path, "kunmap(p)")
    assert error.message.endswith("and none is live here")


def test_kunmap_of_a_page_then_a_use_is_use_after_unmap(tmp_path):
    from checker.check import check

    library = load(tmp_path, "k = kmap(p)\nkunmap(p)\nwrite k[0]")
    result = check(library.protocols[0], library.arches["x86"])
    assert result.kinds == {"use_after_unmap"}


def test_kunmap_of_a_page_in_an_arch_function(tmp_path):
    path = tmp_path / "a.flow"
    path.write_text(
        "arch mine extends generic {\n"
        "    fn touch(p: page) { kmap(p); k = page_address(p); write k[0]; kunmap(p) }\n"
        "}\n",
        encoding="utf-8",
    )
    body = load_files([str(path)]).library.arches["mine"].functions["touch"].body
    assert body[3].args == (model.MappingArg("kmap(p)"),)


# ---------------------------------------------------------------------------------------------
# Unknown names


def test_an_unmodelled_kernel_function_says_so_and_names_its_family(tmp_path):
    error = error_of(tmp_path, "flush_cache_mm(p)")
    assert error.message == (
        "'flush_cache_mm' is a kernel function that flowcheck does not model; nearest "
        "modelled in its family: flush_cache_range, flush_cache_page"
    )
    error = error_of(tmp_path, "flush_icache_range(p)")
    assert error.message == (
        "'flush_icache_range' is a kernel function that flowcheck does not model "
        "(flowcheck models data caches only)"
    )


def test_a_typo_is_compared_with_its_family_first(tmp_path):
    error = error_of(tmp_path, "flush_dcache_pages(p)")
    assert error.message == (
        "unknown function 'flush_dcache_pages' on arch 'parisc' (did you mean 'flush_dcache_page'?)"
    )
    error = error_of(tmp_path, "kunmap_locale(p)")
    assert error.message.endswith("(did you mean 'kunmap_local'?)")


def test_every_nearest_function_named_is_modelled(tmp_path):
    library = load(tmp_path, "")
    generic = library.arches["generic"].functions
    from checker.front.kernel_names import DIRECTION_CALLS

    for name, (nearest, _) in UNMODELLED.items():
        assert name not in generic, name
        for other in nearest:
            assert other in generic or other in DIRECTION_CALLS, (name, other)
