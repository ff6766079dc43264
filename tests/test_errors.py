"""Input errors as the user sees them, and the loader's file errors.

Each tests/golden/errors/NAME.badflow holds one mistake (named so that a directory run
`check tests/` does not take it for a protocol to check) (its first line says which); NAME.expected
holds exactly what `FlowError.render` prints for it, with a final newline. The built-in library
is left out, so these do not change when it does.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from checker.errors import FlowError
from checker.front.load import check_protocol_on_arch, load_files
from checker.front.resources import builtin_arch_files
from checker.front.selection import select_arches

GOLDEN = Path(__file__).resolve().parent / "golden" / "errors"
CASES = sorted(path.stem for path in GOLDEN.glob("*.badflow"))


def first_error(path: str) -> str:
    """Load `path` and check each protocol on each arch; the rendering of the first error."""
    sources = {}
    try:
        loaded = load_files([path], builtins=[])
        sources = loaded.sources
        library = loaded.library
        for protocol in library.protocols:
            for name in select_arches(library, None):
                check_protocol_on_arch(protocol, library.arches[name], library)
    except FlowError as error:
        return error.render(sources) + "\n"
    pytest.fail(f"{path} loads and checks without an error")


@pytest.mark.parametrize("name", CASES)
def test_golden_error(name, in_repo, assert_golden):
    actual = first_error(f"tests/golden/errors/{name}.badflow")
    assert_golden(GOLDEN / f"{name}.expected", actual)


def test_every_expected_file_has_its_input():
    assert sorted(path.stem for path in GOLDEN.glob("*.expected")) == CASES


# ---------------------------------------------------------------------------------------------
# Reading files


def test_missing_file(tmp_path):
    missing = str(tmp_path / "x.flow")
    with pytest.raises(FlowError) as caught:
        load_files([missing], builtins=[])
    assert caught.value.span is None
    assert caught.value.render() == f"error: cannot read '{missing}': no such file"


def test_directory(tmp_path):
    with pytest.raises(FlowError) as caught:
        load_files([str(tmp_path)], builtins=[])
    assert caught.value.message == f"cannot read '{tmp_path}': is a directory"


def test_invalid_utf8(tmp_path):
    path = tmp_path / "bad.flow"
    path.write_bytes(b"protocol p {\n  doc \"caf\xe9\"\n}\n")
    with pytest.raises(FlowError) as caught:
        load_files([str(path)], builtins=[])
    error = caught.value
    assert error.message == "not UTF-8 text: byte 0xe9 cannot be decoded"
    assert (error.span.path, error.span.line, error.span.col) == (str(path), 2, 11)


def test_a_file_given_twice_is_read_once(tmp_path):
    path = tmp_path / "a.flow"
    path.write_text("arch a { }\n", encoding="utf-8")
    loaded = load_files([str(path), str(path)], builtins=[])
    assert list(loaded.library.arches) == ["a"]


def test_sources_hold_every_file_by_display_path(tmp_path):
    path = tmp_path / "mine.flow"
    path.write_text("arch mine extends base { }\n", encoding="utf-8")
    loaded = load_files([str(path)], builtins=[("<builtin>/base.flow", "arch base { }\n")])
    assert set(loaded.sources) == {"<builtin>/base.flow", str(path)}
    assert loaded.library.arches["base"].builtin
    assert loaded.library.user_arches == ("mine",)


def test_a_syntax_error_renders_its_line_without_the_callers_sources(tmp_path):
    path = tmp_path / "bad.flow"
    path.write_text("protocol p {\n  thread t { read }\n}\n", encoding="utf-8")
    with pytest.raises(FlowError) as caught:
        load_files([str(path)], builtins=[])
    quote, caret = caught.value.render().splitlines()[1:]
    assert quote == "      thread t { read }"
    assert caret == " " * 22 + "^"  # under the '}'; the quote is indented by four


def test_a_load_error_survives_pickling(tmp_path):
    """As it does coming back from a --jobs worker that loaded the files itself."""
    import pickle

    path = tmp_path / "bad.flow"
    path.write_text("protocol p { x }\n", encoding="utf-8")
    with pytest.raises(FlowError) as caught:
        load_files([str(path)], builtins=[])
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.span, copy.message) == (caught.value.span, caught.value.message)


# ---------------------------------------------------------------------------------------------
# Selecting arches


def selection_library(tmp_path):
    path = tmp_path / "mine.flow"
    path.write_text("arch zed { }\narch alpha { }\n", encoding="utf-8")
    builtins = [("<builtin>/b.flow", "arch x86 { }\narch arm64 { }\n")]
    return load_files([str(path)], builtins=builtins).library


def test_select_all_puts_builtins_first_each_sorted(tmp_path):
    library = selection_library(tmp_path)
    assert select_arches(library, None) == ["arm64", "x86", "alpha", "zed"]
    assert select_arches(library, "all") == ["arm64", "x86", "alpha", "zed"]


def test_select_a_list_keeps_its_order(tmp_path):
    library = selection_library(tmp_path)
    assert select_arches(library, "zed,x86") == ["zed", "x86"]
    assert select_arches(library, "x86, zed,x86") == ["x86", "zed"]


def test_select_an_unknown_arch(tmp_path):
    library = selection_library(tmp_path)
    with pytest.raises(FlowError) as caught:
        select_arches(library, "x86,foo")
    assert caught.value.render() == "error: unknown arch 'foo' (known: alpha, arm64, x86, zed)"


# ---------------------------------------------------------------------------------------------
# The built-in library


@pytest.mark.skipif(not builtin_arch_files(), reason="no built-in arch files yet")
def test_builtin_library_loads():
    library = load_files([]).library
    assert library.arches and all(arch.builtin for arch in library.arches.values())
    assert library.user_arches == ()


# ---------------------------------------------------------------------------------------------
# Robustness: whatever the text, the front end answers with a FlowError, never a traceback


MUTATION_WORDS = [
    "{", "}", "(", ")", ";", "\n", "read", "write", "map", "return", "if", "else", "or",
    "either", "k", "p", "log", "=", "colour", "0", "99", "page", "mapping", "extends", "arch",
    "protocol", "thread", "device", "fn", "on", "->", "<-", "[", "]", ".", ",", "not", "\"",
    "/*", "//", "mmap(log)", "munmap(k)", "k = kmap(log)", "kunmap(k)", "signal e", "wait e",
    "repeat 2 {", "flush", "kernel(p)", "\x00", "é",
]  # fmt: skip


def mutants(count: int):
    rng = random.Random(1)
    texts = [path.read_text(encoding="utf-8") for path in sorted(GOLDEN.glob("*.badflow"))]
    for _ in range(count):
        text = rng.choice(texts)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(text) + 1)
            if rng.random() < 0.5:
                text = text[:at] + " " + rng.choice(MUTATION_WORDS) + " " + text[at:]
            else:
                text = text[:at] + text[at + rng.randint(1, 12) :]
        yield text


def test_mutated_inputs_give_flow_errors_only(tmp_path):
    path = tmp_path / "m.flow"
    for text in mutants(400):
        path.write_text(text, encoding="utf-8")
        try:
            loaded = load_files([str(path)], builtins=[])
            for protocol in loaded.library.protocols:
                for arch in loaded.library.arches.values():
                    check_protocol_on_arch(protocol, arch, loaded.library)
        except FlowError as error:
            assert error.render(), text


# ---------------------------------------------------------------------------------------------
# Every error of a file, not only the first


def errors_of(tmp_path, *texts: str) -> FlowError:
    paths = []
    for number, text in enumerate(texts):
        path = tmp_path / f"f{number}.flow"
        path.write_text(text, encoding="utf-8")
        paths.append(str(path))
    with pytest.raises(FlowError) as caught:
        load_files(paths, builtins=[])
    return caught.value


def located(error: FlowError) -> list[tuple[int, int, str]]:
    return [(e.span.line, e.span.col, e.message) for e in error.errors]


def test_independent_errors_are_all_reported(tmp_path):
    text = (
        "arch a { cache L1 vipt colours 0 }\n"  # 1: an arch block
        "arch b { dma_coherent tlb; fn mmap(p: page) { } }\n"  # 2: two items of one arch
        "protocol p {\n"
        "    page g words 0\n"  # 4: a declaration
        "    thread t {\n"
        "        read g\n"  # 6: statements of one thread, each on its own
        "        k = kmap(nope)\n"
        "        write k[0]\n"  # no second error: k is bound despite the error above
        "    }\n"
        "    thread u { wait e; flush x }\n"  # 10: another thread
        "    expect safe, safe on a\n"  # 11: an expect line (arch a is known, with its error)
        "}\n"
        "protocol p { }\n"  # 13: a duplicate protocol
    )
    error = errors_of(tmp_path, text)
    assert located(error) == [
        (1, 32, "a colour count must be between 1 and 1024"),
        (2, 23, "dma_coherent is yes or no"),
        (2, 31, "an arch fn cannot be named 'mmap': it is a statement"),
        (4, 18, "words must be between 1 and 1024"),
        (6, 14, "'g' is a page, but read needs a mapping"),
        (7, 18, "unknown page or mapping 'nope'"),
        (10, 24, "'flush' is a cache micro-operation: a protocol reaches the cache only "
                 "through the arch's API (allowed only inside arch blocks)"),
        (11, 18, "verdict 'safe' is given twice"),
        (13, 10, "protocol 'p' is already defined at " + str(tmp_path / "f0.flow") + ":3:10"),
    ]  # fmt: skip
    rendered = error.render()
    assert rendered.count(": error: ") == 9 and "more error" not in rendered


def test_an_arch_extending_one_with_an_error_adds_no_error(tmp_path):
    error = errors_of(tmp_path, "arch a { cache L1 fifo }\narch b extends a { }\n")
    assert located(error) == [(1, 19, "unknown indexing 'fifo': expected pipt, vipt or vivt")]


def test_at_most_twenty_errors_are_shown_and_the_others_counted(tmp_path):
    body = "\n".join(f"read g{n}" for n in range(25))
    error = errors_of(tmp_path, f"protocol p {{\n thread t {{\n{body}\n}}\n}}\n")
    assert len(error.errors) == 20 and error.more == 5
    assert error.render().endswith("\n... and 5 more errors")


def test_the_first_syntax_error_of_each_file_is_reported(tmp_path):
    error = errors_of(tmp_path, "protocol p { x }\n", "arch a {\n", "arch ok { }\n")
    assert [e.span.path.rsplit("/", 1)[-1] for e in error.errors] == ["f0.flow", "f1.flow"]


def test_several_errors_survive_pickling(tmp_path):
    import pickle

    error = errors_of(tmp_path, "protocol p { thread t { read a; read b } }\n")
    copy = pickle.loads(pickle.dumps(error))
    assert located(copy) == located(error) and len(located(copy)) == 2


# ---------------------------------------------------------------------------------------------
# A file with nothing in it


@pytest.mark.parametrize("text", ["", "\n\n", "// just a comment\n", "/* a */ ;;\n"])
def test_a_file_with_no_protocol_and_no_arch_is_an_error(tmp_path, text):
    error = errors_of(tmp_path, text)
    path = tmp_path / "f0.flow"
    assert error.render() == (
        f"{path}:1:1: error: no protocol and no arch in this file: is it empty, or cut short?"
        + (f"\n    {text.splitlines()[0]}\n    ^" if text.strip() else "")
    )
