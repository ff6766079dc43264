"""Resolution: syntax -> model, inheritance, defaults, late call checks and every restriction.

The arches here are written inline, so these tests do not depend on the built-in library.
"""

from __future__ import annotations

import pytest

from checker.errors import FlowError
from checker.front import model
from checker.front.load import check_protocol_on_arch
from checker.front.parser import parse
from checker.front.resolve import resolve
from checker.front.source import SourceText, Span

ARCHES = """\
arch base {
    doc "the base"
    fn kmap(p: page) -> mapping {
        if highmem(p) { return map p colour any }
        return map p colour linear
    }
    fn kunmap(m: mapping) { unmap m }
    fn flush_dcache_page(p: page) { }
    fn copy_page(p: page) {
        m = kmap(p)
        flush_dcache_page(p)
        kunmap(m)
    }
    fn same(m: mapping) -> mapping { return m }
    fn wrapped(p: page) -> mapping { return kmap(p) }
    fn two(p: page, q: page) -> mapping {
        if anon(p) { return map p }
        return map q
    }
}
arch child extends base {
    cache L1 vipt colours 4
    cache L2 pipt write_through
    speculative_fill
    fn flush_dcache_page(p: page) { flush kernel(p) cost 8 }
    on user_map(p: page) { flush user(p) }
}
arch grandchild extends child {
    cache L1 vivt
    dma_coherent no
}
"""


def load(text: str, arches: str = ARCHES) -> model.Library:
    files = [parse(SourceText("arches.flow", arches)), parse(SourceText("t.flow", text))]
    return resolve(files)


def error_of(text: str, arches: str = ARCHES) -> FlowError:
    with pytest.raises(FlowError) as caught:
        load(text, arches)
    return caught.value


def late_error_of(text: str, arch: str = "child", arches: str = ARCHES) -> FlowError:
    library = load(text, arches)
    with pytest.raises(FlowError) as caught:
        for protocol in library.protocols:
            check_protocol_on_arch(protocol, library.arches[arch], library)
    return caught.value


def check_all(library: model.Library) -> None:
    for protocol in library.protocols:
        for arch in library.arches.values():
            check_protocol_on_arch(protocol, arch, library)


def protocol(body: str, decls: str = "page a\npage big words 4\nmapping u = user(a)") -> str:
    return f"protocol p {{\n{decls}\nthread t {{\n{body}\n}}\n}}\n"


# ---------------------------------------------------------------------------------------------
# Arches


def test_inheritance_replaces_cache_list_and_overrides_one_by_one():
    arches = load("").arches
    base, child, grand = arches["base"], arches["child"], arches["grandchild"]
    assert [lv.name for lv in child.levels] == ["L1", "L2"]
    assert [(lv.name, lv.indexing) for lv in grand.levels] == [("L1", "vivt")]
    assert grand.speculative_fill == "yes" and child.speculative_fill == "yes"
    assert base.speculative_fill == "no"
    assert grand.dma_coherent is False and child.dma_coherent is True
    assert grand.doc == "the base"
    assert grand.functions["flush_dcache_page"].arch == "child"
    assert grand.functions["kmap"].arch == "base"
    assert grand.hooks["user_map"].arch == "child"
    assert (grand.parent, child.parent, base.parent) == ("child", "base", None)
    assert not grand.builtin


def test_arch_without_parent_has_defaults():
    arch = load("arch lone { }").arches["lone"]
    assert arch.levels == () and arch.functions == {} and arch.hooks == {}
    assert arch.speculative_fill == "no" and arch.dma_coherent is True and arch.doc == ""


def test_cache_level_defaults_and_options():
    child = load("").arches["child"]
    l1, l2 = child.levels
    assert (l1.colours, l1.write_back, l1.line_words, l1.victim_fill) == (4, True, 1, False)
    assert (l2.colours, l2.write_back) == (1, False)
    arch = load("arch v { cache L1 vipt colours 2 line_words 2\ncache L2 pipt line_words 2 "
                "victim_fill }").arches["v"]  # fmt: skip
    assert [lv.line_words for lv in arch.levels] == [2, 2]
    assert arch.levels[1].victim_fill


