"""The language server (`flowcheck lsp`, checker/lsp/) driven by pygls's own LanguageClient.

The server runs as a subprocess over stdio, started the way an editor starts it (`python -m
checker lsp`), rather than in this process: that way the tests also hold the `lsp` hook of
cli.py, the LSP framing on real pipes, and that nothing the checker prints can reach stdout
(where it would corrupt the protocol). One server serves the whole module (its start-up is
the slow part, about half a second); each test opens its own documents. The client's asyncio
loop runs in a thread of its own, so the tests stay plain functions (no pytest plugin).

The documents' URIs name files that do not exist, or that hold other text: the server must
check the editor's buffer, never the disk.
"""

from __future__ import annotations

import asyncio
import re
import sys
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from helpers import REPO
from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path, to_fs_path

T = TypeVar("T")
TIMEOUT = 20.0

PROTOCOL = """\
// A protocol to edit (tests/test_lsp.py).
protocol vhost_log {
    page log anon
    mapping qemu = user(log)

    thread vhost {
        get_user_pages_fast(log)
        k = kmap_atomic(log)
        write k[0]
        kunmap_atomic(k)
        flush_dcache_page(log)
        put_page(log)
        signal synced
    }

    thread qemu {
        read qemu[0]
        wait synced
        read qemu[0]
    }
    expect stale_read on arm_v6
    expect redundant_flush on parisc
}
"""


class Session:
    """A running server and a client talking to it; `run` awaits a coroutine on the
    client's loop from the test's thread."""

    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client = LanguageClient("flowcheck-tests", "1")
        self.diagnostics: dict[str, list[tuple[int | None, list[types.Diagnostic]]]] = {}
        self.changed = asyncio.Condition()
        self.tmp = tmp
        self.versions: dict[str, int] = {}

        self.messages: list[types.ShowMessageParams] = []

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        async def published(params: types.PublishDiagnosticsParams) -> None:
            async with self.changed:
                self.diagnostics.setdefault(params.uri, []).append(
                    (params.version, list(params.diagnostics)))
                self.changed.notify_all()

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)
        async def shown(params: types.ShowMessageParams) -> None:
            async with self.changed:
                self.messages.append(params)
                self.changed.notify_all()

        self.run(self._start())

    async def _start(self) -> None:
        env = {"XDG_CACHE_HOME": str(self.tmp / "cache"), "PATH": "/usr/bin:/bin",
               "PYTHONPATH": str(REPO)}
        await self.client.start_io(sys.executable, "-m", "checker", "lsp", cwd=str(REPO),
                                   env=env)
        await self.client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri=from_fs_path(str(self.tmp)),
        ))
        self.client.initialized(types.InitializedParams())

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(TIMEOUT)

    def call(self, function, params) -> Any:
        """A request, answered."""
        return self.run(function(params))

    def close(self) -> None:
        async def stop() -> None:
            await self.client.shutdown_async(None)
            self.client.exit(None)
            await self.client.stop()

        try:
            self.run(stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(TIMEOUT)

    # -- documents ----------------------------------------------------------------------------

    def open(self, name: str, text: str) -> str:
        uri = from_fs_path(str(self.tmp / name))
        self.versions[uri] = 1
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id="flow", version=1, text=text)))
        return uri

    def change(self, uri: str, text: str) -> None:
        self.versions[uri] += 1
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
            [types.TextDocumentContentChangeWholeDocument(text=text)]))

    def diagnostics_of(self, uri: str) -> list[types.Diagnostic]:
        """The diagnostics published for the document's latest version."""
        version = self.versions[uri]

        async def wait() -> list[types.Diagnostic]:
            async with self.changed:
                while True:
                    for published, found in reversed(self.diagnostics.get(uri, [])):
                        if published == version:
                            return found
                    await self.changed.wait()

        return self.run(wait())

    def messages_with(self, text: str) -> list[types.ShowMessageParams]:
        """The messages shown to the user (window/showMessage) that contain `text`, once
        there is one."""

        async def wait() -> list[types.ShowMessageParams]:
            async with self.changed:
                while not (found := [m for m in self.messages if text in m.message]):
                    await self.changed.wait()
                return found

        return self.run(wait())

    def hover(self, uri: str, position: types.Position) -> types.Hover | None:
        return self.call(self.client.text_document_hover_async,
                         types.HoverParams(types.TextDocumentIdentifier(uri), position))

    def definition(self, uri: str, position: types.Position) -> list[types.Location]:
        found = self.call(self.client.text_document_definition_async,
                          types.DefinitionParams(types.TextDocumentIdentifier(uri), position))
        if found is None:
            return []
        return found if isinstance(found, list) else [found]

    def completion(self, uri: str, position: types.Position) -> list[str]:
        found = self.call(self.client.text_document_completion_async,
                          types.CompletionParams(types.TextDocumentIdentifier(uri), position))
        items = found.items if isinstance(found, types.CompletionList) else (found or [])
        return [item.label for item in items]

    def configure(self, settings: Any) -> None:
        self.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings=settings))


