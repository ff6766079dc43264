"""The parser accepts the whole of the language contract and locates every node."""

from __future__ import annotations

import pytest

from checker.errors import FlowError
from checker.front import syntax as st
from checker.front.parser import parse
from checker.front.source import SourceText, Span

# The two examples of the language contract (flow-language.md sections 1 and 2), verbatim.
CONTRACT_PROTOCOL = """\
protocol set_bit_to_user {
    doc "vhost dirty log: set one bit of a user page through a temporary kernel mapping"

    page log anon                         // one physical page; anon | file, highmem, words N
    mapping qemu = user(log)              // a user mapping that exists from the start

    thread vhost {
        get_user_pages_fast(log)
        k = kmap_atomic(log)
        write k[0]                        // set_bit()
        kunmap_atomic(k)
        set_page_dirty_lock(log)
        put_page(log)
        signal synced
    }

    thread qemu {
        read qemu[0]                      // QEMU scans the log: may cache the line
        wait synced
        read qemu[0]                      // must see the bit
    }

    expect safe on x86, arm64
    expect stale_read, lost_write on arm_v6   // QEMU's own dirty line can also land last
}
"""

CONTRACT_ARCH = """\
arch parisc extends generic {
    doc "PA-RISC 2.0: VIPT write-back data cache; kunmap flushes"
    cache L1 vipt colours 4 write_back line_words 1
    speculative_fill tlb
    dma_coherent no

    fn kmap_atomic(p: page) -> mapping { return map p colour linear }
    fn kunmap_atomic(m: mapping) { flush m cost 64; purge_tlb m; unmap m }
    fn flush_dcache_page(p: page) {
        if file(p) and not mapped(p) { set p.dcache_dirty; return }
        flush kernel(p) cost 64
        if file(p) { flush user(p) }
    }
    on user_map(p: page) { if p.dcache_dirty { flush kernel(p); clear p.dcache_dirty } }
}
"""


def parse_text(text: str, path: str = "t.flow") -> st.File:
    return parse(SourceText(path, text))


def thread_body(text: str) -> tuple[st.Stmt, ...]:
    """The statements of a one-thread protocol whose body is `text`."""
    file = parse_text("protocol p {\n thread t {\n" + text + "\n }\n}\n")
    block = file.blocks[0]
    assert isinstance(block, st.ProtocolBlock)
    thread = block.items[0]
    assert isinstance(thread, st.ThreadDecl)
    return thread.body


def fn_body(text: str) -> tuple[st.Stmt, ...]:
    file = parse_text("arch a {\n fn f(p: page) {\n" + text + "\n }\n}\n")
    block = file.blocks[0]
    assert isinstance(block, st.ArchBlock)
    fn = block.items[0]
    assert isinstance(fn, st.FnDecl)
    return fn.body


def test_contract_protocol_example():
    file = parse_text(CONTRACT_PROTOCOL)
    (protocol,) = file.blocks
    assert isinstance(protocol, st.ProtocolBlock)
    assert protocol.name.text == "set_bit_to_user"
    kinds = [type(item).__name__ for item in protocol.items]
    assert kinds == [
        "DocDecl", "PageDecl", "MappingDecl", "ThreadDecl", "ThreadDecl", "ExpectDecl",
        "ExpectDecl",
    ]  # fmt: skip
    doc, page, mapping, vhost, qemu, safe, stale = protocol.items
    assert doc.text.startswith("vhost dirty log")
    assert [o.kind for o in page.options] == ["anon"]
    assert (mapping.name.text, mapping.page.text, mapping.colour) == ("qemu", "log", None)
    assert [type(s).__name__ for s in vhost.body] == [
        "CallStmt", "CallStmt", "AccessStmt", "CallStmt", "CallStmt", "CallStmt", "SyncStmt",
    ]  # fmt: skip
    kmap = vhost.body[1]
    assert kmap.result.text == "k" and kmap.function.text == "kmap_atomic"
    assert [v.text for v in stale.verdicts] == ["stale_read", "lost_write"]
    assert [a.text for a in safe.arches] == ["x86", "arm64"]
    assert qemu.name.text == "qemu" and qemu.body[1].kind == "wait"