def test_builtin_flag_follows_the_path():
    files = [parse(SourceText("<builtin>/generic.flow", "arch generic { }")),
             parse(SourceText("mine.flow", "arch mine extends generic { }"))]  # fmt: skip
    library = resolve(files)
    assert library.arches["generic"].builtin and not library.arches["mine"].builtin
    assert library.user_arches == ("mine",)


def test_functions_in_the_model():
    kmap = load("").arches["base"].functions["kmap"]
    assert kmap.params == (model.Param("p", "page"),) and kmap.returns_mapping
    first, second = kmap.body
    assert first.condition == model.PagePredicate("highmem", "p")
    (ret,) = first.then
    assert ret == model.Return(model.MapOp("p", "any", None, ret.value.span), ret.span)
    assert ret.value.span == Span("arches.flow", 4, 32)
    assert second.value.colour == "linear"
    copy = load("").arches["base"].functions["copy_page"]
    assert copy.body[0] == model.Call("kmap", (model.PageArg("p"),), "m", copy.body[0].span)
    assert copy.body[2].args == (model.MappingArg("m"),)
    flush = load("").arches["child"].functions["flush_dcache_page"]
    assert flush.body[0] == model.Maintenance(
        "flush", model.AliasSet("kernel", "p"), 8, flush.body[0].span
    )


# ---------------------------------------------------------------------------------------------
# Protocols


def test_protocol_model():
    library = load(
        'protocol p {\n doc "d"\n page a file highmem words 2\n page b\n'
        " mapping u = user(a) colour 3\n mapping v = user(b) color any\n"
        " thread t { k = kmap(a); write k[1]; read u; copy u <- k; x = mmap(b); munmap(x) }\n"
        " device d { dma_write a[1]; signal e }\n thread w { wait e; either { } or { lock l } }\n"
        "}"
    )
    (p,) = library.protocols
    assert p.doc == "d"
    assert p.pages[0] == model.Page("a", "file", True, 2, p.pages[0].span)
    assert p.pages[1].kind == "anon" and p.pages[1].words == 1 and not p.pages[1].highmem
    assert [(m.name, m.page, m.colour) for m in p.mappings] == [("u", "a", 3), ("v", "b", None)]
    t, d, w = p.threads
    assert [type(s).__name__ for s in t.body] == [
        "Call", "Access", "Access", "Copy", "Mmap", "Munmap",
    ]  # fmt: skip
    assert t.body[1].index == 1 and t.body[2].index == 0
    assert t.body[4] == model.Mmap("x", "b", t.body[4].span)
    assert d.is_device and d.body[0] == model.DmaAccess("write", "a", 1, d.body[0].span)
    assert isinstance(w.body[1], model.Either) and len(w.body[1].branches) == 2
    check_all(library)


def test_expects_are_split_per_arch():
    (p,) = load(
        "protocol p {\n expect stale_read, lost_write on base, child\n expect safe on grandchild\n}"
    ).protocols
    assert [(e.arch, sorted(e.kinds)) for e in p.expects] == [
        ("base", ["lost_write", "stale_read"]),
        ("child", ["lost_write", "stale_read"]),
        ("grandchild", []),
    ]
    assert p.expects[1].span == Span("t.flow", 2, 41)
    assert p.expected_on("child") == {"stale_read", "lost_write"}
    assert p.expected_on("base") == p.expected_on("child")


def test_a_protocol_may_use_an_arch_from_another_file():
    files = [parse(SourceText("p.flow", "protocol p { expect safe on far }")),
             parse(SourceText("a.flow", "arch far { }"))]  # fmt: skip
    assert resolve(files).protocols[0].expects[0].arch == "far"


def test_variables_are_bound_from_the_statement_on_and_may_be_rebound():
    library = load(protocol("k = kmap(a)\nwrite k\nk = kmap(big)\nwrite k[3]"))
    check_all(library)


def test_either_binds_only_what_every_branch_binds():
    body = "either { k = kmap(a) } or { k = kmap(big) }\nwrite k[0]"
    check_all(load(protocol(body)))
    error = error_of(protocol("either { k = kmap(a) } or { }\nwrite k"))
    assert error.message == "mapping 'k' is not bound on every path to here"