@pytest.fixture(scope="module")
def lsp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    session = Session(tmp_path_factory.mktemp("lsp"))
    try:
        yield session
    finally:
        session.close()


def at(text: str, needle: str, into: int = 0, occurrence: int = 0) -> types.Position:
    """The 0-based position of `needle` in `text` (its `occurrence`-th), `into` characters in."""
    starts = [m.start() for m in re.finditer(re.escape(needle), text)]
    offset = starts[occurrence] + into
    line = text.count("\n", 0, offset)
    return types.Position(line, offset - (text.rfind("\n", 0, offset) + 1))


def word_range(text: str, needle: str, occurrence: int = 0) -> types.Range:
    start = at(text, needle, 0, occurrence)
    return types.Range(start, types.Position(start.line, start.character + len(needle)))


def lines_of(uri: str) -> list[str]:
    path = to_fs_path(uri)
    assert path is not None
    return Path(path).read_text(encoding="utf-8").split("\n")


# -- diagnostics ------------------------------------------------------------------------------


def test_a_clean_document_has_no_diagnostics(lsp: Session) -> None:
    uri = lsp.open("clean.flow", PROTOCOL)
    assert lsp.diagnostics_of(uri) == []


def test_a_syntax_error_is_located_then_clears_when_fixed(lsp: Session) -> None:
    broken = PROTOCOL.replace("write k[0]", "write k[0] +")
    uri = lsp.open("syntax.flow", broken)
    (found,) = lsp.diagnostics_of(uri)
    assert found.message == "unexpected character '+'"
    assert found.severity == types.DiagnosticSeverity.Error
    assert found.source == "flowcheck"
    assert found.range == word_range(broken, "+")
    lsp.change(uri, PROTOCOL)
    assert lsp.diagnostics_of(uri) == []


def test_a_resolution_error_is_located_then_clears_when_fixed(lsp: Session) -> None:
    broken = PROTOCOL.replace("read qemu[0]\n        wait", "read qemux[0]\n        wait")
    uri = lsp.open("resolve.flow", broken)
    (found,) = lsp.diagnostics_of(uri)
    assert found.message == "unknown mapping 'qemux' (did you mean 'qemu'?)"
    assert found.range == word_range(broken, "qemux")
    lsp.change(uri, PROTOCOL)
    assert lsp.diagnostics_of(uri) == []


def test_the_buffer_is_checked_not_the_file_on_disk(lsp: Session) -> None:
    path = lsp.tmp / "on_disk.flow"
    path.write_text(PROTOCOL, encoding="utf-8")  # valid on disk, broken in the editor
    broken = PROTOCOL.replace("put_page(log)", "put_pag(log)")
    uri = lsp.open("on_disk.flow", broken)
    (found,) = lsp.diagnostics_of(uri)
    assert found.message.startswith("unknown function 'put_pag' on arch ")
    assert "(did you mean 'put_page'?)" in found.message
    assert found.range == word_range(broken, "put_pag")


def test_an_error_inside_an_arch_file_is_shown_at_the_call(lsp: Session) -> None:
    """memcpy_to_page copies the source into the page: pages of different sizes are an
    error in generic.flow's body, reached from the document's call."""
    text = PROTOCOL.replace("page log anon", "page log anon\n    page big words 2").replace(
        "put_page(log)", "b = kmap(big)\n        memcpy_to_page(log, b)")
    uri = lsp.open("deep.flow", text)
    (found,) = lsp.diagnostics_of(uri)
    assert found.message.startswith("copy needs pages of the same size")
    assert "(in generic.flow:" in found.message
    assert "reached through memcpy_to_page" in found.message
    assert found.range == word_range(text, "memcpy_to_page")
    (related,) = found.related_information or []
    assert related.location.uri.endswith("/specs/arch/generic.flow")
    line = lines_of(related.location.uri)[related.location.range.start.line]
    assert line[related.location.range.start.character:].startswith("copy ")


