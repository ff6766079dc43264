"""Read .flow files, parse them with the built-in arch library and resolve them together.

The front end in three calls: `load_files` (text -> model.Library), `select_arches` (the
`--arch` option -> arch names) and `check_protocol_on_arch` (the checks that need the arch).
"""

from __future__ import annotations

import gc
import os
import select
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from checker.errors import ErrorList, FlowError, FlowWarning
from checker.front import cache as disk_cache
from checker.front import model
from checker.front.resolve_calls import check_protocol_on_arch as _check_calls
from checker.front.resources import builtin_arch_files
from checker.front.source import SourceText, Span
from checker.machine.limits import check_program_size, check_protocol_size
from checker.machine.lower import lower

if TYPE_CHECKING:
    from checker.front import syntax as st

# One input file is at most 1 MiB: 30 times the largest .flow file shipped (tests/arches/),
# and small enough that the front end's cost, linear in the size, stays bounded: about 10 s
# and 0.5 GB for a MiB of the densest input (short statements such as `f(p)`), well under a
# second for a MiB of blank lines or one long string. docs/language.md, section 6.
MAX_FILE_BYTES = 1 << 20
# How long a pipe or FIFO may give nothing before it is an error (a FIFO with no writer).
PIPE_WAIT_SECONDS = 10.0
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # 0 where there is no such flag (Windows: no FIFOs)


@dataclass(frozen=True)
class Loaded:
    library: model.Library
    sources: dict[str, SourceText]  # every file read, built-in ones included, by display path


class LoadError(FlowError):
    """A FlowError (or FlowErrors) raised while loading. It keeps the texts read so far, so
    that it can quote the offending lines even when the caller has no sources yet."""

    def __init__(self, error: FlowError, sources: dict[str, SourceText]) -> None:
        super().__init__(error.span, error.message, error.notes)
        self.inner = error
        self.sources = sources

    @property
    def errors(self) -> tuple[FlowError, ...]:
        return self.inner.errors

    @property
    def more(self) -> int:
        return self.inner.more

    def render(self, sources: dict[str, SourceText] | None = None) -> str:
        return self.inner.render({**self.sources, **(sources or {})})

    def __reduce__(self):  # sent back from a --jobs worker: the same error, texts left behind
        return self.inner.__reduce__()


# Where the arches a file defines apply: "run", to every protocol of the run (the contract's
# rule for files given by name); "file", to the protocols of that file only (each file is
# resolved on its own with the built-in arches: the default for directory arguments).
SCOPES = ("run", "file")


def load_files(paths: list[str], builtins: list[tuple[str, str]] | None = None,
               read: dict[str, str] | None = None, scope: str = "run") -> Loaded:
    """Parse and resolve the built-in arch files (or `builtins`: (display path, text) pairs)
    and the files at `paths` (shown as given; `read` has the texts of those already read: a
    --jobs worker gets them from the run, since a pipe cannot be read twice), the arches of
    each file applying as `scope` says (SCOPES).

    With the built-in files, the cache on disk (cache.py) answers when the same texts under
    the same paths were loaded before; otherwise it saves parsing the built-in files. Only
    input that loads is stored, so every error comes from parsing and resolving as ever."""
    texts = builtin_arch_files() if builtins is None else builtins
    sources = {path: SourceText(path, text) for path, text in texts}
    for path in dict.fromkeys(paths):  # a file given twice is read once
        known = (read or {}).get(path)
        sources[path] = _read(path) if known is None else SourceText(path, known)
    shadowed = set(paths) & {path for path, _ in texts}  # a given file named like a built-in
    cached = builtins is None and not shadowed
    entry = None
    if cached:
        inputs = [f"{source.path}\0{source.text}" for source in sources.values()]
        entry = disk_cache.entry("library", [f"scope={scope}", *inputs], keep=16)
        stored = entry.load()
        if isinstance(stored, model.Library):
            return Loaded(stored, sources)
    # Imported only now: a run whose files are in the cache needs neither lark nor resolve.
    from checker.front.parser import parse
    from checker.front.resolve import resolve

    try:
        with _no_cycle_collection():
            trees = _builtin_trees(texts) if cached else {}
            files = _parse_all(sources, trees, set(paths), parse)
            if scope == "file":
                given = set(paths)
                library = _resolve_each([f for f in files if f.path not in given],
                                        [f for f in files if f.path in given], resolve)
            else:
                library = resolve(files)
    except FlowError as error:
        raise LoadError(error, sources) from None
    if entry is not None:
        entry.store(library)
    return Loaded(library, sources)