def test_contract_arch_example():
    (arch,) = parse_text(CONTRACT_ARCH).blocks
    assert isinstance(arch, st.ArchBlock)
    assert arch.parent.text == "generic"
    assert arch.extends_span == Span("t.flow", 1, 13)
    doc, cache, fill, dma, kmap, kunmap, flush, hook = arch.items
    assert [o.kind for o in cache.options] == ["colours", "write_back", "line_words"]
    assert cache.options[0].value.value == 4
    assert (fill.setting, fill.value.text) == ("speculative_fill", "tlb")
    assert (dma.setting, dma.value.text) == ("dma_coherent", "no")
    assert kmap.returns_mapping and kmap.params[0].kind == "page"
    (ret,) = kmap.body
    assert isinstance(ret.value, st.MapStmt) and ret.value.colour.value == "linear"
    assert [s.op for s in kunmap.body[:2]] == ["flush", "purge_tlb"]
    assert kunmap.body[0].cost.value == 64
    first_if = flush.body[0]
    assert isinstance(first_if.condition, st.AndCond)
    assert isinstance(first_if.condition.right, st.NotCond)
    assert [type(s).__name__ for s in first_if.then] == ["FlagStmt", "ReturnStmt"]
    assert flush.body[2].then[0].target.kind == "user"
    assert hook.is_hook and hook.name.text == "user_map"


def test_spans_point_at_first_tokens():
    file = parse_text(CONTRACT_PROTOCOL, path="x/y.flow")
    protocol = file.blocks[0]
    assert protocol.span == Span("x/y.flow", 1, 1)
    assert protocol.name.span == Span("x/y.flow", 1, 10)
    vhost = protocol.items[3]
    assert vhost.span == Span("x/y.flow", 7, 5)
    assign = vhost.body[1]
    assert assign.span == Span("x/y.flow", 9, 9)  # `k`, the first token of `k = ...`
    assert assign.function.span == Span("x/y.flow", 9, 13)
    write = vhost.body[2]
    assert write.span == Span("x/y.flow", 10, 9)
    assert write.index.span == Span("x/y.flow", 10, 17)


def test_comments_semicolons_and_blank_lines():
    body = thread_body(
        "  // a comment line\n\n"
        "  read m[0]; write m[1] /* inline */ ; ;\n"
        "  /* a comment\n     over lines */\n"
        "  signal e // trailing\n"
    )
    assert [type(s).__name__ for s in body] == ["AccessStmt", "AccessStmt", "SyncStmt"]


def test_statements_separated_by_semicolons_only():
    file = parse_text("protocol p { page a; thread t { read m; write m[2] }; device d { } }")
    protocol = file.blocks[0]
    assert [type(i).__name__ for i in protocol.items] == ["PageDecl", "ThreadDecl", "ThreadDecl"]
    assert protocol.items[2].is_device


def test_colour_and_color_are_one_keyword():
    file = parse_text(
        "protocol p { mapping a = user(x) colour 2\n mapping b = user(x) color any }\n"
        "arch a { cache L1 vipt colors 4\n cache L2 vipt colours 2 }"
    )
    a, b = file.blocks[0].items
    assert (a.colour.value, b.colour.value) == (2, "any")
    assert [lv.options[0].value.value for lv in file.blocks[1].items] == [4, 2]
    (stmt,) = fn_body("x = map p color user")
    assert stmt.colour.value == "user"


def test_empty_blocks():
    file = parse_text("protocol p { }\narch a { }\nprotocol q { thread t { } }")
    assert [len(b.items) for b in file.blocks] == [0, 0, 1]
    (either,) = thread_body("either { } or { }")
    assert either.branches == ((), ())


def test_empty_file_and_comment_only_file():
    assert parse_text("").blocks == ()
    assert parse_text("// nothing\n/* at all */\n\n").blocks == ()