def test_warnings_are_warnings(lsp: Session) -> None:
    text = PROTOCOL.replace("wait synced", "wait syncd")
    uri = lsp.open("warning.flow", text)
    (found,) = lsp.diagnostics_of(uri)
    assert found.severity == types.DiagnosticSeverity.Warning
    assert found.message.startswith("nothing signals 'syncd' (did you mean 'synced'?)")
    assert found.range == word_range(text, "wait")


def test_the_server_survives_any_text(lsp: Session) -> None:
    """Whatever is typed, each version gets diagnostics and the server goes on answering."""
    uri = lsp.open("nasty.flow", "")
    nasty = [
        "\x00\x01\ufffe\U0001f600 }}}{{{",
        "protocol p { thread t { " + "either { " * 300,
        "arch a extends a { }\n" * 30,
        "protocol p {\n" + "page p\n" * 50 + "}",
        '"' + "x" * 10000,
        "/*",
        "protocol p { thread t { f(" + "," * 5000 + ") } }",
        PROTOCOL.replace("}", ""),
    ]
    for text in nasty:
        lsp.change(uri, text)
        found = lsp.diagnostics_of(uri)
        assert all(d.source == "flowcheck" for d in found)
        assert not any("internal error" in d.message for d in found), text[:40]
        lsp.hover(uri, types.Position(0, 3))
        lsp.completion(uri, types.Position(0, 3))
        lsp.definition(uri, types.Position(0, 3))
    lsp.change(uri, PROTOCOL)
    assert lsp.diagnostics_of(uri) == []
    assert lsp.hover(uri, at(PROTOCOL, "kunmap_atomic", 2)) is not None


# -- hover ------------------------------------------------------------------------------------


def _comment_above(path: Path, signature: str) -> str:
    """The last line of the comment above `fn NAME(` in an arch file: its kernel citation."""
    lines = path.read_text(encoding="utf-8").split("\n")
    index = next(i for i, line in enumerate(lines) if line.strip().startswith(signature))
    return lines[index - 1].strip()


def test_hover_on_an_api_call_shows_each_selected_arch(lsp: Session) -> None:
    uri = lsp.open("hover.flow", PROTOCOL)
    found = lsp.hover(uri, at(PROTOCOL, "kunmap_atomic(k)", 4))
    assert found is not None
    assert found.range == word_range(PROTOCOL, "kunmap_atomic")
    value = found.contents.value
    # The arches the expect lines name, one section each, in that order.
    assert re.findall(r"^#### (\w+)", value, re.M) == ["arm_v6", "parisc"]
    arm, parisc = value.split("#### parisc")
    # The citation comments come from the arch files that define the bodies: arm_v6 runs
    # generic's kunmap_atomic (no cache work), parisc its own (a flush and a TLB purge).
    assert _comment_above(REPO / "specs/arch/generic.flow", "fn kunmap_atomic(") in arm
    assert "inherited from generic" in arm and "no cache maintenance" in arm
    assert _comment_above(REPO / "specs/arch/parisc.flow", "fn kunmap_atomic(") in parisc
    assert "defined in parisc" in parisc and "`flush m`" in parisc


def test_hover_follows_the_arches_setting_and_says_no_op(lsp: Session) -> None:
    uri = lsp.open("setting.flow", PROTOCOL)
    lsp.configure({"flowcheck": {"arches": ["x86", "arm_vivt"]}})
    try:
        found = lsp.hover(uri, at(PROTOCOL, "flush_dcache_page", 3))
    finally:
        lsp.configure({"flowcheck": {"arches": None}})
    assert found is not None
    value = found.contents.value
    assert re.findall(r"^#### (\w+)", value, re.M) == ["x86", "arm_vivt"]
    x86, vivt = value.split("#### arm_vivt")
    assert "**no-op**" in x86
    assert "`flush kernel(p)`" in vivt
    assert _comment_above(REPO / "specs/arch/arm_vivt.flow", "fn flush_dcache_page(") in vivt


