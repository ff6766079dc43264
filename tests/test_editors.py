"""The editor files (editors/vscode, editors/vim) against the language they highlight.

What a word is comes from grammar/flow.lark itself: the keywords are its literal terminals, and
the ground truth for a file is what Lark's own lexer and parser make of it (keep_all_tokens
keeps the keyword tokens in the tree, a lexer callback collects the comments). Every keyword,
number, string, comment, call name and fn name of the shipped specs must get a scope of the
right kind from the TextMate grammar (tokenized by tests/textmate.py) and a group of the right
kind from the Vim syntax file (run in `vim -Es -u NONE`; skipped when there is no vim: CI needs
the Debian package `vim` or `vim-nox`, see docs/editors.md).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from helpers import REPO
from lark import Lark, Token
from lark.lexer import PatternRE, PatternStr
from textmate import Grammar

from checker.front.model import VERDICTS
from checker.front.resources import grammar_text

VSCODE = REPO / "editors" / "vscode"
VIM = REPO / "editors" / "vim"
TMGRAMMAR = VSCODE / "syntaxes" / "flow.tmLanguage.json"

# Keywords the shipped specs happen not to use, in their places (the test below fails when
# the grammar gains a keyword that neither the specs nor this text show).
EXTRA = """\
arch extra_words extends generic {
    cache L1 vipt colors 4
    fn f(p: page) { m = map p color any; unmap m }
}
protocol extra_words {
    page p
    thread t {
        either { lock l } or { repeat 2 { unlock l } }
    }
}
"""


@dataclass(frozen=True)
class Word:
    """A piece of a file as Lark sees it: its kind, text and 1-based line and column."""

    kind: str  # "keyword", "number", "string", "comment", "call", "function"
    text: str
    line: int
    col: int


@cache
def keyword_terminals() -> dict[str, frozenset[str]]:
    """The terminals of grammar/flow.lark that are keywords, by name, with their words: the
    literal words (`"flush"`) and the alternations of words (`"colour" | "color"`)."""
    found = {}
    for terminal in Lark(grammar_text(), parser="lalr", lexer="contextual").terminals:
        pattern = terminal.pattern
        if isinstance(pattern, PatternStr) and pattern.value.isidentifier():
            found[terminal.name] = frozenset({pattern.value})
        elif isinstance(pattern, PatternRE):
            alternatives = re.fullmatch(r"\(\?:([a-z_|]+)\)", pattern.value)
            if alternatives:
                found[terminal.name] = frozenset(alternatives.group(1).split("|"))
    return found


def keywords() -> set[str]:
    """Every keyword of grammar/flow.lark."""
    return set().union(*keyword_terminals().values())


_COMMENTS: list[Token] = []  # what the lexer callbacks of _parser() collect


@cache
def _parser() -> Lark:
    return Lark(grammar_text(), parser="lalr", lexer="contextual", keep_all_tokens=True,
                lexer_callbacks={"LINE_COMMENT": _COMMENTS.append,
                                 "BLOCK_COMMENT": _COMMENTS.append})


def words_of(text: str) -> list[Word]:
    """What Lark's parser sees in `text`, kinds as above."""
    _COMMENTS.clear()
    tree = _parser().parse(text)
    comments = list(_COMMENTS)
    terminals = keyword_terminals()
    found = [Word("comment", t, t.line, t.column) for t in comments]
    for token in tree.scan_values(lambda v: isinstance(v, Token)):
        kind = ("keyword" if token.type in terminals else
                {"INT": "number", "STRING": "string"}.get(token.type))
        if kind:
            found.append(Word(kind, str(token), token.line, token.column))
    for subtree in tree.iter_subtrees():
        first = subtree.children[0] if subtree.children else None
        if subtree.data == "call" and isinstance(first, Token):
            found.append(Word("call", str(first), first.line, first.column))
        elif subtree.data == "fn" and len(subtree.children) > 1:
            name = subtree.children[1]
            found.append(Word("function", str(name), name.line, name.column))
    return found


def sample() -> dict[str, str]:
    """The shipped specs (arch files included) and EXTRA, by name."""
    texts = {str(p.relative_to(REPO)): p.read_text(encoding="utf-8")
             for p in sorted((REPO / "specs").rglob("*.flow"))}
    texts["EXTRA"] = EXTRA
    return texts


@cache
def sample_words() -> dict[str, list[Word]]:
    return {name: words_of(text) for name, text in sample().items()}