def _parse_all(
    sources: dict[str, SourceText],
    trees: dict[str, st.File],
    given: set[str],
    parse: Callable[[SourceText], st.File],
) -> list[st.File]:
    """The syntax tree of every file (from `trees` when there): the first syntax error of
    each file is reported, all files together. A given file with no arch and no protocol is
    an error too: an empty or truncated spec must not pass as checked."""
    errors = ErrorList()
    files = []
    for path, source in sources.items():
        with errors.catch():
            file = trees.get(path) or parse(source)
            if path in given and not file.blocks:
                raise FlowError(Span(path, 1, 1), _EMPTY)
            files.append(file)
    errors.raise_any()
    return files


_EMPTY = "no protocol and no arch in this file: is it empty, or cut short?"


def _resolve_each(
    builtin: list[st.File], given: list[st.File], resolve: Callable[[list[st.File]], model.Library]
) -> model.Library:
    """`--arch-scope file`: each given file resolved with the built-in arches alone, the
    results joined in one library whose `scopes` say which arches apply to which protocol.
    An arch a file defines is keyed by its name, or by name@path when several files define
    one of that name (a litmus file's `toy`); protocols may share a name across files."""
    errors = ErrorList()
    parts: list[tuple[str, model.Library]] = []
    for file in given:
        with errors.catch():
            parts.append((file.path, resolve([*builtin, file])))
    errors.raise_any()
    if not parts:
        return resolve(builtin)
    arches = {n: a for n, a in parts[0][1].arches.items() if a.builtin}
    defined: dict[str, int] = {}
    for _, part in parts:
        for name in part.user_arches:
            defined[name] = defined.get(name, 0) + 1
    protocols: list[model.Protocol] = []
    scopes: list[tuple[str, ...]] = []
    user: list[str] = []
    for path, part in parts:
        keys = {name: name if defined[name] == 1 else f"{name}@{path}"
                for name in part.user_arches}
        for name, key in keys.items():
            arches[key] = part.arches[name]
        user.extend(keys.values())
        own = part.scope_of(0) if part.protocols else ()
        scope = tuple(keys.get(name, name) for name in own)
        protocols.extend(part.protocols)
        scopes.extend(scope for _ in part.protocols)
    return model.Library(arches, tuple(protocols), tuple(user), tuple(scopes))


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Parsing a large file allocates millions of small objects and frees none of them
    until it is done: the cycle collector would walk them again and again for nothing (40%
    of the time on a 1 MiB file). The trees hold no cycles to collect."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _builtin_trees(texts: list[tuple[str, str]]) -> dict[str, st.File]:
    """The syntax tree of each built-in file, by display path: from the cache on disk
    (keyed on the files' paths and texts) or parsed and stored there."""
    from checker.front.parser import parse

    entry = disk_cache.entry("builtins", [f"{path}\0{text}" for path, text in texts])
    stored = entry.load()
    if isinstance(stored, dict) and list(stored) == [path for path, _ in texts]:
        return stored
    trees = {path: parse(SourceText(path, text)) for path, text in texts}
    entry.store(trees)
    return trees


def _read(path: str) -> SourceText:
    data = _read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _not_utf8(path, data, error.start) from None
    return SourceText(path, text.removeprefix("\ufeff"))