def test_hover_on_page_conditions_and_start_states_says_what_they_mean(lsp: Session) -> None:
    """The words a reader asks about: which kernel test `mapped` and `faulted` are, what a
    start state assumes. Words with another meaning elsewhere (`any` in `colour any`) and
    other keywords get no such text."""
    text = (REPO / "tests" / "litmus" / "unfaulted.flow").read_text(encoding="utf-8")
    uri = lsp.open("words.flow", text)

    def value(needle: str, into: int, occurrence: int = 0) -> str | None:
        found = lsp.hover(uri, at(text, needle, into, occurrence))
        return None if found is None else found.contents.value

    faulted = value("not faulted(p)", 5)
    assert faulted is not None and "folio_mapped" in faulted and "`faulted(p)`" in faulted
    mapped = value("not mapped(p)", 5)
    assert mapped is not None and "mapping_mapped" in mapped
    assert value("page pg file", 9).startswith("**`page file`**")
    unfaulted = value("start app unfaulted", 12)
    assert unfaulted is not None and "page fault" in unfaulted and "on user_map" in unfaulted
    assert "nothing of this alias is cached" in value("start app empty", 12)
    assert lsp.hover(uri, at(text, "expect stale_read", 2)) is None  # a keyword, no text
    other = "protocol p {\n    page pg file\n    mapping m = user(pg) colour any\n}\n"
    uri = lsp.open("colour_any.flow", other)
    assert lsp.hover(uri, at(other, "colour any", 8)) is None


def test_hover_on_a_broken_document_gives_no_stale_line(lsp: Session) -> None:
    """While the document does not load, its own functions and arches come from the last
    version that loaded: their line numbers are of that text (two lines were added above
    since), so the hover gives none and says where what it shows comes from."""
    uri = lsp.open("hover_broken.flow", VARIANT)
    assert lsp.diagnostics_of(uri) == []
    value = lsp.hover(uri, at(VARIANT, "kunmap_atomic(k)", 2)).contents.value
    assert "(hover_broken.flow:2)" in value and "last version" not in value
    broken = "// two lines\n// added\n" + VARIANT.replace("put_page(log)", "put_page(")
    lsp.change(uri, broken)
    assert lsp.diagnostics_of(uri)  # it does not parse
    note = ("*`hover_broken.flow` does not load as it is now: what it defines is shown as it "
            "was in the last version that loaded.*")
    for needle in ("kunmap_atomic(k)", "on arm_v6_flushing"):
        value = lsp.hover(uri, at(broken, needle, 4)).contents.value
        assert not re.search(r"hover_broken\.flow:\d", value), value
        assert "hover_broken.flow as it last loaded)" in value
        assert value.endswith(note)
    # The built-in arches' lines are not the document's: they stay.
    value = lsp.hover(uri, at(broken, "kunmap_atomic(k)", 2)).contents.value
    assert re.search(r"\(parisc\.flow:\d+\)", value)


def test_an_unknown_arch_in_the_setting_is_told_and_the_known_ones_used(lsp: Session) -> None:
    uri = lsp.open("setting_unknown.flow", PROTOCOL)
    assert lsp.diagnostics_of(uri) == []
    lsp.configure({"flowcheck": {"arches": ["nope", "x86"]}})
    try:
        (told,) = lsp.messages_with("'nope'")
        assert told.type == types.MessageType.Warning
        assert told.message == ("flowcheck: the `arches` setting names 'nope', which is no "
                                "arch: hover and go to definition use x86")
        value = lsp.hover(uri, at(PROTOCOL, "kunmap_atomic(k)", 2)).contents.value
        assert re.findall(r"^#### (\w+)", value, re.M) == ["x86"]
        # Told once, not again at each change.
        lsp.change(uri, PROTOCOL + "\n")
        lsp.diagnostics_of(uri)
        assert len(lsp.messages_with("'nope'")) == 1
        # No known arch at all: the default selection, said so.
        lsp.configure({"flowcheck": {"arches": ["parisx"]}})
        (told,) = lsp.messages_with("'parisx'")
        assert told.message.startswith("flowcheck: the `arches` setting names 'parisx' (did "
                                       "you mean 'parisc'?), which is no arch: hover and go "
                                       "to definition use the default arches instead")
        value = lsp.hover(uri, at(PROTOCOL, "kunmap_atomic(k)", 2)).contents.value
        assert re.findall(r"^#### (\w+)", value, re.M) == ["arm_v6", "parisc"]
        assert "the `arches` setting names no arch this document knows" in value
    finally:
        lsp.configure({"flowcheck": {"arches": None}})