def test_repeat_body_binds_for_what_follows():
    check_all(load(protocol("repeat 2 { k = kmap(a) }\nkunmap(k)")))


# ---------------------------------------------------------------------------------------------
# Page inference through calls (check_protocol_on_arch)


@pytest.mark.parametrize(
    "body",
    [
        "k = kmap(big)\nwrite k[3]",
        "k = wrapped(big)\nread k[3]",
        "k = kmap(big)\nj = same(k)\nread j[3]",
        "k = two(big, big)\nread k[3]",
        "two(a, big)",
        "copy u <- u",
        "k = kmap(a)\ncopy u <- k",
        "dma_read big[3]",
    ],
)
def test_page_inference_accepts(body):
    check_all(load(protocol(body)))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("k = kmap(a)\nwrite k[1]", "word index 1 is outside page 'a' (1 word)"),
        ("k = wrapped(a)\nread k[2]", "word index 2 is outside page 'a' (1 word)"),
        ("k = kmap(a)\nj = same(k)\nread j[4]", "word index 4 is outside page 'a' (1 word)"),
        ("k = kmap(big)\ncopy u <- k",
         "copy needs pages of the same size, but 'a' has 1 word and 'big' has 4 words"),
        ("k = two(a, big)", "'two' returns mappings of different pages ('a', 'big')"),
    ],
)  # fmt: skip
def test_page_inference_errors(body, message):
    assert late_error_of(protocol(body)).message == message


def test_index_errors_known_statically():
    assert error_of(protocol("write u[1]")).message == "word index 1 is outside page 'a' (1 word)"
    assert error_of(protocol("dma_write big[4]")).message == (
        "word index 4 is outside page 'big' (4 words)"
    )
    assert error_of(protocol("x = mmap(a)\nread x[1]")).span == Span("t.flow", 7, 8)
    error = error_of(protocol("x = mmap(big)\ncopy u <- x"))
    assert "same size" in error.message


def test_page_inference_ignores_branches_that_returned():
    arches = ARCHES + (
        "arch early extends base {\n fn f(p: page, q: page) -> mapping {\n"
        "  m = map p\n  if anon(q) { m = map q; unmap m; return map p }\n  read m[3]\n  return m\n"
        " }\n}"
    )
    library = load(protocol("k = f(big, a)\nread k[3]"), arches)
    check_protocol_on_arch(library.protocols[0], library.arches["early"], library)
    error = late_error_of(protocol("k = f(a, big)"), "early", arches)
    assert error.message == "word index 3 is outside page 'a' (1 word)"


def test_index_inside_an_arch_function_is_checked_per_call():
    arches = ARCHES + "arch deep extends base { fn touch(p: page) { m = kmap(p); read m[2] } }"
    library = load(protocol("touch(big)"), arches=arches)
    check_protocol_on_arch(library.protocols[0], library.arches["deep"], library)
    error = late_error_of(protocol("touch(a)"), arch="deep", arches=arches)
    assert error.message == "word index 2 is outside page 'a' (1 word)"
    assert error.span == Span("arches.flow", 32, 59)  # the `read`
    assert error.notes == ("reached from t.flow:6:1 through touch",)


# ---------------------------------------------------------------------------------------------
# Late call checks


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("k = kmapp(a)", "unknown function 'kmapp' on arch 'child' (did you mean 'kmap'?)"),
        ("zzz(a)", "unknown function 'zzz' on arch 'child'"),
        ("kmap(a, a)", "'kmap' takes 1 argument, but 2 are given (fn kmap(p: page) -> mapping)"),
        (
            "kunmap(a)",
            "kunmap expects a mapping as argument 1, but 'a' is a page: kunmap(a) ends the "
            "handle that kmap(a) returned, and none is live here",
        ),
        ("kmap(u)", "kmap expects a page as argument 1, but 'u' is a mapping"),
        ("x = kunmap(u)", "'kunmap' does not return a mapping"),
    ],
)
def test_call_errors(body, message):
    assert late_error_of(protocol(body)).message == message


