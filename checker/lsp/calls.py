"""Which arch code a call in the document runs, the kernel's spellings read as the front end
reads them (checker/front/spellings.py): `dma_map_page(p, DMA_TO_DEVICE)` runs the
per-direction function dma_map_page_to_device, `mmap(p)` and `munmap(u)` run the arch's
`on user_map` / `on user_unmap` hooks, and `memcpy`, `copy_to_user`, `copy_from_user` are
`copy` statements that run no arch code at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from checker.errors import FlowError
from checker.front import model
from checker.front import syntax as st
from checker.front.source import Span
from checker.front.spellings import respell
from checker.lsp.outline import Occurrence, Outline

HOOKS = {"mmap": "user_map", "munmap": "user_unmap"}


@dataclass(frozen=True)
class Target:
    written: str  # the name as written
    function: str | None = None  # the arch function it runs
    hook: str | None = None  # or the hook it runs (mmap, munmap)
    note: str = ""  # how a kernel spelling was read, in words

    @property
    def code(self) -> str | None:
        """The name of what runs, as `--show-arch` lists it: `f`, or `on user_map`."""
        if self.hook is not None:
            return f"on {self.hook}"
        return self.function

    def code_in(self, arch: model.Arch) -> model.Function | None:
        """The function or hook that runs on `arch`, if the arch has it."""
        if self.hook is not None:
            return arch.hooks.get(self.hook)
        return arch.functions.get(self.function or "")


def call_target(outline: Outline, occurrence: Occurrence) -> Target:
    name = occurrence.text
    if name in HOOKS:
        return Target(name, hook=HOOKS[name],
                      note=f"`{name}` is a statement: it runs the arch's `on {HOOKS[name]}` hook")
    args = _arguments(outline, occurrence)
    nowhere = Span("", 0, 0)
    call = st.CallStmt(st.Name(name, nowhere), tuple(st.Name(a, nowhere) for a in args), None,
                       nowhere)
    try:
        written = respell(call, _AnyPage())
    except FlowError:
        return Target(name, name)  # a misuse the diagnostics report: the name as written
    if isinstance(written, st.CopyStmt):
        return Target(name, note=f"`{name}(DST, SRC)` is the statement `copy DST <- SRC`: "
                      "a CPU copy, no arch function and no cache maintenance")
    function = written.function.text
    if function != name:
        return Target(name, function,
                      note=f"`{name}({', '.join(args)})` runs `{function}` (the kernel's "
                      "direction argument picks the per-direction function)")
    return Target(name, name)


class _AnyPage:
    """The names at a call as respell() asks about them: the lexical scan cannot tell a page
    from a mapping, and a direction's page is all a rewrite needs."""

    def is_page(self, name: str) -> bool:
        return True

    def is_mapping(self, name: str) -> bool:
        return False

    def is_user_mapping(self, name: str) -> bool | None:
        return None

    def kmap_handles(self, page: str) -> list[str]:
        return []


def _arguments(outline: Outline, occurrence: Occurrence) -> list[str]:
    """The names between the parentheses after a call's name (up to the line's end)."""
    tokens = outline.tokens
    index = next((i for i, t in enumerate(tokens) if t is occurrence.token), None)
    if index is None or index + 1 >= len(tokens) or tokens[index + 1].text != "(":
        return []
    args = []
    for token in tokens[index + 2:]:
        if token.text == ")" or token.kind == "newline":
            break
        if token.kind == "name":
            args.append(token.text)
    return args
