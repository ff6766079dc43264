"""Hostile input: what a tester threw at the front end, each answered by a located input error
(or a result) in bounded time and memory, never a traceback or a hang.

One section per defect found: files that do not end, long tokens and long runs of blank lines,
numbers past the 18-digit limit, call chains past the depth limit, deep nesting, characters
that str.splitlines takes for line ends, and `--show-arch all`. The limits are documented in
docs/language.md, section 6; bench/fuzz_frontend.py mutates these inputs by the thousand.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import tracemalloc
from pathlib import Path

import pytest

from checker.cli import run
from checker.errors import FlowError
from checker.front import load as load_module
from checker.front.load import MAX_FILE_BYTES, check_protocol_on_arch, load_files
from checker.front.nesting import MAX_NESTING
from checker.front.parser import MAX_DIGITS, _lark, parse
from checker.front.source import SHOWN_INSTEAD, SourceText, Span
from checker.machine.lower import MAX_INLINE_DEPTH, lower

REPO = Path(__file__).resolve().parent.parent
SMALL = "protocol p {\n    page g\n    thread t { signal e }\n}\n"


def load_and_check(path: str | Path) -> None:
    """What `check` does before any search: load, then every per-arch check and lowering."""
    library = load_files([str(path)], builtins=[]).library
    for protocol in library.protocols:
        for arch in library.arches.values():
            check_protocol_on_arch(protocol, arch, library)
            lower(protocol, arch)


def error_of_text(tmp_path: Path, text: str) -> FlowError:
    path = tmp_path / "t.flow"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FlowError) as caught:
        load_and_check(path)
    return caught.value


def status(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return run(argv, out, err), out.getvalue(), err.getvalue()


def loads(tmp_path: Path, text: str) -> None:
    path = tmp_path / "t.flow"
    path.write_text(text, encoding="utf-8")
    load_and_check(path)


# ---------------------------------------------------------------------------------------------
# 1. Files that do not end: devices, FIFOs, pipes; the size cap


def test_dev_zero_stops_at_the_size_limit() -> None:
    with pytest.raises(FlowError) as caught:
        load_files(["/dev/zero"], builtins=[])
    assert caught.value.span is None
    assert caught.value.render() == (
        "error: cannot read '/dev/zero': larger than 1,048,576 bytes, the limit for one input file"
    )


def test_a_file_of_exactly_the_limit_loads_and_one_byte_more_does_not(tmp_path: Path) -> None:
    path = tmp_path / "big.flow"
    path.write_bytes(SMALL.encode() + b"\n" * (MAX_FILE_BYTES - len(SMALL)))
    assert load_files([str(path)], builtins=[]).library.protocols[0].name == "p"
    path.write_bytes(path.read_bytes() + b"\n")
    with pytest.raises(FlowError, match="larger than 1,048,576 bytes"):
        load_files([str(path)], builtins=[])


def test_a_fifo_with_no_writer_is_an_error_not_a_hang(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(load_module, "PIPE_WAIT_SECONDS", 0.2)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(FlowError) as caught:
        load_files([str(fifo)], builtins=[])
    assert caught.value.message == (
        f"cannot read '{fifo}': nothing came through it for 0.2 s "
        "(a FIFO that no program writes to?)"
    )


def test_a_fifo_with_a_writer_is_read(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "w", encoding="utf-8") as out:  # waits for the reader to open
            out.write(SMALL)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        library = load_files([str(fifo)], builtins=[]).library
    finally:
        writer.join(timeout=10)
    assert [p.name for p in library.protocols] == ["p"]


def _pipe_path(data: bytes) -> tuple[str, int, threading.Thread]:
    """A /dev/fd path to the read end of a pipe a thread fills with `data`."""
    read_end, write_end = os.pipe()

    def write() -> None:
        try:
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
        except BrokenPipeError:  # the reader stopped at the size limit
            pass

    writer = threading.Thread(target=write)
    writer.start()
    return f"/dev/fd/{read_end}", read_end, writer


def test_a_pipe_is_read_once_like_a_file() -> None:
    path, read_end, writer = _pipe_path(SMALL.encode())
    try:
        loaded = load_files([path], builtins=[])
    finally:
        writer.join(timeout=10)
        os.close(read_end)
    assert [p.name for p in loaded.library.protocols] == ["p"]
    assert loaded.sources[path].text == SMALL


def test_a_pipe_past_the_limit_is_an_error() -> None:
    path, read_end, writer = _pipe_path(b"\n" * (MAX_FILE_BYTES + 1))
    try:
        with pytest.raises(FlowError, match="larger than 1,048,576 bytes"):
            load_files([path], builtins=[])
    finally:
        os.close(read_end)  # the writer, blocked on a full pipe, gets EPIPE
        writer.join(timeout=10)


@pytest.mark.parametrize(
    "how",
    [
        "check -q --arch generic /dev/stdin < x.flow",
        "cat x.flow | check -q --arch generic /dev/stdin",
        "check -q --arch generic <(cat x.flow)",
    ],
)
def test_stdin_and_process_substitution_work_from_the_shell(tmp_path: Path, how: str) -> None:
    (tmp_path / "x.flow").write_text(SMALL, encoding="utf-8")
    command = how.replace("check", f"{sys.executable} -m checker", 1)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "1 check: 1 as expected" in proc.stdout


def test_dev_zero_from_the_command_line_is_exit_2() -> None:
    proc = subprocess.run([sys.executable, "-m", "checker", "/dev/zero"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: cannot read '/dev/zero': larger than")
    assert "Traceback" not in proc.stderr


def test_not_utf8_column_counts_characters(tmp_path: Path) -> None:
    path = tmp_path / "bad.flow"
    path.write_bytes('\ufeffprotocol p { doc "é€'.encode() + b"\xff" + b'" }\n')
    with pytest.raises(FlowError) as caught:
        load_files([str(path)], builtins=[])
    assert caught.value.span == Span(str(path), 1, 21)  # the BOM is not a column


# ---------------------------------------------------------------------------------------------
# 2. Long tokens and long runs of blank lines: linear time, small memory


def _peak_bytes_parsing(text: str) -> int:
    _lark()  # built (or loaded) before measuring
    tracemalloc.start()
    try:
        parse(SourceText("t.flow", text))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_long_string_costs_memory_linear_in_its_length_with_a_small_factor() -> None:
    # The regex engine kept a backtracking record of ~120 bytes a character (2.6 GB for a
    # 10 MB string); now a few copies of the text.
    text = 'protocol p {\n    doc "' + "a" * 500_000 + '"\n}\n'
    assert _peak_bytes_parsing(text) < 8 * len(text)


def test_a_long_block_comment_costs_little_memory() -> None:
    text = "/*" + "* " * 250_000 + "*/\nprotocol p { }\n"
    assert _peak_bytes_parsing(text) < 8 * len(text)


def test_a_run_of_blank_lines_is_one_token() -> None:
    text = "\n" * 1000 + "protocol p {\n  \n\t\r\n\n}\n\n"
    tokens = [token.type for token in _lark().parse_interactive(text).iter_parse()]
    assert tokens == ["_NL", "PROTOCOL", "NAME", "LBRACE", "_NL", "RBRACE", "_NL"]


def test_errors_after_many_blank_lines_are_located(tmp_path: Path) -> None:
    error = error_of_text(tmp_path, "\n" * 200_000 + "protocol p { x }\n")
    assert error.span == Span(str(tmp_path / "t.flow"), 200_001, 14)
    error = error_of_text(tmp_path, "\n" * 200_000 + "protocol p {\n\n")
    assert error.message == "unexpected end of file: missing '}'"
    assert error.span == Span(str(tmp_path / "t.flow"), 200_001, 13)


def test_a_long_unterminated_string_or_comment_is_located(tmp_path: Path) -> None:
    error = error_of_text(tmp_path, 'protocol p {\n  doc "' + "a" * 500_000 + "\n}\n")
    assert error.message.startswith("unterminated string")
    assert (error.span.line, error.span.col) == (2, 7)
    error = error_of_text(tmp_path, "protocol p { }\n/*" + "* " * 250_000)
    assert error.message.startswith("unterminated comment")
    assert (error.span.line, error.span.col) == (2, 1)


def test_escapes_in_a_long_string_are_kept() -> None:
    text = 'protocol p {\n doc "' + '\\"a\\\\' * 10_000 + '"\n}\n'
    (block,) = parse(SourceText("t.flow", text)).blocks
    assert block.items[0].text == '"a\\' * 10_000


# ---------------------------------------------------------------------------------------------
# 3. Every number of the language has at most 18 digits

NUMBER_PLACES = [
    "arch a {{ cache L1 vipt colours {n} }}",
    "arch a {{ cache L1 pipt line_words {n} }}",
    "protocol p {{ page g words {n} }}",
    "protocol p {{ page g\nmapping u = user(g) colour {n} }}",
    "protocol p {{ page g\nmapping u = user(g)\nthread t {{ read u[{n}] }} }}",
    "protocol p {{ page g\nmapping u = user(g)\nthread t {{ write u[{n}] }} }}",
    "protocol p {{ page g\ndevice d {{ dma_read g[{n}] }} }}",
    "protocol p {{ page g\ndevice d {{ dma_write g[{n}] }} }}",
    "protocol p {{ thread t {{ repeat {n} {{ signal e }} }} }}",
    "arch a {{ fn f(p: page) {{ flush kernel(p) cost {n} }} }}",
    "arch a {{ fn f(p: page) -> mapping {{ return map p colour {n} }} }}",
    "arch a {{ fn f(p: page) {{ x = map p colour {n}; unmap x }} }}",
]


@pytest.mark.parametrize("place", NUMBER_PLACES)
@pytest.mark.parametrize("digits", [MAX_DIGITS + 1, 4_301, 100_000])
def test_a_number_past_18_digits_is_a_located_error(place: str, digits: int) -> None:
    number = "1" * digits
    text = place.format(n=number)
    with pytest.raises(FlowError) as caught:
        parse(SourceText("t.flow", text))
    before = text[: text.index(number)]
    line = before.count("\n") + 1
    assert caught.value.span == Span("t.flow", line, len(before) - before.rfind("\n"))
    assert caught.value.message == (
        f"number too large: 111111111111... has {digits:,} digits; numbers have at most 18"
    )


@pytest.mark.parametrize("place", NUMBER_PLACES)
def test_a_number_of_18_digits_parses(place: str) -> None:
    parse(SourceText("t.flow", place.format(n="9" * MAX_DIGITS)))


# ---------------------------------------------------------------------------------------------
# 4. Calls nested past the depth limit are not called recursive

PROTOCOL_CALLING_F0 = "protocol q {\n    page g\n    thread t { f0(g) }\n}\n"


def chain(length: int, last: str = "set p.x") -> str:
    """An arch whose f0 calls f1 ... calls f{length-1}, which does `last`."""
    fns = [f"    fn f{i}(p: page) {{ f{i + 1}(p) }}" for i in range(length - 1)]
    fns.append(f"    fn f{length - 1}(p: page) {{ {last} }}")
    return "arch a {\n" + "\n".join(fns) + "\n}\n" + PROTOCOL_CALLING_F0


def test_calls_nest_up_to_the_limit(tmp_path: Path) -> None:
    assert MAX_INLINE_DEPTH == 32
    loads(tmp_path, chain(MAX_INLINE_DEPTH))


def test_one_call_more_is_a_depth_error_not_a_recursion(tmp_path: Path) -> None:
    error = error_of_text(tmp_path, chain(MAX_INLINE_DEPTH + 1))
    path = " -> ".join(f"f{i}" for i in range(MAX_INLINE_DEPTH + 1))
    assert error.message == (
        f"calls nested too deeply: {path} would be 33 calls deep; the limit is 32 nested calls"
    )
    assert (error.span.line, error.span.col) == (33, 23)  # the call of f32, in f31


def test_a_loop_longer_than_the_limit_is_still_recursive(tmp_path: Path) -> None:
    error = error_of_text(tmp_path, chain(40, last="f10(p)"))
    loop = " -> ".join(f"f{i}" for i in [*range(10, 40), 10])
    assert error.message == f"recursive call: {loop}"


def test_a_loop_through_a_hook_past_the_limit_is_recursive(tmp_path: Path) -> None:
    text = chain(40, last="u = mmap(p)").replace(
        "\n}\n", "\n    on user_map(p: page) { f35(p) }\n}\n", 1
    )
    error = error_of_text(tmp_path, text)
    loop = " -> ".join([*(f"f{i}" for i in range(35, 40)), "on user_map", "f35"])
    assert error.message == f"recursive call: {loop}"


def test_short_recursion_is_reported_as_ever(tmp_path: Path) -> None:
    error = error_of_text(tmp_path, chain(3, last="f1(p)"))
    assert error.message == "recursive call: f1 -> f2 -> f1"


# ---------------------------------------------------------------------------------------------
# 5. Deep nesting: a located error, whatever the depth


def in_thread(body: str) -> str:
    return f"protocol p {{\n    page g\n    thread t {{\n{body}\n    }}\n}}\n"


def in_function(body: str, condition: str = "anon(p)") -> str:
    arch = f"arch a {{\n    fn f(p: page) {{\n{body}\n    }}\n}}\n"
    return arch.replace("COND", condition) + "protocol q { page g\nthread t { f(g) } }\n"


NESTINGS = {
    "either": lambda n: in_thread("either { " * n + "signal e" + " } or { }" * n),
    "repeat": lambda n: in_thread("repeat 1 { " * n + "signal e" + " }" * n),
    "if": lambda n: in_function("if anon(p) { " * n + "set p.x" + " }" * n),
    "else if": lambda n: in_function(
        "if anon(p) { set p.x }" + " else if anon(p) { set p.x }" * n
    ),
    "else if lines": lambda n: in_function(
        "if anon(p) { set p.x }\n" + "else if anon(p) { set p.x }\n" * n
    ),
    "not": lambda n: in_function("if COND { set p.x }", "not " * n + "anon(p)"),
    "and": lambda n: in_function("if COND { set p.x }", " and ".join(["anon(p)"] * (n + 1))),
    "or": lambda n: in_function("if COND { set p.x }", " or ".join(["anon(p)"] * (n + 1))),
}


@pytest.mark.parametrize("kind", NESTINGS)
def test_nesting_up_to_the_limit_loads_and_lowers(tmp_path: Path, kind: str) -> None:
    # The body of an `if` and its condition are one level in; `else if`s and operators
    # one more each: n of them reach level n + 1 at most.
    loads(tmp_path, NESTINGS[kind](MAX_NESTING - 1))


@pytest.mark.parametrize("kind", NESTINGS)
@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 5_000])
def test_nesting_past_the_limit_is_a_located_error(tmp_path: Path, kind: str, depth: int) -> None:
    error = error_of_text(tmp_path, NESTINGS[kind](depth))
    assert error.message.startswith(f"input nested too deeply: more than {MAX_NESTING} levels")
    assert error.span is not None and error.span.path == str(tmp_path / "t.flow")


def test_a_long_extends_chain_loads(tmp_path: Path) -> None:
    n = 2_000  # past Python's recursion limit (1,000): resolved by a loop
    text = "".join(f"arch a{i} extends a{i + 1} {{ }}\n" for i in range(n)) + f"arch a{n} {{ }}\n"
    path = tmp_path / "t.flow"
    path.write_text(text, encoding="utf-8")
    library = load_files([str(path)], builtins=[]).library
    assert library.arches["a0"].parent == "a1" and len(library.arches) == n + 1


def test_a_long_extends_cycle_is_located_and_named_in_one_line(tmp_path: Path) -> None:
    n = 2_000
    text = "".join(f"arch a{i} extends a{i + 1} {{ }}\n" for i in range(n))
    text += f"arch a{n} extends a0 {{ }}\n"
    error = error_of_text(tmp_path, text)
    assert error.span == Span(str(tmp_path / "t.flow"), 1, 9)
    assert error.message == (
        "arch 'a0' extends itself through a1 -> a2 -> a3 -> a4 -> a5 -> (1,991 more) -> "
        "a1997 -> a1998 -> a1999 -> a2000 -> a0"
    )


def test_calls_through_deep_bodies_are_located_at_the_protocol(tmp_path: Path) -> None:
    """Each within its limit, but 31 calls through 63 levels each: too deep together."""
    deep = "if anon(p) { " * 63
    fns = [f"    fn f{i}(p: page) {{ {deep}f{i + 1}(p){' }' * 63} }}" for i in range(31)]
    fns.append("    fn f31(p: page) { set p.x }")
    text = "arch a {\n" + "\n".join(fns) + "\n}\n" + PROTOCOL_CALLING_F0
    error = error_of_text(tmp_path, text)
    assert error.message.startswith("input nested too deeply: the calls this protocol makes")
    assert error.span == Span(str(tmp_path / "t.flow"), 35, 1)


# ---------------------------------------------------------------------------------------------
# 6. The quoted line is the line the location names

LINE_BREAKERS = ["\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\r"]


@pytest.mark.parametrize("char", LINE_BREAKERS, ids=repr)
def test_a_line_separator_in_a_comment_does_not_move_the_quote(tmp_path, char) -> None:
    error = error_of_text(tmp_path, f"// one{char}two\nprotocol p {{\n  thread t {{ read }}\n}}\n")
    rendered = error.render({str(tmp_path / "t.flow"): SourceText(str(tmp_path / "t.flow"),
                            f"// one{char}two\nprotocol p {{\n  thread t {{ read }}\n}}\n")})
    head, quote, caret = rendered.splitlines()
    assert head.endswith(":3:19: error: expected a name, found '}'")
    assert quote == "      thread t { read }"
    assert caret == " " * 22 + "^"


def test_a_quoted_line_shows_control_characters_one_for_one() -> None:
    source = SourceText("t", "a\u2028b\x0bc\r\n\td\u202ee\n")
    assert source.line(1) == f"a{SHOWN_INSTEAD}b{SHOWN_INSTEAD}c"
    assert source.line(2) == f"\td{SHOWN_INSTEAD}e"
    assert source.line(3) == "" and source.line(4) == "" and source.line(0) == ""


def test_lines_are_numbered_at_newlines_only() -> None:
    text = "one\n" * 1000 + "last"
    source = SourceText("t", text)
    assert source.line(1000) == "one" and source.line(1001) == "last"


def test_show_arch_quotes_the_right_lines_after_a_line_separator(tmp_path: Path) -> None:
    path = tmp_path / "mine.flow"
    path.write_text("// one\u2028two\narch mine {\n    // cites the kernel\n"
                    "    fn f(p: page) { set p.x }\n}\n", encoding="utf-8")
    code, out, err = status(["--show-arch", "mine", str(path)])
    assert code == 0, err
    assert out.endswith("\n    // cites the kernel\n    fn f(p: page) { set p.x }\n")


# ---------------------------------------------------------------------------------------------
# 7. --show-arch all


def test_show_arch_all_shows_every_arch(tmp_path: Path) -> None:
    path = tmp_path / "mine.flow"
    path.write_text("arch mine extends generic { }\n", encoding="utf-8")
    code, out, err = status(["--show-arch", "all", str(path)])
    assert code == 0, err
    heads = [line for line in out.splitlines() if line.startswith("arch ")]
    _, listed, _ = status(["--list-arches", str(path)])
    names = [line.split()[0] for line in listed.splitlines() if not line.startswith(" ")]
    assert [head.split()[1] for head in heads] == names and names[-1] == "mine"
    assert "\n\narch mine extends generic\n" in out


def test_show_arch_with_a_list_is_an_input_error() -> None:
    code, out, err = status(["--show-arch", "x86,arm64"])
    assert code == 2 and not out
    assert err == "error: --show-arch takes one arch name, or all\n"