def test_calls_are_dispatched_on_the_arch_being_checked():
    arches = ARCHES + "arch broken { fn copy_page(p: page) { flush_dcach_page(p) } }"
    error = late_error_of(protocol("copy_page(a)"), arch="broken", arches=arches)
    assert error.message == "unknown function 'flush_dcach_page' on arch 'broken'"
    assert error.notes == ("reached from t.flow:6:1 through copy_page",)
    check_all(load(protocol("copy_page(a)")))  # base's copy_page calls child's flush


def test_recursion_is_an_error():
    arches = ARCHES + (
        "arch loop extends base {\n fn a(p: page) { b(p) }\n fn b(p: page) { a(p) }\n"
        " fn self(p: page) { self(p) }\n on user_map(p: page) { u = mmap(p) }\n}"
    )
    assert late_error_of(protocol("a(a)"), "loop", arches).message == "recursive call: a -> b -> a"
    error = late_error_of(protocol("self(a)"), "loop", arches)
    assert error.message == "recursive call: self -> self"
    error = late_error_of(protocol("x = mmap(a)"), "loop", arches)
    assert error.message == "recursive call: on user_map -> on user_map"


def warnings_of(text: str, arch: str = "child", arches: str = ARCHES) -> list[str]:
    library = load(text, arches)
    return [
        str(warning.span) + ": " + warning.message + "".join(f" [{n}]" for n in warning.notes)
        for protocol in library.protocols
        for warning in check_protocol_on_arch(protocol, library.arches[arch], library)
    ]


def test_a_wait_nothing_signals_is_a_warning_not_an_error():
    assert warnings_of(protocol("wait e")) == [
        "t.flow:6:1: nothing signals 'e': this wait blocks forever, a deadlock once it is reached"
    ]
    assert warnings_of(protocol("signal ready\nwait redy"))[0].startswith(
        "t.flow:7:1: nothing signals 'redy' (did you mean 'ready'?)"
    )
    assert warnings_of(protocol("signal e\nwait e")) == []


def test_a_wait_in_an_arch_function_needs_a_signal_somewhere():
    arches = ARCHES + "arch w extends base { fn sleep(p: page) { wait woken } }"
    assert warnings_of(protocol("sleep(a)"), "w", arches) == [
        "arches.flow:32:43: nothing signals 'woken': this wait blocks forever, a deadlock once "
        "it is reached [reached from t.flow:6:1 through sleep]"
    ]
    assert warnings_of(protocol("sleep(a)\nsignal woken"), "w", arches) == []


def test_a_colour_beyond_the_count_wraps_with_a_warning():
    decls = "page a\nmapping u = user(a) colour 5"
    assert warnings_of(protocol("read u", decls), "child") == [
        "t.flow:3:1: colour 5 is colour 1 on arch 'child' (L1 has 4 colours)"
    ]
    assert warnings_of(protocol("read u", "page a\nmapping u = user(a) colour 3")) == []
    assert warnings_of(protocol("read u", decls), "base") == []  # no VIPT level: no colours
    arches = (
        ARCHES + "arch c extends child { fn odd(p: page) -> mapping { return map p colour 6 } }"
    )
    assert warnings_of(protocol("k = odd(a)"), "c", arches) == [
        "arches.flow:32:60: colour 6 is colour 2 on arch 'c' (L1 has 4 colours) "
        "[reached from t.flow:6:1 through odd]"
    ]


def test_return_of_a_call_needs_a_mapping():
    arches = ARCHES + "arch r extends base { fn bad(p: page) -> mapping { return kunmap(p) } }"
    error = late_error_of(protocol("bad(a)"), "r", arches)
    assert error.message.startswith("kunmap expects a mapping as argument 1, but 'p' is a page")
    arches = ARCHES + "arch r extends base { fn bad(m: mapping) -> mapping { return kunmap(m) } }"
    error = late_error_of(protocol("bad(u)"), "r", arches)
    assert error.message == "'kunmap' does not return a mapping, so 'bad' cannot return its result"