# What each kind of word may be: TextMate scope prefixes (of the innermost scope, or any scope
# for strings and comments), and Vim highlight groups (after links, as a colour scheme sees
# them; numbers, strings and calls by their own group, since Constant and Identifier are
# shared).
SCOPES = {
    "keyword": ("keyword.", "storage.", "constant.language.", "support.function."),
    "number": ("constant.numeric.",),
    "string": ("string.",),
    "comment": ("comment.",),
    "call": ("entity.name.function.", "support.function."),
    "function": ("entity.name.function.",),
}
VIM_GROUPS = {
    "keyword": {"Statement", "Type", "Constant"},
    "number": {"flowNumber"},
    "string": {"flowString"},
    "comment": {"Comment"},
    "call": {"flowCall", "flowBuiltin"},
    "function": {"flowFunctionName"},
}


def tm_grammar() -> Grammar:
    return Grammar(json.loads(TMGRAMMAR.read_text(encoding="utf-8")))


def scope_ok(kind: str, scopes: list[str]) -> bool:
    candidates = scopes if kind in ("string", "comment") else scopes[-1:]
    return any(s.startswith(SCOPES[kind]) for s in candidates)


# -- the files are what their editors read ----------------------------------------------------


def _regexes(rule: object) -> list[str]:
    """Every regex in a TextMate grammar (match, begin, end), anywhere in it."""
    if isinstance(rule, dict):
        own = [rule[k] for k in ("match", "begin", "end") if isinstance(rule.get(k), str)]
        return own + [r for value in rule.values() for r in _regexes(value)]
    if isinstance(rule, list):
        return [r for value in rule for r in _regexes(value)]
    return []


def test_the_vscode_extension_folder_is_complete() -> None:
    package = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    (language,) = package["contributes"]["languages"]
    assert language["id"] == "flow" and language["extensions"] == [".flow"]
    configuration = json.loads((VSCODE / language["configuration"]).read_text(encoding="utf-8"))
    assert configuration["comments"] == {"lineComment": "//", "blockComment": ["/*", "*/"]}
    assert ["{", "}"] in configuration["brackets"] and ["(", ")"] in configuration["brackets"]
    assert {"open": "{", "close": "}"} in configuration["autoClosingPairs"]
    (grammar,) = package["contributes"]["grammars"]
    assert grammar["language"] == "flow" and grammar["scopeName"] == "source.flow"
    assert (VSCODE / grammar["path"]).resolve() == TMGRAMMAR
    # The client is plain JavaScript on node's library and the vscode API: no npm step.
    assert not package.get("dependencies") and "scripts" not in package
    main = package.get("main")
    if main:
        assert (VSCODE / main).is_file()


def test_the_textmate_grammar_is_valid() -> None:
    grammar = json.loads(TMGRAMMAR.read_text(encoding="utf-8"))
    assert grammar["scopeName"] == "source.flow" and grammar["fileTypes"] == ["flow"]
    for regex in _regexes(grammar):
        re.compile(regex)  # the common subset of Oniguruma and Python's re
    includes = re.findall(r'"include": "#([\w-]+)"', TMGRAMMAR.read_text(encoding="utf-8"))
    assert set(includes) <= set(grammar["repository"])
    assert set(grammar["repository"]) <= set(includes)  # nothing left unused


def test_every_keyword_of_the_lark_grammar_is_in_the_editor_files() -> None:
    words = keywords()
    assert {"arch", "protocol", "flush", "purge_tlb", "colour", "colors"} <= words  # sanity
    regexes = "\n".join(_regexes(json.loads(TMGRAMMAR.read_text(encoding="utf-8"))))
    vim = (VIM / "syntax" / "flow.vim").read_text(encoding="utf-8")
    for word in sorted(words):
        alone = rf"(?<![\w]){word}(?![\w])"
        assert re.search(alone, regexes), f"{word}: not in the TextMate grammar"
        assert re.search(alone, vim), f"{word}: not in syntax/flow.vim"
    # The sample below shows each of them in its place.
    seen = {w.text for found in sample_words().values() for w in found if w.kind == "keyword"}
    assert seen == words


def test_the_verdicts_are_the_models() -> None:
    grammar = json.loads(TMGRAMMAR.read_text(encoding="utf-8"))
    (verdicts,) = [p["match"] for p in grammar["repository"]["expect-line"]["patterns"]
                   if p.get("name") == "constant.language.verdict.flow"]
    assert set(re.findall(r"\w+", verdicts.replace(r"\b", ""))) == set(VERDICTS)
    vim = (VIM / "syntax" / "flow.vim").read_text(encoding="utf-8")
    (line,) = [line for line in vim.split("\n") if line.startswith("syn keyword flowVerdict")]
    assert set(line.split()[3:]) == set(VERDICTS)


