"""Command-line paths -> the .flow files to load: a directory stands for every .flow file
under it, in a stable order.

Walking a directory skips hidden entries (.git, .venv) and the built-in arch files where a
checkout or a copy of specs/ holds them (a file with the name and text of a built-in one):
they are loaded anyway, and loading them twice would define each arch twice. A file named
on the command line is always loaded as given.
"""

from __future__ import annotations

import os
from pathlib import Path

from checker.errors import FlowError
from checker.front.resources import builtin_arch_files

SUFFIX = ".flow"


def expand_paths(paths: list[str]) -> tuple[list[str], bool]:
    """The files the arguments stand for, each once, and whether any argument was a
    directory. A directory's files come sorted by their path below it (so `specs/` gives
    specs/a.flow, then specs/mm/b.flow, then specs/z.flow), shown joined to the argument as
    typed; a directory with no .flow file under it is an error."""
    files: list[str] = []
    directory = False
    for path in paths:
        if not os.path.isdir(path):
            files.append(path)
            continue
        directory = True
        found = _walk(path)
        if not found:
            raise FlowError(None, f"no {SUFFIX} file under '{path}'")
        files.extend(found)
    return list(dict.fromkeys(files)), directory


def _walk(top: str) -> list[str]:
    builtin = {Path(name).name: text for name, text in builtin_arch_files()}
    found: list[tuple[tuple[str, ...], str]] = []
    for root, dirs, names in os.walk(top):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if name.startswith(".") or not name.endswith(SUFFIX):
                continue
            path = os.path.join(root, name)
            if name in builtin and _text(path) == builtin[name]:
                continue
            found.append((Path(os.path.relpath(path, top)).parts, path))
    return [path for _, path in sorted(found)]


def _text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None  # not a copy of a built-in file: loading it reports what is wrong