# ---------------------------------------------------------------------------------------------
# Restrictions and name errors (each a located FlowError)


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        ("cache L1 vipt colours 0", "a colour count must be between 1 and 1024"),
        ("cache L1 pipt line_words 0", "line_words must be between 1 and 1024"),
        ("cache L1 pipt line_words 2\ncache L2 pipt",
         "every level has the same line_words: L2 has 1, L1 has 2"),
        ("cache L1 pipt\ncache L2 vivt",
         "a vivt level cannot be outside a pipt level (levels go vivt, then vipt, then pipt, "
         "from the CPU outward)"),
        ("cache L1 pipt\ncache L2 vipt colours 2",
         "a vipt level cannot be outside a pipt level (levels go vivt, then vipt, then pipt, "
         "from the CPU outward)"),
        ("cache L1 vipt colours 4\ncache L2 vipt colours 3",
         "L2 has 3 colours, which does not divide the 4 colours of L1 inside it"),
        ("cache L1 pipt victim_fill",
         "victim_fill needs a level inside this one: the first level cannot have it"),
        ("cache L1 pipt\ncache L1 pipt", "cache level 'L1' is already defined at t.flow:2:1"),
        ("cache L1 pipt colours 2", "colours applies only to a vipt level"),
        ("cache L1 pipt write_back write_through",
         "a level is write_back or write_through, not both"),
        ("cache L1 pipt victim_fill victim_fill", "'victim_fill' is given twice"),
        ("cache L1 pitp", "unknown indexing 'pitp': expected pipt, vipt or vivt"),
        ("dma_coherent tlb", "dma_coherent is yes or no"),
        ("dma_coherent no\ndma_coherent yes",
         "dma_coherent is already given in this arch at t.flow:2:1"),
        ("doc \"a\"\ndoc \"b\"", "doc is already given in this arch at t.flow:2:1"),
        ("fn f() { }\nfn f() { }", "fn 'f' is already given in this arch at t.flow:2:1"),
        ("on user_mapp(p: page) { }",
         "unknown hook 'user_mapp': the hooks are user_map and user_unmap (did you mean "
         "'user_map'?)"),
        ("on user_map(m: mapping) { }", "hook 'user_map' takes one page: on user_map(p: page)"),
        ("on user_map(p: page, q: page) { }",
         "hook 'user_map' takes one page: on user_map(p: page)"),
        ("fn f(p: page, p: mapping) { }", "parameter 'p' is given twice"),
        ("fn mmap(p: page) { }", "an arch fn cannot be named 'mmap': it is a statement"),
        ("fn f(p: page) -> mapping { }", "fn 'f' can reach its end without returning a mapping"),
        ("fn f(p: page) -> mapping { if anon(p) { return map p } }",
         "fn 'f' can reach its end without returning a mapping"),
        ("fn f(p: page) -> mapping { return }", "fn 'f' returns a mapping: 'return' needs one"),
        ("fn f(p: page) { return map p }",
         "fn 'f' has no '-> mapping', so its 'return' takes no value"),
        ("fn f(p: page) { return; flush kernel(p) }",
         "this statement is never reached: a 'return' is before it"),
        ("fn f(m: mapping) { m = map m }", "'m' is a mapping, but map needs a page"),
        ("fn f(m: mapping, p: page) { m = map p }", "cannot assign to parameter 'm'"),
        ("fn f(p: page) { p = map p }", "'p' is a page; it cannot hold a mapping"),
        ("fn f(p: page) { map p }",
         "keep the mapping 'map' makes: write 'x = map ...' or 'return map ...'"),
        ("fn f(p: page) { flush p }", "'p' is a page, but flush needs a mapping"),
        ("fn f(p: page) { flush kernel(q) }", "unknown page parameter 'q'"),
        ("fn f(p: page) { if q.dirty { } }", "unknown page parameter 'q'"),
        ("fn f(p: page) { unmap m }", "unknown mapping 'm'"),
        ("fn f(p: page) { g(q) }", "unknown page or mapping 'q'"),
        ("fn f(p: page) { k = kmap(p); munmap(k) }",
         "munmap needs a user mapping (declared, or made by mmap), but 'k' is not one"),
        ("fn f(p: page) { repeat 0 { } }", "a repeat count must be between 1 and 1024"),
        ("fn kmap(m: mapping) -> mapping { return m }",
         "fn 'kmap' must keep the signature of the one it overrides: fn kmap(p: page) -> "
         "mapping (arch 'base', arches.flow:3:5)"),
    ],
)  # fmt: skip
def test_arch_errors(arch, message):
    error = error_of(f"arch x extends base {{\n{arch}\n}}")
    assert error.message == message
    assert error.span is not None and error.span.path == "t.flow"