def _read_bytes(path: str) -> bytes:
    """The bytes of the file at `path`, at most MAX_FILE_BYTES of them. A pipe or FIFO
    (`check /dev/stdin`, `check <(...)`) is read once, like a file; a device is read up to the
    limit, so /dev/zero is an error, not a machine out of memory."""
    try:
        # O_NONBLOCK: opening a FIFO that no program writes would otherwise wait forever.
        fd = os.open(path, os.O_RDONLY | _NONBLOCK)
    except FileNotFoundError:
        raise FlowError(None, f"cannot read '{path}': no such file") from None
    except IsADirectoryError:
        raise FlowError(None, f"cannot read '{path}': is a directory") from None
    except PermissionError:
        raise FlowError(None, f"cannot read '{path}': permission denied") from None
    except OSError as error:
        raise FlowError(None, f"cannot read '{path}': {error.strerror or error}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise FlowError(None, f"cannot read '{path}': is a directory")
        waits = stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
        if _NONBLOCK and not waits:
            os.set_blocking(fd, True)  # a terminal read as /dev/stdin waits for its user
        return _read_capped(fd, path, waits)
    except OSError as error:
        raise FlowError(None, f"cannot read '{path}': {error.strerror or error}") from None
    finally:
        os.close(fd)


def _read_capped(fd: int, path: str, waits: bool) -> bytes:
    """Read `fd` to its end, refusing more than MAX_FILE_BYTES. With `waits` (a pipe, still
    non-blocking), wait at most PIPE_WAIT_SECONDS for each piece, so that a FIFO with no
    writer is an error rather than a hang."""
    poller = None
    if waits:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_FILE_BYTES:
        if poller is not None and not poller.poll(int(PIPE_WAIT_SECONDS * 1000)):
            raise FlowError(
                None,
                f"cannot read '{path}': nothing came through it for {PIPE_WAIT_SECONDS:g} s "
                "(a FIFO that no program writes to?)",
            )
        try:
            chunk = os.read(fd, min(1 << 16, MAX_FILE_BYTES + 1 - size))
        except BlockingIOError:  # woken for nothing: wait again
            continue
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    raise FlowError(
        None,
        f"cannot read '{path}': larger than {MAX_FILE_BYTES:,} bytes, the limit for one input file",
    )


def _not_utf8(path: str, data: bytes, start: int) -> FlowError:
    """The error for the first byte that is not UTF-8, at its line and column (a column
    counts characters, as the parser's do: the bytes before it on its line are valid)."""
    line_start = data.rfind(b"\n", 0, start) + 1
    line = data.count(b"\n", 0, start) + 1
    before = data[line_start:start].decode("utf-8")
    if line_start == 0:
        before = before.removeprefix("\ufeff")  # dropped from the text the parser sees
    col = len(before) + 1
    message = f"not UTF-8 text: byte 0x{data[start]:02x} cannot be decoded"
    return FlowError(Span(path, line, col), message)


def check_protocol_on_arch(
    protocol: model.Protocol, arch: model.Arch, library: model.Library
) -> list[FlowWarning]:
    """Check what can only be checked once the arch is known: the calls (late dispatch), the
    word indexes through mappings that calls return, and the size limits
    (checker/machine/limits.py). Raises a located FlowError; returns the warnings."""
    try:
        warnings = _check_calls(protocol, arch)  # `arch` holds every function it inherits
        check_protocol_size(protocol, arch)
        check_program_size(protocol, lower(protocol, arch))
        return warnings
    except RecursionError:
        # Each body nests at most 64 levels and calls at most 32 (docs/language.md, section
        # 6), but calls through deeply nested bodies all the way down multiply the two.
        message = (
            "input nested too deeply: the calls this protocol makes run through bodies "
            "nested too deeply, one inside the other, to be checked"
        )
        raise FlowError(protocol.span, message) from None