def test_nested_either_repeat_if():
    (either,) = thread_body(
        "either {\n repeat 2 { either { read m } or { write m } or { } }\n} or {\n signal s\n}"
    )
    assert len(either.branches) == 2
    repeat = either.branches[0][0]
    assert repeat.count.value == 2
    assert len(repeat.body[0].branches) == 3
    (chain,) = fn_body(
        "if anon(p) { flush kernel(p) } else if file(p) or highmem(p) { } "
        "else if (mapped(p)) { return } else { set p.x }"
    )
    second = chain.orelse[0]
    assert isinstance(second.condition, st.OrCond)
    third = second.orelse[0]
    assert isinstance(third.condition, st.PredicateCond)
    assert isinstance(third.orelse[0], st.FlagStmt)


def test_else_and_or_may_start_a_line():
    (chain,) = fn_body("if anon(p) {\n}\nelse if file(p) {\n}\n// why\nelse {\n set p.f\n}")
    assert chain.has_else and chain.orelse[0].has_else
    assert isinstance(chain.orelse[0].orelse[0], st.FlagStmt)
    (either,) = thread_body("either {\n read m\n}\nor {\n write m\n}\nor { }")
    assert len(either.branches) == 3


def test_condition_precedence():
    (stmt,) = fn_body("if not anon(p) and file(p) or p.a and not not p.b { }")
    cond = stmt.condition
    assert isinstance(cond, st.OrCond)
    assert isinstance(cond.left, st.AndCond) and isinstance(cond.left.left, st.NotCond)
    assert isinstance(cond.right.right.operand, st.NotCond)
    (grouped,) = fn_body("if not (anon(p) or file(p)) { }")
    assert isinstance(grouped.condition.operand, st.OrCond)


def test_every_statement_form():
    body = thread_body(
        "f()\nf(a, b)\nx = g(a)\nu = mmap(a)\nmunmap(u)\nread m\nwrite m[3]\ncopy d <- s\n"
        "signal e\nwait e\nlock l\nunlock l\ndma_read a\ndma_write a[1]\nrepeat 3 { }\n"
        "flush m cost 2\nwriteback kernel(a)\ninvalidate user(a)\npurge_tlb all(a)\n"
        "x = map a\nunmap x\nset a.f\nclear a.f\nreturn\nreturn x\nreturn map a colour 1\n"
        "return g(x)"
    )
    names = [type(s).__name__ for s in body]
    assert names == [
        "CallStmt", "CallStmt", "CallStmt", "CallStmt", "CallStmt", "AccessStmt", "AccessStmt",
        "CopyStmt", "SyncStmt", "SyncStmt", "SyncStmt", "SyncStmt", "DmaStmt", "DmaStmt",
        "RepeatStmt", "MaintenanceStmt", "MaintenanceStmt", "MaintenanceStmt", "MaintenanceStmt",
        "MapStmt", "UnmapStmt", "FlagStmt", "FlagStmt", "ReturnStmt", "ReturnStmt",
        "ReturnStmt", "ReturnStmt",
    ]  # fmt: skip
    assert body[0].args == () and [a.text for a in body[1].args] == ["a", "b"]
    assert body[6].index.value == 3 and body[5].index is None
    assert (body[7].dst.text, body[7].src.text) == ("d", "s")
    assert (body[12].kind, body[13].kind) == ("read", "write")
    assert [s.target.kind for s in body[15:19]] == ["mapping", "kernel", "user", "all"]
    assert body[19].result.text == "x" and body[19].colour is None
    assert body[23].value is None and body[24].value.text == "x"
    assert body[25].value.colour.value == 1 and body[26].value.function.text == "g"