# -- TextMate -----------------------------------------------------------------------------------


def test_the_textmate_grammar_scopes_every_word_of_the_specs() -> None:
    grammar = tm_grammar()
    wrong = []
    for name, text in sample().items():
        scopes = grammar.tokenize(text)
        for word in sample_words()[name]:
            at = scopes[word.line - 1][word.col - 1]
            if not scope_ok(word.kind, at):
                wrong.append(f"{name}:{word.line}:{word.col} {word.kind} {word.text!r}: {at}")
    assert not wrong, "\n".join(wrong[:20])


# Lines of the specs and what their words are scoped (the innermost scope at the word's first
# character), as a theme sees them.
LINES = [
    ("arch parisc extends generic {", {
        "arch": "storage.type.arch.flow", "parisc": "entity.name.type.arch.flow",
        "extends": "storage.modifier.extends.flow",
        "generic": "entity.other.inherited-class.arch.flow"}),
    ('    doc "PA-RISC (Linux v5.0)"', {
        "doc": "keyword.other.doc.flow", "PA-RISC": "string.quoted.double.flow"}),
    ("    cache L1 vipt colours 4 write_back line_words 1", {
        "cache": "storage.type.cache.flow", "L1": "entity.name.type.cache-level.flow",
        "vipt": "constant.language.indexing.flow", "colours": "keyword.other.cache.flow",
        "4": "constant.numeric.integer.decimal.flow", "write_back": "constant.language.cache.flow",
        "line_words": "keyword.other.cache.flow"}),
    ("    speculative_fill tlb", {
        "speculative_fill": "keyword.other.setting.flow", "tlb": "constant.language.setting.flow"}),
    ("    fn kmap(p: page) -> mapping { return map p colour linear }", {
        "fn": "storage.type.function.flow", "kmap": "entity.name.function.flow",
        "p:": "variable.parameter.flow", "page": "storage.type.flow",
        "->": "keyword.operator.arrow.flow", "mapping": "storage.type.flow",
        "return": "keyword.control.return.flow", "map": "keyword.other.map.flow",
        "colour": "keyword.other.colour.flow", "linear": "constant.language.colour.flow"}),
    ("    on user_map(p: page) {", {
        "on": "storage.type.function.hook.flow", "user_map": "entity.name.function.hook.flow"}),
    ("        if file(p) and not mapped(p) { clear p.dcache_clean }", {
        "if": "keyword.control.conditional.flow", "file": "support.function.predicate.flow",
        "and": "keyword.operator.logical.flow", "not": "keyword.operator.logical.flow",
        "mapped": "support.function.predicate.flow", "clear": "keyword.other.flag.flow",
        "dcache_clean": "variable.other.property.flag.flow"}),
    ("        flush kernel(p) cost 128  // the linear alias", {
        "flush": "keyword.other.maintenance.flow", "kernel": "support.function.alias.flow",
        "cost": "keyword.other.cost.flow", "128": "constant.numeric.integer.decimal.flow",
        "//": "punctuation.definition.comment.flow", "linear": "comment.line.double-slash.flow"}),
    ("protocol set_bit_to_user {", {
        "protocol": "storage.type.protocol.flow",
        "set_bit_to_user": "entity.name.type.protocol.flow"}),
    ("    page log anon highmem words 2", {
        "page": "storage.type.page.flow", "log": "variable.other.page.flow",
        "anon": "storage.modifier.page.flow", "highmem": "storage.modifier.page.flow",
        "words": "keyword.other.words.flow"}),
    ("    mapping qemu = user(log) colour any", {
        "mapping": "storage.type.mapping.flow", "qemu": "variable.other.mapping.flow",
        "user": "support.function.alias.flow", "any": "constant.language.colour.flow"}),
    ("    start kernel(log) dirty", {
        "start": "keyword.other.start.flow", "kernel": "support.function.alias.flow",
        "dirty": "constant.language.start-state.flow"}),
    ("    thread vhost {", {
        "thread": "storage.type.thread.flow", "vhost": "entity.name.function.thread.flow"}),
    ("        k = kmap_atomic(log)", {
        "=": "keyword.operator.assignment.flow", "kmap_atomic": "entity.name.function.call.flow"}),
    ("        dma_map_page(log, DMA_FROM_DEVICE)", {
        "dma_map_page": "entity.name.function.call.flow",
        "DMA_FROM_DEVICE": "constant.other.dma-direction.flow"}),
    ("        write k[0]; copy k <- src; u = mmap(log) at qemu", {
        "write": "keyword.other.access.flow", "copy": "keyword.other.access.flow",
        "<-": "keyword.operator.copy.flow", "mmap": "support.function.builtin.flow",
        "at": "keyword.other.at.flow"}),
    ("        either { signal synced } or { wait synced }", {
        "either": "keyword.control.flow", "signal": "keyword.other.sync.flow",
        "synced": "variable.other.event.flow", "or": "keyword.control.either.flow",
        "wait": "keyword.other.sync.flow"}),
    ("    expect stale_read, redundant_flush at 18 on arm_v6, parisc", {
        "expect": "keyword.other.expect.flow", "stale_read": "constant.language.verdict.flow",
        "redundant_flush": "constant.language.verdict.flow", "at": "keyword.other.at.flow",
        "18": "constant.numeric.integer.decimal.flow", "on": "keyword.other.on.flow",
        "arm_v6": "entity.name.type.arch.flow", "parisc": "entity.name.type.arch.flow"}),
    # Contextual keywords: a page may be named `file`, a thread `read`.
    ("    page file; thread read { }", {
        "file": "variable.other.page.flow", "read": "entity.name.function.thread.flow"}),
]