# -- definition -------------------------------------------------------------------------------


def test_definition_of_an_api_call_is_in_the_arch_files(lsp: Session) -> None:
    uri = lsp.open("definition.flow", PROTOCOL)
    found = lsp.definition(uri, at(PROTOCOL, "kunmap_atomic(k)", 1))
    files = {Path(to_fs_path(loc.uri) or "").name: loc for loc in found}
    assert set(files) == {"generic.flow", "parisc.flow"}  # arm_v6 inherits generic's
    for location in found:
        assert location.uri.startswith("file:///") and Path(to_fs_path(location.uri)).is_file()
        line = lines_of(location.uri)[location.range.start.line]
        name = line[location.range.start.character:location.range.end.character]
        assert name == "kunmap_atomic" and line.lstrip().startswith("fn kunmap_atomic(")


def test_definition_of_an_arch_name_is_its_block(lsp: Session) -> None:
    uri = lsp.open("definition_arch.flow", PROTOCOL)
    (found,) = lsp.definition(uri, at(PROTOCOL, "on parisc", 4))
    assert found.uri.endswith("/specs/arch/parisc.flow")
    assert lines_of(found.uri)[found.range.start.line].startswith("arch parisc ")


def test_definition_of_names_is_in_the_document(lsp: Session) -> None:
    uri = lsp.open("definition_names.flow", PROTOCOL)
    cases = [
        (at(PROTOCOL, "write k[0]", 6), word_range(PROTOCOL, "k = ")),  # variable: its binding
        (at(PROTOCOL, "kmap_atomic(log)", 13), word_range(PROTOCOL, "log anon")),  # page
        (at(PROTOCOL, "read qemu[0]", 6), word_range(PROTOCOL, "qemu =")),  # mapping
        (at(PROTOCOL, "wait synced", 6), word_range(PROTOCOL, "synced")),  # event: signal
    ]
    for position, expected in cases:
        (found,) = lsp.definition(uri, position)
        assert found.uri == uri
        assert found.range.start == expected.start


# An arch the document defines, and a protocol that expects something of it.
VARIANT = """\
arch arm_v6_flushing extends arm_v6 {
    fn kunmap_atomic(m: mapping) {
        flush m
        unmap m
    }
}
""" + PROTOCOL.replace("on arm_v6\n", "on arm_v6_flushing\n")


def test_definition_of_the_documents_own_function_while_it_does_not_parse(lsp: Session) -> None:
    """The library of the last version that loaded has the `fn` at its old place (two
    lines have been added above since), and one typed since is not in it at all: the `fn`
    is found in the text as it is."""
    uri = lsp.open("definition_broken.flow", VARIANT)
    assert lsp.diagnostics_of(uri) == []
    broken = "// two lines\n// added\n" + VARIANT.replace("put_page(log)", "put_page(")
    lsp.change(uri, broken)
    assert lsp.diagnostics_of(uri)  # it does not parse
    found = lsp.definition(uri, at(broken, "kunmap_atomic(k)", 2))
    here = [location.range for location in found if location.uri == uri]
    assert here == [word_range(broken, "kunmap_atomic")]  # the `fn`, where it is now
    assert any(location.uri.endswith("/specs/arch/parisc.flow") for location in found)
    # A document that never loaded: the library has the built-in arches only.
    uri = lsp.open("definition_never.flow", broken)
    found = lsp.definition(uri, at(broken, "kunmap_atomic(k)", 2))
    assert [location.range for location in found if location.uri == uri] == [
        word_range(broken, "kunmap_atomic")]
    typed = broken.replace("        unmap m\n    }\n", "        unmap m\n    }\n"
                           "    fn new_helper(p: page) {\n    }\n", 1)
    typed = typed.replace("signal synced", "new_helper(log)\n        signal synced")
    lsp.change(uri, typed)
    (found,) = lsp.definition(uri, at(typed, "new_helper(log)", 2))
    assert found.uri == uri and found.range == word_range(typed, "new_helper")