def test_arch_name_errors():
    error = error_of("arch a extends nowhere { }")
    assert error.message == "unknown arch 'nowhere' in extends"
    assert error.span == Span("t.flow", 1, 16)
    assert error_of("arch a extends bse { }").message.endswith("(did you mean 'base'?)")
    error = error_of("arch base { }")
    assert error.message == "arch 'base' is already defined at arches.flow:1:6"
    assert error_of("arch all { }").message.startswith("an arch cannot be named 'all'")


def test_extends_cycles():
    error = error_of("arch a extends b { }\narch b extends c { }\narch c extends a { }")
    assert error.message == "arch 'a' extends itself through b -> c -> a"
    assert error.span == Span("t.flow", 1, 8)
    error = error_of("arch a extends a { }")
    assert error.message == "arch 'a' extends itself"
    error = error_of("arch top { }\narch a extends top { }\narch b extends c { }\n"
                     "arch c extends b { }")  # fmt: skip
    assert error.message == "arch 'b' extends itself through c -> b"


MICRO = "a protocol reaches the cache only through the arch's API (allowed only inside arch blocks)"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("flush u", f"'flush' is a cache micro-operation: {MICRO}"),
        ("writeback kernel(a)", f"'writeback' is a cache micro-operation: {MICRO}"),
        ("invalidate all(a)", f"'invalidate' is a cache micro-operation: {MICRO}"),
        ("purge_tlb u", f"'purge_tlb' is a cache micro-operation: {MICRO}"),
        ("x = map a", f"'map' is a cache micro-operation: {MICRO}"),
        ("unmap u", f"'unmap' is a cache micro-operation: {MICRO}"),
        ("set a.f", f"'set' is a cache micro-operation: {MICRO}"),
        ("clear a.f", f"'clear' is a cache micro-operation: {MICRO}"),
        ("if anon(a) { }", "'if' is allowed only inside arch blocks: a protocol reaches the "
         "cache only through the arch's API"),
        ("return", "'return' is allowed only inside arch blocks: a protocol reaches the cache "
         "only through the arch's API"),
        ("read a", "'a' is a page, but read needs a mapping"),
        ("copy u <- a", "'a' is a page, but copy needs a mapping"),
        ("dma_read u", "'u' is a mapping, but dma_read needs a page"),
        ("x = mmap(u)", "'u' is a mapping, but mmap needs a page"),
        ("read k", "unknown mapping 'k'"),
        ("read uu", "unknown mapping 'uu' (did you mean 'u'?)"),
        ("write k[0]\nk = kmap(a)", "unknown mapping 'k'"),
        ("dma_read c", "unknown page 'c'"),
        ("dma_read bgi", "unknown page 'bgi' (did you mean 'big'?)"),
        ("f(zz)", "unknown page or mapping 'zz'"),
        ("a = kmap(a)", "'a' is a page; it cannot hold a mapping"),
        ("u = kmap(a)", "'u' is a declared mapping; it cannot be reassigned"),
        ("k = kmap(a)\nmunmap(k)",
         "munmap needs a user mapping (declared, or made by mmap), but 'k' is not one"),
        ("mmap(a)", "mmap makes a mapping: write 'u = mmap(PAGE)'"),
        ("x = mmap(a, a)", "mmap takes one page"),
        ("x = munmap(u)", "munmap returns nothing"),
        ("repeat 0 { }", "a repeat count must be between 1 and 1024"),
        ("repeat 5000 { }", "a repeat count must be between 1 and 1024"),
    ],
)  # fmt: skip
def test_thread_errors(body, message):
    assert error_of(protocol(body)).message == message


