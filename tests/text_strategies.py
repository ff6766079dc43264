"""Hypothesis strategies for .flow text, valid and broken, and the front-end run they feed.

- `flow_texts`: a random protocol and arch (tests/strategies.py) printed as text: valid input.
- `mutated_texts`: such a text with tokens inserted, spans deleted, duplicated or swapped.
- `token_soups`: tokens of the language in random order.
- `garbage`: arbitrary bytes, with and without a valid UTF-8 prefix.

`front_end` runs what `check` runs before any search (read, parse, resolve, per-arch checks,
size limits) and says how it ended: "ok" or "error"; anything else (another exception, a
hang caught by the caller's deadline) fails the caller.
"""

from __future__ import annotations

import re
from pathlib import Path

from flowtext import arch_text, protocol_text
from hypothesis import strategies as st
from strategies import arches, protocols

from checker.errors import FlowError
from checker.front.load import check_protocol_on_arch, load_files
from checker.front.selection import select_arches

TOKENS = [
    "{", "}", "(", ")", ";", "\n", "\n", "\n", ",", ".", "[", "]", "=", "->", "<-", ":",
    "arch", "protocol", "extends", "doc", "kernel", "cache", "speculative_fill",
    "dma_coherent", "fn", "on", "page", "mapping", "thread", "device", "expect", "user",
    "kernel", "all", "read", "write", "copy", "signal", "wait", "lock", "unlock", "mmap",
    "munmap", "dma_read", "dma_write", "either", "or", "repeat", "if", "else", "not", "and",
    "return", "map", "unmap", "set", "clear", "flush", "writeback", "invalidate", "purge_tlb",
    "cost", "colour", "color", "any", "linear", "pipt", "vipt", "vivt", "write_back",
    "write_through", "line_words", "victim_fill", "colours", "words", "anon", "file",
    "highmem", "mapped", "yes", "no", "tlb", "safe", "stale_read", "lost_write",
    "redundant_flush", "use_after_unmap", "deadlock", "p", "k", "u", "e", "x", "L1",
    "0", "1", "4", "1024", "99999999999999999999", "-1", '"doc"', '"', "/*", "*/", "//",
    "\t", "\r\n", "\x00", "é", "\ufeff",
]  # fmt: skip

LOCATED = re.compile(r"^(\S+:\d+:\d+: )?error: \S")


@st.composite
def flow_texts(draw) -> str:
    arch = draw(arches(max_levels=2))
    protocol = draw(protocols(max_words=4))
    return arch_text(arch) + "\n" + protocol_text(protocol)


@st.composite
def mutated_texts(draw) -> str:
    text = draw(flow_texts())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        size = draw(st.integers(1, 24))
        how = draw(st.sampled_from(["insert", "delete", "duplicate", "swap"]))
        if how == "insert":
            text = text[:at] + " " + draw(st.sampled_from(TOKENS)) + " " + text[at:]
        elif how == "delete":
            text = text[:at] + text[at + size:]
        elif how == "duplicate":
            text = text[:at] + text[at:at + size] + text[at:]
        else:
            other = draw(st.integers(0, len(text)))
            a, b = sorted((at, other))
            text = text[:a] + text[b:b + size] + text[a + size:b] + text[a:a + size] + text[
                b + size:]
    return text


token_soups = st.lists(st.sampled_from(TOKENS), max_size=60).map(" ".join)
garbage = st.one_of(st.binary(max_size=200),
                    st.tuples(flow_texts(), st.binary(min_size=1, max_size=20)).map(
                        lambda t: t[0].encode() + t[1]))


def front_end(path: Path, data: str | bytes) -> str:
    """Write `data` to `path` and load it as `check` does: "ok" or "error" (a FlowError
    whose rendering starts with `file:line:col: error:` or, for file-level problems,
    `error:`). Any other exception propagates."""
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", errors="surrogatepass")
    else:
        path.write_bytes(data)
    try:
        loaded = load_files([str(path)], builtins=[])
        library = loaded.library
        for protocol in library.protocols:
            for name in select_arches(library, None):
                check_protocol_on_arch(protocol, library.arches[name], library)
    except FlowError as error:
        rendered = error.render()
        assert LOCATED.match(rendered), rendered
        return "error"
    return "ok"