# -- completion -------------------------------------------------------------------------------


def test_completion_offers_api_names_and_the_names_in_scope(lsp: Session) -> None:
    from checker.front.load import load_files

    # A statement being typed: the document does not parse while it is half written.
    text = PROTOCOL.replace("        write k[0]\n", "        write k[0]\n        fl\n")
    uri = lsp.open("complete.flow", text)
    labels = lsp.completion(uri, at(text, "        fl\n", 10))
    generic = load_files([]).library.arches["generic"]
    assert set(generic.functions) <= set(labels)  # every API function
    assert {"log", "qemu", "k"} <= set(labels)  # pages, mappings, variables bound above
    # In an operand's place, only pages and mappings, and only those bound above the cursor.
    labels = lsp.completion(uri, at(text, "kmap_atomic(log)", 12))
    assert set(labels) == {"log", "qemu"}


# Where statements and declarations are completed: `$` is where one goes.
IN_THREAD = PROTOCOL.replace("        kunmap_atomic(k)\n", "        $\n        kunmap_atomic(k)\n")
IN_PROTOCOL = PROTOCOL.replace("    mapping qemu = user(log)\n",
                               "    mapping qemu = user(log)\n    $\n")
IN_DEVICE = PROTOCOL.replace("    thread qemu {", "    device dma {\n        $\n    }\n"
                             "    thread qemu {")
ARCH_BODY = """\
arch completing extends generic {
    fn f(p: page, m: mapping) -> mapping {
        x = map p
        $
        return x
    }
}
"""


def _completed(lsp: Session, uri: str, text: str) -> list[str]:
    """The labels offered at `$` in `text` (without the `$`, the document's text)."""
    lsp.change(uri, text.replace("$", ""))
    return lsp.completion(uri, at(text, "$"))


def test_completion_after_set_or_clear_is_a_page_or_mapping(lsp: Session) -> None:
    """`set P.FLAG`: the words after which an operand goes are outline.OPERANDS, for the
    scan and completion both; `set` and `clear` are among them (no function goes there)."""
    uri = lsp.open("complete_set.flow", ARCH_BODY)
    for word in ("set", "clear"):
        assert set(_completed(lsp, uri, ARCH_BODY.replace("$", f"{word} $"))) == {"p", "m", "x"}


def test_completion_offers_only_names_the_checker_takes_there(lsp: Session) -> None:
    """A name is offered where an operand goes only if it is of the kind taken there (read
    takes a mapping, mmap a page, munmap a user mapping...): each one offered, written
    there, makes a document with no diagnostics."""
    cases = [
        (IN_THREAD, "read $[0]", {"qemu", "k"}),  # not the page `log`
        (IN_THREAD, "copy k <- $", {"qemu", "k"}),
        (IN_THREAD, "u = mmap($)", {"log"}),
        (IN_THREAD, "munmap($)", {"qemu"}),  # not `k`: a kmap handle is no user mapping
        (IN_THREAD, "lock mu\n        unlock $", {"mu"}),
        (IN_DEVICE, "dma_read $[0]", {"log"}),
        (ARCH_BODY, "y = map $", {"p"}),
        (ARCH_BODY, "unmap $", {"m", "x"}),
        (ARCH_BODY, "y = map p colour user($)", {"p"}),
        (IN_PROTOCOL, "mapping other = user($)", {"log"}),
        (IN_PROTOCOL, "start $ clean", {"qemu"}),
        (IN_PROTOCOL, "start kernel($) dirty", {"log"}),
    ]
    uri = lsp.open("complete_kinds.flow", PROTOCOL)
    for text, statement, expected in cases:
        template = text.replace("$", statement)
        labels = _completed(lsp, uri, template)
        assert set(labels) == expected, statement
        for label in labels:
            lsp.change(uri, template.replace("$", label))
            assert lsp.diagnostics_of(uri) == [], (statement, label)
    # `flush NAME` takes a mapping; a page's aliases are `flush kernel(P)` and the like.
    assert set(_completed(lsp, uri, ARCH_BODY.replace("$", "flush $"))) == {
        "m", "x", "kernel", "user", "all"}


