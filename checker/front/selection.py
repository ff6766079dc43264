"""Which checks a run makes: the `--arch` option -> (protocol index, arch key) pairs.

Arches are addressed by key (model.Library.arches): an arch's name, or name@path when
`--arch-scope file` meets two files that define an arch of the same name. `--arch` names
arches by name; each protocol is checked on the named arches that apply to it (its scope).
"""

from __future__ import annotations

from checker.errors import FlowError
from checker.front import model

# `--arch expected`: each protocol on the arches its `expect` lines name and those its own
# file defines (how litmus files are meant to be run). A real arch of that name wins.
EXPECTED = "expected"


def select_arches(library: model.Library, option: str | None) -> list[str]:
    """The arch keys an `--arch` value selects: None or "all" gives the built-in arches, then
    the ones from the given files, each sorted by name; a comma list gives those, in order."""
    if option is None or option.strip() == "all":
        builtin = sorted(n for n, a in library.arches.items() if a.builtin)
        return builtin + sorted(library.user_arches)
    names = [name.strip() for name in option.split(",")]
    by_name = _keys_by_name(library)
    for name in names:
        if name not in by_name:
            known = ", ".join(sorted(by_name)) or "none"
            raise FlowError(None, f"unknown arch '{name}' (known: {known})")
    return [key for name in dict.fromkeys(names) for key in by_name[name]]


def plan_checks(library: model.Library, option: str | None) -> list[tuple[int, str]]:
    """The (protocol index, arch key) pairs to check, protocol by protocol, in the order
    `select_arches` gives, each protocol on the selected arches that apply to it."""
    by_name = _keys_by_name(library)
    if option is not None and option.strip() == EXPECTED and EXPECTED not in by_name:
        return [(i, key) for i, protocol in enumerate(library.protocols)
                for key in _expected(library, i, protocol)]
    chosen = select_arches(library, option)
    pairs = []
    for index in range(len(library.protocols)):
        scope = set(library.scope_of(index))
        pairs.extend((index, key) for key in chosen if key in scope)
    return pairs


def _expected(library: model.Library, index: int, protocol: model.Protocol) -> list[str]:
    """The arches a protocol's expect lines name, then those its file defines."""
    named = {e.arch for e in protocol.expects}
    path = protocol.span.path
    return [key for key in library.scope_of(index)
            if library.arches[key].name in named
            or (not library.arches[key].builtin and library.arches[key].span.path == path)]


def _keys_by_name(library: model.Library) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for key, arch in library.arches.items():
        keys.setdefault(arch.name, []).append(key)
    return keys