@pytest.mark.parametrize(("line", "expected"), LINES, ids=[line for line, _ in LINES])
def test_sample_lines_tokenize_to_the_expected_scopes(line: str, expected: dict[str, str]) -> None:
    (scopes,) = tm_grammar().tokenize(line)
    for word, scope in expected.items():
        at = _find(line, word)
        assert scopes[at][-1] == scope, (word, scopes[at])


def _find(line: str, word: str) -> int:
    """Where `word` stands alone in `line` (`map`, not the one in `kmap`)."""
    match = re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", line)
    assert match is not None, word
    return match.start()


def test_a_block_comment_spans_lines() -> None:
    scopes = tm_grammar().tokenize("/* one\n   arch two */\narch x {")
    assert scopes[1][3][-1] == "comment.block.flow"  # `arch` inside the comment
    assert scopes[2][0][-1] == "storage.type.arch.flow"  # after it


# -- Vim --------------------------------------------------------------------------------------

vim = shutil.which("vim")
# Under CI (CI=true; .ci/run installs vim) a missing vim fails the tests instead.
needs_vim = pytest.mark.skipif(vim is None and not os.environ.get("CI"),
                               reason="no vim (apt-get install vim)")


def _vim_groups(tmp_path: Path, files: dict[str, str],
                positions: list[tuple[str, int, int]]) -> list[tuple[str, str]]:
    """The syntax group at each (file, line, byte column), and the group it links to."""
    assert vim is not None, "CI must run the Vim tests: apt-get install vim"
    paths = {}
    for index, (name, text) in enumerate(files.items()):
        paths[name] = tmp_path / f"f{index}.flow"
        paths[name].write_text(text, encoding="utf-8")
    (tmp_path / "positions").write_text(
        "\n".join(f"{paths[n]}\t{line}\t{col}" for n, line, col in positions), encoding="utf-8")
    script = tmp_path / "groups.vim"
    script.write_text(f"""\
set runtimepath^={VIM}
filetype plugin on
syntax on
let s:out = [&runtimepath]
let s:file = ''
for s:row in readfile('{tmp_path / 'positions'}')
  let [s:path, s:line, s:col] = split(s:row, "\\t")
  if s:path !=# s:file
    execute 'edit ' . fnameescape(s:path)
    let s:file = s:path
    call add(s:out, 'filetype=' . &filetype . ' commentstring=' . &commentstring)
  endif
  let s:id = synID(str2nr(s:line), str2nr(s:col), 1)
  call add(s:out, synIDattr(s:id, 'name') . "\\t" . synIDattr(synIDtrans(s:id), 'name'))
endfor
call writefile(s:out, '{tmp_path / 'out'}')
qall!
""", encoding="utf-8")
    subprocess.run([vim, "-Es", "-u", "NONE", "-i", "NONE", "-N", "-S", str(script)],
                   check=False, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    lines = (tmp_path / "out").read_text(encoding="utf-8").split("\n")[1:-1]
    for line in lines:
        if line.startswith("filetype="):
            assert line == "filetype=flow commentstring=// %s"
    return [tuple(line.split("\t")) for line in lines if not line.startswith("filetype=")]


def _byte_col(text: str, line: int, col: int) -> int:
    row = text.split("\n")[line - 1]
    return len(row[: col - 1].encode("utf-8")) + 1


@needs_vim
def test_vim_highlights_every_word_of_the_specs(tmp_path: Path) -> None:
    texts = sample()
    positions, words = [], []
    for name, found in sample_words().items():
        for word in found:
            positions.append((name, word.line, _byte_col(texts[name], word.line, word.col)))
            words.append((name, word))
    groups = _vim_groups(tmp_path, texts, positions)
    assert len(groups) == len(words)
    wrong = [f"{name}:{w.line}:{w.col} {w.kind} {w.text!r}: {group} -> {linked}"
             for (name, w), (group, linked) in zip(words, groups, strict=True)
             if not ({group, linked} & VIM_GROUPS[w.kind])]
    assert not wrong, "\n".join(wrong[:20])


@needs_vim
def test_vim_names_the_declared_words(tmp_path: Path) -> None:
    text = "\n".join(line for line, _ in LINES)
    expected = {  # (line, word) -> group
        (1, "parisc"): "flowBlockName", (1, "generic"): "flowParentName",
        (5, "kmap"): "flowFunctionName", (5, "p:"): "flowParam", (5, "page"): "flowType",
        (6, "user_map"): "flowFunctionName", (10, "log"): "flowDeclName",
        (13, "vhost"): "flowThreadName", (14, "kmap_atomic"): "flowCall",
        (15, "DMA_FROM_DEVICE"): "flowDirection", (16, "mmap"): "flowBuiltin",
        (7, "dcache_clean"): "flowFlag", (18, "stale_read"): "flowVerdict",
        (19, "file"): "flowDeclName", (19, "read"): "flowThreadName",
    }
    rows = text.split("\n")
    positions = [("sample", line, _find(rows[line - 1], word) + 1) for line, word in expected]
    groups = _vim_groups(tmp_path, {"sample": text}, positions)
    got = {key: group for key, (group, _) in zip(expected, groups, strict=True)}
    assert got == expected


# -- the VS Code client -----------------------------------------------------------------------

node = shutil.which("node")


@pytest.mark.skipif(node is None and not os.environ.get("CI"),
                    reason="no node (apt-get install nodejs)")
def test_the_vscode_client_talks_to_the_server(tmp_path: Path) -> None:
    """extension.js under plain node, with a stand-in for the vscode module
    (tests/vscode/vscode.js), against `python -m checker lsp`."""
    assert node is not None, "CI must run the VS Code client test: apt-get install nodejs"
    from test_lsp import PROTOCOL, at

    shim = tmp_path / "node_path" / "vscode"
    shim.mkdir(parents=True)
    (shim / "index.js").write_text(
        f"module.exports = require({json.dumps(str(REPO / 'tests/vscode/vscode.js'))});\n",
        encoding="utf-8")
    broken = PROTOCOL.replace("put_page(log)", "put_pag(log)")
    where = at(PROTOCOL, "kunmap_atomic(k)", 2)
    uri = (tmp_path / "doc.flow").as_uri()
    arguments = [str(VSCODE / "extension.js"), sys.executable, uri, broken, PROTOCOL,
                 where.line, where.character]
    env = {"PATH": os.environ.get("PATH", ""), "NODE_PATH": str(tmp_path / "node_path"),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([node, str(REPO / "tests/vscode/drive.js"), json.dumps(arguments)],
                          capture_output=True, text=True, timeout=60, cwd=REPO, env=env,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    (first,) = result["first"]
    assert first["message"].startswith("unknown function 'put_pag'")
    assert first["severity"] == 0  # vscode's DiagnosticSeverity.Error
    start = at(broken, "put_pag")
    assert first["range"]["start"] == {"line": start.line, "character": start.character}
    assert "#### parisc" in result["hover"]["contents"]["value"]
    files = sorted(Path(d["uri"]["text"]).name for d in result["definition"])
    assert files == ["generic.flow", "parisc.flow"]
    assert {"kunmap_atomic", "log", "k"} <= set(result["completion"])
    assert "flush" not in result["completion"]  # arch-only: not offered in a protocol
    assert result["errors"] == []
