"""Syntax trees -> the semantic model: names, kinds, `extends`. All user errors are raised here.

Every given file and the built-in arch files are resolved together: a protocol in one file may
name an arch defined in another. Arch blocks are in resolve_arch.py, protocol blocks in
resolve_protocol.py, the statements of both in resolve_body.py; calls of arch functions are
checked late, per arch, by resolve_calls.py.
"""

from __future__ import annotations

from collections.abc import Collection

from checker.errors import ErrorList, FlowError
from checker.front import model
from checker.front import syntax as st
from checker.front.resolve_arch import resolve_arches
from checker.front.resolve_protocol import resolve_protocol
from checker.front.source import Span


def resolve(files: list[st.File]) -> model.Library:
    """Resolve files parsed from the built-in library and the user's input, in that order.

    Arch blocks and protocol blocks are independent pieces: the errors of each are collected
    and raised together (a FlowErrors when there are several), so one run reports them all.
    Nothing here recurses deeper than the input nests, and parse() has limited that
    (nesting.py); should Python's stack still run out, the error is at the block being
    resolved (resolve_arch.py does the same for arches)."""
    arch_blocks = [b for f in files for b in f.blocks if isinstance(b, st.ArchBlock)]
    protocol_blocks = [b for f in files for b in f.blocks if isinstance(b, st.ProtocolBlock)]
    errors = ErrorList()
    arches = resolve_arches(arch_blocks, errors)
    # An arch whose block has an error is still a known name: no second error at each
    # `expect` that names it.
    arch_names = {block.name.text for block in arch_blocks}
    seen: dict[str, Span] = {}
    protocols = []
    for block in protocol_blocks:
        name = block.name
        if name.text in seen:
            message = f"protocol '{name.text}' is already defined at {seen[name.text]}"
            errors.add(FlowError(name.span, message))
            continue
        seen[name.text] = name.span
        with errors.catch():
            protocols.append(_resolve_protocol(block, arch_names))
    errors.raise_any()
    user_arches = tuple(name for name, arch in arches.items() if not arch.builtin)
    return model.Library(arches, tuple(protocols), user_arches)


def _resolve_protocol(block: st.ProtocolBlock, arches: Collection[str]) -> model.Protocol:
    try:
        return resolve_protocol(block, arches)
    except RecursionError:
        raise FlowError(block.name.span, "input nested too deeply") from None
