"""`flowcheck lsp`: the language server, speaking LSP on stdin and stdout (pygls).

This module wires LSP messages to the modules that answer them and keeps, per open
document, the analysis of its current text (analysis.py) and the last one that loaded.
Diagnostics are published on open and shortly after the typing stops (each change restarts
a short timer, so a burst of keystrokes costs one analysis); a hover, definition or
completion request analyses the text first if it changed since. The whole server runs on one
thread, so an analysis never races another.

The server survives anything typed: an exception inside flowcheck while analysing becomes a
diagnostic (analysis.py), and one in a request handler is logged to the client (window/
logMessage) and answered with nothing, never a dead server.

Settings (initializationOptions, or workspace/didChangeConfiguration's settings, either at
the top level or under "flowcheck"): `arches`, a list of arch names that hover and go-to-
definition speak of (`["all"]`: every arch); by default, the arches the document's `expect`
lines name and those it defines, or every built-in arch. A name there that is no arch is
left out, and the user is told (window/showMessage), once per setting.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from checker.front.suggest import suggest
from checker.lsp.analysis import Analysis, analyze, builtin_only
from checker.lsp.completion import completion
from checker.lsp.definition import definition
from checker.lsp.diagnostics import diagnostics
from checker.lsp.document import Document
from checker.lsp.hover import hover

# How long after the last change the diagnostics are computed: long enough to coalesce a
# burst of keystrokes, short enough to feel immediate (an analysis takes 20-100 ms).
DEBOUNCE_SECONDS = 0.15

log = logging.getLogger(__name__)
Result = TypeVar("Result")


class FlowLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("flowcheck", _version(),
                         text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.analyses: dict[str, Analysis] = {}  # of each open document's current text
        self.loaded: dict[str, Analysis] = {}  # the last analysis of each that loaded
        self.arches_setting: tuple[str, ...] | None = None
        self.debounce = DEBOUNCE_SECONDS
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._builtin: Analysis | None = None
        # The unknown names of the `arches` setting already told of: each once, not on
        # every change of every document.
        self._told: set[tuple[str, ...]] = set()

    # -- documents --------------------------------------------------------------------------

    def analysis(self, uri: str) -> Analysis | None:
        """The analysis of the document's text as it is now (made now if it changed)."""
        try:
            text = self.workspace.get_text_document(uri).source
        except Exception:  # not open, or not a text document
            return None
        current = self.analyses.get(uri)
        if current is None or current.text != text:
            current = self.analyses[uri] = analyze(uri, text)
            if current.library is not None:
                self.loaded[uri] = current
        return current

    def document(self, uri: str) -> Document | None:
        analysis = self.analysis(uri)
        if analysis is None:
            return None
        known = analysis if analysis.library is not None else self.loaded.get(uri)
        if known is None:
            if self._builtin is None:
                self._builtin = builtin_only()
            known = self._builtin
        return Document(analysis, known, self.encoding, self.arches_setting)

    @property
    def encoding(self) -> str:
        encoding = self.workspace.position_encoding or types.PositionEncodingKind.Utf16
        return str(getattr(encoding, "value", encoding))

    def schedule(self, uri: str, delay: float) -> None:
        """Publish the document's diagnostics after `delay` seconds (now, for 0), unless
        another change comes first."""
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        if delay <= 0:
            self.publish(uri)
            return
        self._timers[uri] = asyncio.get_running_loop().call_later(delay, self.publish, uri)

    def publish(self, uri: str) -> None:
        self._timers.pop(uri, None)
        try:
            analysis = self.analysis(uri)
            if analysis is None:
                return
            found = diagnostics(analysis, self.encoding)
            version = self.workspace.get_text_document(uri).version
        except Exception as error:  # analyze() catches flowcheck's own; this is the server's
            self.say(f"flowcheck: no diagnostics for {uri}: {type(error).__name__}: {error}")
            return
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=found, version=version))
        try:
            self.check_setting(uri)
        except Exception as error:  # a bug in flowcheck: logged, and the server goes on
            self.say(f"flowcheck: the `arches` setting not checked: {type(error).__name__}: "
                     f"{error}")

    def check_setting(self, uri: str) -> None:
        """Tell the user (window/showMessage) of names in the `arches` setting that are no
        arch, which hover and go-to-definition leave out. Checked against a document's
        arches (the built-in ones, and those it defines), so when one opens or changes, and
        when the setting does."""
        document = self.document(uri) if self.arches_setting else None
        if document is None or not document.unknown_arches:
            return
        unknown = tuple(document.unknown_arches)
        if unknown in self._told:
            return
        self._told.add(unknown)
        known = sorted({arch.name for arch in document.library.arches.values()}
                       | set(document.outline.arch_names()))
        names = ", ".join(f"'{name}'{suggest(name, known)}" for name in unknown)
        chosen = [name for name in dict.fromkeys(self.arches_setting or ())
                  if name not in unknown]
        using = (f"use {', '.join(chosen)}" if chosen else
                 "use the default arches instead (those the document's expect lines name and "
                 "those it defines, else every built-in one)")
        self.say(f"flowcheck: the `arches` setting names {names}, which "
                 f"{'is no arch' if len(unknown) == 1 else 'are no arches'}: hover and go to "
                 f"definition {using}", show=True)

    def forget(self, uri: str) -> None:
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        self.analyses.pop(uri, None)
        self.loaded.pop(uri, None)
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    def configure(self, settings: Any) -> None:
        """Take the `arches` setting from initializationOptions or a configuration change."""
        if isinstance(settings, dict) and isinstance(settings.get("flowcheck"), dict):
            settings = settings["flowcheck"]
        if not isinstance(settings, dict) or "arches" not in settings:
            return
        arches = settings["arches"]
        if arches is None:  # back to the default
            self.arches_setting = None
            return
        if isinstance(arches, str):
            arches = [name.strip() for name in arches.split(",")]
        if isinstance(arches, list) and all(isinstance(a, str) for a in arches):
            self.arches_setting = tuple(a for a in arches if a) or None
            self._told.clear()  # a new setting: its unknown names are told anew
        else:
            self.say("flowcheck: the `arches` setting is a list of arch names; ignored")

    def say(self, message: str, show: bool = False) -> None:
        """A warning in the client's log (window/logMessage), or shown to the user
        (window/showMessage) when `show`: what the user must act on."""
        log.warning("%s", message)
        # With no client to tell (shutting down), the log line is enough.
        with contextlib.suppress(Exception):
            if show:
                self.window_show_message(
                    types.ShowMessageParams(type=types.MessageType.Warning, message=message))
            else:
                self.window_log_message(
                    types.LogMessageParams(type=types.MessageType.Warning, message=message))