@pytest.mark.parametrize(
    ("body", "word"),
    [("read u", "read"), ("write u", "write"), ("f(a)", "f(...)"), ("x = mmap(a)", "mmap"),
     ("munmap(u)", "munmap"), ("copy u <- u", "copy")],
)  # fmt: skip
def test_devices_use_only_dma_and_synchronisation(body, word):
    text = f"protocol p {{\npage a\nmapping u = user(a)\ndevice d {{\n{body}\n}}\n}}"
    error = error_of(text)
    assert error.message == (
        f"device 'd' may only use dma_read, dma_write, signal, wait, lock and unlock, not '{word}'"
    )
    assert error.span == Span("t.flow", 5, 1)


def test_devices_may_repeat_and_choose():
    load("protocol p { page a\n device d { repeat 2 { either { dma_read a } or { lock l } } } }")


@pytest.mark.parametrize(
    ("decls", "message"),
    [
        ("page a\npage a", "'a' is already declared as a page at t.flow:2:6"),
        ("page a\nmapping a = user(a)", "'a' is already declared as a page at t.flow:2:6"),
        ("thread t { }\ndevice t { }", "'t' is already declared as a thread at t.flow:2:8"),
        ("page a words 0", "words must be between 1 and 1024"),
        ("page a anon file", "a page is anon or file, not both"),
        ("page a highmem highmem", "'highmem' is given twice"),
        ("mapping m = user(b)", "unknown page 'b'"),
        ("page a\nmapping m = user(a) colour linear",
         "a user mapping's colour is a number or 'any'"),
        ("doc \"a\"\ndoc \"b\"", "doc is already given in this protocol at t.flow:2:1"),
        ("expect safe on nowhere", "unknown arch 'nowhere'"),
        ("expect safe on chld", "unknown arch 'chld' (did you mean 'child'?)"),
        ("expect stale on base",
         "unknown verdict 'stale' (valid: safe, stale_read, lost_write, use_after_unmap, "
         "deadlock, redundant_flush)"),
        ("expect safe, stale_read on base",
         "'safe' means no finding: it cannot go with another verdict"),
        ("expect stale_read, stale_read on base", "verdict 'stale_read' is given twice"),
        ("expect safe on base\nexpect stale_read on base",
         "arch 'base' already has an expect at t.flow:2:16"),
    ],
)  # fmt: skip
def test_protocol_declaration_errors(decls, message):
    error = error_of(f"protocol p {{\n{decls}\n}}")
    assert error.message == message


def test_duplicate_protocols():
    error = error_of("protocol p { }\nprotocol p { }")
    assert error.message == "protocol 'p' is already defined at t.flow:1:10"
    assert error.span == Span("t.flow", 2, 10)


@pytest.mark.parametrize("depth", [50, 64, 65, 250, 1000])
def test_deep_nesting_loads_or_is_a_located_input_error(depth):
    """Up to 64 levels load; deeper is an error at the first statement too deep."""
    body = "either { " * depth + "signal e" + " } or { }" * depth
    if depth <= 64:
        check_all(load(protocol(body)))
        return
    error = error_of(protocol(body))
    assert error.message.startswith("input nested too deeply: more than 64 levels")
    assert error.span is not None and error.span.line == 6


def test_alias_set_of_the_page_behind_a_mapping():
    """`kernel(m)`, `user(m)`, `all(m)` with m a mapping: the set on the page behind it."""
    library = load(
        "",
        """
arch a {
    fn f(m: mapping) { flush kernel(m); writeback user(m); invalidate all(m) }
    fn g(p: page) { flush kernel(p) }
}
""",
    )
    body = library.arches["a"].functions["f"].body
    assert [(s.target.kind, s.target.name, s.target.of_mapping) for s in body] == [
        ("kernel", "m", True),
        ("user", "m", True),
        ("all", "m", True),
    ]
    (flush,) = library.arches["a"].functions["g"].body
    assert flush.target.of_mapping is False