def test_declaration_options_in_any_order():
    file = parse_text(
        "protocol p { page a file highmem words 4\n page b words 2 highmem }\n"
        "arch a { cache L1 vipt victim_fill line_words 2 write_through colours 2\n"
        " speculative_fill\n fn f() -> mapping { }\n on user_unmap(p: page) { } }"
    )
    a, b = file.blocks[0].items
    assert [o.kind for o in a.options] == ["file", "highmem", "words"]
    assert [o.kind for o in b.options] == ["words", "highmem"]
    cache, fill, fn, hook = file.blocks[1].items
    assert [o.kind for o in cache.options] == [
        "victim_fill", "line_words", "write_through", "colours",
    ]  # fmt: skip
    assert fill.value is None
    assert fn.params == () and fn.returns_mapping
    assert hook.is_hook


def test_keywords_are_names_where_a_name_is_expected():
    file = parse_text(
        "protocol read {\n page file anon\n page user\n mapping kernel = user(file)\n"
        " thread write { read kernel[0]; dma_write file; signal map; wait map }\n"
        " device page { lock all; unlock all }\n"
        " expect safe on protocol\n}\n"
        "arch thread extends protocol { fn page(page: page, mapping: mapping) { } }"
    )
    protocol, arch = file.blocks
    assert protocol.name.text == "read"
    assert [i.name.text for i in protocol.items[:5]] == ["file", "user", "kernel", "write", "page"]
    assert arch.name.text == "thread" and arch.parent.text == "protocol"
    assert [p.name.text for p in arch.items[0].params] == ["page", "mapping"]


def test_names_like_write_back_are_not_keywords():
    body = thread_body("write_back(m)\nreader = kmap(m)\nread reader")
    assert body[0].function.text == "write_back"
    assert body[2].mapping.text == "reader"


def test_string_escapes():
    file = parse_text('protocol p { doc "a \\"quoted\\" \\\\ word" }')
    assert file.blocks[0].items[0].text == 'a "quoted" \\ word'


def test_crlf_line_ends():
    file = parse_text("protocol p {\r\n thread t {\r\n read m\r\n write m\r\n }\r\n}\r\n")
    assert len(file.blocks[0].items[0].body) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("protocol p {", "unexpected end of file: missing '}'"),
        ("protocol p { thread t { read } }", "expected a name, found '}'"),
        ("protocol p { thread t { read m x } }",
         "expected '[' or the end of the statement, found 'x'"),
        ("protocol p { thread t { } }}", "expected 'arch' or 'protocol', found '}'"),
        ("protocol p { thread t { } ; }", None),
        ("protocol p { read m }", "expected a declaration (doc, page, mapping, start, thread, "
         "device or expect) or '}', found 'read'"),
        ("protocol p { thread t { ) } }", "expected a statement or '}', found ')'"),
        ("protocol p { page a words }", "expected a number, found '}'"),
        ("protocol p { page a @ }", "unexpected character '@'"),
        ("protocol p { doc \"open }", "unterminated string: '\"' has no matching '\"' on its "
         "line"),
        ("protocol p { /* open", "unterminated comment: '/*' has no matching '*/'"),
        ("arch a { fn f(p: int) { } }", "expected 'mapping' or 'page', found 'int'"),
        ("arch a { fn f(p: page) { if { } } }", "expected a condition, found '{'"),
        ("protocol p { thread t { else { } } }", "'else' without an 'if' just before it"),
        ("protocol p { thread t { or { } } }", "'or' without an 'either' just before it"),
        ("protocol p { thread t { either { } } }",
         "'either' needs at least two branches: add 'or { }'"),
        ("arch a { fn f(p: page) { if anon(p) { } else { }\nelse { } } }",
         "this 'if' already has an 'else'"),
        ("protocol p { page a words " + "9" * 5000 + " }",
         "number too large: 999999999999... has 5,000 digits; numbers have at most 18"),
    ],
)  # fmt: skip
def test_syntax_error_messages(text, message):
    if message is None:
        parse_text(text)
        return
    with pytest.raises(FlowError) as caught:
        parse_text(text)
    assert caught.value.message == message
    assert caught.value.span is not None


def test_deep_nesting_is_an_input_error():
    depth = 3000
    text = "protocol p { thread t {" + " repeat 1 {" * depth + " }" * depth + " } }"
    with pytest.raises(FlowError, match="nested too deeply"):
        parse_text(text)