def test_completion_offers_no_statement_the_checker_rejects(lsp: Session) -> None:
    uri = lsp.open("complete_rejected.flow", PROTOCOL)
    # After `=` in a protocol: functions that return a mapping and mmap; not `map`, a cache
    # micro-operation ("'map' is a cache micro-operation..."), nor kunmap or munmap, which
    # return nothing.
    labels = set(_completed(lsp, uri, IN_THREAD.replace("$", "u = $")))
    assert {"kmap", "kmap_atomic", "mmap"} <= labels
    assert not labels & {"map", "kunmap", "kunmap_atomic", "munmap", "flush_dcache_page"}
    # Where a statement starts in a protocol: no cache micro-operation, no `mmap` without
    # a variable to keep its mapping in.
    labels = set(_completed(lsp, uri, IN_THREAD))
    assert {"read", "signal", "munmap", "flush_dcache_page"} <= labels
    assert not labels & {"map", "unmap", "flush", "set", "if", "return", "mmap"}
    # In an arch function, `map` after `=`; after `return`, a mapping but not mmap's.
    assert "map" in _completed(lsp, uri, ARCH_BODY.replace("$", "y = $"))
    labels = set(_completed(lsp, uri, ARCH_BODY.replace("$", "return $")))
    assert {"m", "x", "map", "kmap"} <= labels and not labels & {"p", "mmap", "kunmap"}
    # A device: its statements only.
    assert set(_completed(lsp, uri, IN_DEVICE)) == {
        "dma_read", "dma_write", "signal", "wait", "lock", "unlock", "either", "or", "repeat"}
    assert _completed(lsp, uri, IN_DEVICE.replace("$", "read $")) == []


def test_completion_never_offers_the_word_being_typed(lsp: Session) -> None:
    """`signal d` half typed: `d` is in the text, but it is no event yet."""
    uri = lsp.open("complete_typed.flow", PROTOCOL)
    for typed in ("signal d$", "wait sy$", "signal $"):
        assert _completed(lsp, uri, IN_THREAD.replace("$", typed)) == ["synced"], typed
    assert _completed(lsp, uri, IN_THREAD.replace("$", "lock mu\n        unlock m$")) == ["mu"]


def test_positions_are_utf16_and_lines_end_at_crlf_too(lsp: Session) -> None:
    """The client's positions count UTF-16 code units (an emoji is two) and LSP's lines end
    at \\r\\n too; flowcheck counts characters and lines at \\n: the server converts."""
    text = PROTOCOL.replace("write k[0]", "write k[0] /* \U0001f600 */ +").replace("\n", "\r\n")
    uri = lsp.open("utf16.flow", text)
    (found,) = lsp.diagnostics_of(uri)
    assert found.message == "unexpected character '+'"
    row = next(i for i, line in enumerate(text.split("\r\n")) if "+" in line)
    column = text.split("\r\n")[row].index("+") + 1  # the emoji takes two code units
    assert found.range == types.Range(types.Position(row, column), types.Position(row, column + 1))
    hover = lsp.hover(uri, types.Position(row + 1, text.split("\r\n")[row + 1].index("kunmap")))
    assert hover is not None and "kunmap_atomic" in hover.contents.value


def test_a_built_in_arch_file_opened_stands_for_the_built_in_one(lsp: Session) -> None:
    """Go to definition opens specs/arch/*.flow: it is checked as the built-in file it is
    (not as a second definition of its arches), and its edits show."""
    path = REPO / "specs" / "arch" / "parisc.flow"
    text = path.read_text(encoding="utf-8")
    uri = from_fs_path(str(path))
    lsp.versions[uri] = 1
    lsp.client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id="flow", version=1, text=text)))
    assert lsp.diagnostics_of(uri) == []
    broken = text.replace("fn kmap(p: page) -> mapping { return map p colour linear }",
                          "fn kmap(p: page) -> mapping { return map q colour linear }")
    lsp.change(uri, broken)
    (found,) = lsp.diagnostics_of(uri)
    assert found.message == "unknown page parameter 'q'"
    assert found.range.start == at(broken, "q colour")
    lsp.client.text_document_did_close(types.DidCloseTextDocumentParams(
        types.TextDocumentIdentifier(uri)))