def _guarded(default: Result) -> Callable[[Callable[..., Result]], Callable[..., Result]]:
    """A request handler that answers `default` instead of failing: a bug in flowcheck is
    logged to the client, and the server goes on."""

    def wrap(handler: Callable[..., Result]) -> Callable[..., Result]:
        @functools.wraps(handler)
        def guarded(ls: FlowLanguageServer, params: Any) -> Result:
            try:
                return handler(ls, params)
            except Exception as error:
                ls.say(f"flowcheck: {handler.__name__} failed: {type(error).__name__}: {error}"
                       " (a bug in flowcheck; please report it with the file)")
                return default

        return guarded

    return wrap


def build() -> FlowLanguageServer:
    server = FlowLanguageServer()

    @server.feature(types.INITIALIZE)
    @_guarded(None)
    def initialize(ls: FlowLanguageServer, params: types.InitializeParams) -> None:
        ls.configure(params.initialization_options)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    @_guarded(None)
    def configuration(ls: FlowLanguageServer, params: types.DidChangeConfigurationParams) -> None:
        ls.configure(params.settings)
        for uri in list(ls.analyses):
            ls.schedule(uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    @_guarded(None)
    def did_open(ls: FlowLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @_guarded(None)
    def did_change(ls: FlowLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, ls.debounce)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    @_guarded(None)
    def did_close(ls: FlowLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.forget(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @_guarded(None)
    def on_hover(ls: FlowLanguageServer, params: types.HoverParams) -> types.Hover | None:
        document = ls.document(params.text_document.uri)
        if document is None:
            return None
        return hover(document, document.text.offset(params.position))

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    @_guarded(None)
    def on_definition(ls: FlowLanguageServer,
                      params: types.DefinitionParams) -> list[types.Location] | None:
        document = ls.document(params.text_document.uri)
        if document is None:
            return None
        return definition(document, document.text.offset(params.position))

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=["(", ",", " "]),
    )
    @_guarded(None)
    def on_completion(ls: FlowLanguageServer,
                      params: types.CompletionParams) -> types.CompletionList | None:
        document = ls.document(params.text_document.uri)
        if document is None:
            return None
        return completion(document, document.text.offset(params.position))

    return server


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("flowcheck")
    except Exception:  # running from a checkout that was never installed
        return "0"


def main(argv: Sequence[str]) -> int:
    """`flowcheck lsp [--stdio] [-v]`: serve until the client says exit."""
    parser = argparse.ArgumentParser(
        prog="flowcheck lsp",
        description="The flowcheck language server: LSP on stdin and stdout (docs/editors.md).")
    parser.add_argument("--stdio", action="store_true",
                        help="talk over stdin and stdout (the only way; accepted because "
                        "clients pass it)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log what the server does on stderr")
    args = parser.parse_args(list(argv))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        stream=sys.stderr, format="flowcheck lsp: %(message)s")
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # The protocol owns stdout: a stray print anywhere would corrupt it, so text written to
    # sys.stdout goes to stderr instead.
    sys.stdout = sys.stderr
    build().start_io(stdin, stdout)
    return 0
