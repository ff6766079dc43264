"""Read .flow files, parse them with the built-in arch library and resolve them together.

The front end in three calls: `load_files` (text -> model.Library), `select_arches` (the
`--arch` option -> arch names) and `check_protocol_on_arch` (the checks that need the arch).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from checker.errors import FlowError
from checker.front import cache as disk_cache
from checker.front import model
from checker.front.resolve_calls import check_protocol_on_arch as _check_calls
from checker.front.resources import builtin_arch_files
from checker.front.source import SourceText, Span
from checker.machine.limits import check_program_size, check_protocol_size
from checker.machine.lower import lower

if TYPE_CHECKING:
    from checker.front import syntax as st


@dataclass(frozen=True)
class Loaded:
    library: model.Library
    sources: dict[str, SourceText]  # every file read, built-in ones included, by display path


class LoadError(FlowError):
    """A FlowError raised while loading. It keeps the texts read so far, so that it can quote
    the offending line even when the caller has no sources yet."""

    def __init__(self, error: FlowError, sources: dict[str, SourceText]) -> None:
        super().__init__(error.span, error.message, error.notes)
        self.sources = sources

    def render(self, sources: dict[str, SourceText] | None = None) -> str:
        return super().render({**self.sources, **(sources or {})})


def load_files(paths: list[str], builtins: list[tuple[str, str]] | None = None) -> Loaded:
    """Parse and resolve the built-in arch files (or `builtins`: (display path, text) pairs)
    and the files at `paths` (shown as given).

    With the built-in files, the cache on disk (cache.py) answers when the same texts under
    the same paths were loaded before; otherwise it saves parsing the built-in files. Only
    input that loads is stored, so every error comes from parsing and resolving as ever."""
    texts = builtin_arch_files() if builtins is None else builtins
    sources = {path: SourceText(path, text) for path, text in texts}
    for path in dict.fromkeys(paths):  # a file given twice is read once
        sources[path] = _read(path)
    shadowed = set(paths) & {path for path, _ in texts}  # a given file named like a built-in
    cached = builtins is None and not shadowed
    entry = None
    if cached:
        inputs = [f"{source.path}\0{source.text}" for source in sources.values()]
        entry = disk_cache.entry("library", inputs, keep=16)
        stored = entry.load()
        if isinstance(stored, model.Library):
            return Loaded(stored, sources)
    # Imported only now: a run whose files are in the cache needs neither lark nor resolve.
    from checker.front.parser import parse
    from checker.front.resolve import resolve

    try:
        trees = _builtin_trees(texts) if cached else {}
        files = [trees.get(path) or parse(source) for path, source in sources.items()]
        library = resolve(files)
    except FlowError as error:
        raise LoadError(error, sources) from None
    if entry is not None:
        entry.store(library)
    return Loaded(library, sources)


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
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise FlowError(None, f"cannot read '{path}': no such file") from None
    except IsADirectoryError:
        raise FlowError(None, f"cannot read '{path}': is a directory") from None
    except PermissionError:
        raise FlowError(None, f"cannot read '{path}': permission denied") from None
    except OSError as error:
        raise FlowError(None, f"cannot read '{path}': {error.strerror or error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        bad = data[error.start]
        message = f"not UTF-8 text: byte 0x{bad:02x} cannot be decoded"
        raise FlowError(Span(path, line, col), message) from None
    return SourceText(path, text.removeprefix("\ufeff"))


def select_arches(library: model.Library, option: str | None) -> list[str]:
    """The arch names an `--arch` value selects: None or "all" gives the built-in arches, then
    the ones from the given files, each sorted by name; a comma list gives those, in order."""
    if option is None or option.strip() == "all":
        builtin = sorted(n for n, a in library.arches.items() if a.builtin)
        return builtin + sorted(library.user_arches)
    names = [name.strip() for name in option.split(",")]
    for name in names:
        if name not in library.arches:
            known = ", ".join(sorted(library.arches)) or "none"
            raise FlowError(None, f"unknown arch '{name}' (known: {known})")
    return list(dict.fromkeys(names))


def check_protocol_on_arch(
    protocol: model.Protocol, arch: model.Arch, library: model.Library
) -> None:
    """Check what can only be checked once the arch is known: the calls (late dispatch), the
    word indexes through mappings that calls return, and the size limits
    (checker/machine/limits.py).
    Raises a located FlowError."""
    try:
        _check_calls(protocol, arch)  # `arch` already holds every function it inherits
        check_protocol_size(protocol, arch)
        check_program_size(protocol, lower(protocol, arch))
    except RecursionError:
        raise FlowError(protocol.span, "input nested too deeply") from None
