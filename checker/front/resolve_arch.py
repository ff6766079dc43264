"""Arch blocks -> model.Arch: `extends` applied, cache levels and functions checked."""

from __future__ import annotations

import dataclasses

from checker.errors import ErrorList, FlowError
from checker.front import model
from checker.front import syntax as st
from checker.front.resolve_body import Binding, Body, count, resolve_body, suggest, unique_options
from checker.front.source import Span

BUILTIN_PREFIX = "<builtin>/"
HOOKS = ("user_map", "user_unmap")
# fn names these would hide: statements, and the kernel calls written as statements
# (spellings.py)
_STATEMENT_NAMES = ("mmap", "munmap", "memcpy", "copy_to_user", "copy_from_user")
_SHOWN_OF_A_CYCLE = 5  # arches named at each end of a long `extends` cycle


def resolve_arches(blocks: list[st.ArchBlock], errors: ErrorList) -> dict[str, model.Arch]:
    """Every arch that resolves, in the order given. The errors of each block go to `errors`;
    an arch that extends one with an error is left out without an error of its own."""
    by_name: dict[str, st.ArchBlock] = {}
    for block in blocks:
        name = block.name
        if name.text in by_name:
            first = by_name[name.text].name.span
            errors.add(FlowError(name.span, f"arch '{name.text}' is already defined at {first}"))
        elif name.text == "all":
            message = "an arch cannot be named 'all': --arch all means every arch"
            errors.add(FlowError(name.span, message))
        else:
            by_name[name.text] = block
    done: dict[str, model.Arch | None] = {}  # None: the arch has an error
    for block in by_name.values():
        with errors.catch():
            _resolve(block, by_name, done)
    return {
        block.name.text: arch
        for block in by_name.values()
        if (arch := done.get(block.name.text)) is not None
    }


def _resolve(
    block: st.ArchBlock, by_name: dict[str, st.ArchBlock], done: dict[str, model.Arch | None]
) -> None:
    """Build `block` with its ancestors first, into `done`. A loop up the `extends` chain,
    then down it: a chain may be thousands of arches long, too deep for a recursion, and the
    cycle test looks each name up in a dict so that a long chain costs linear time. Every
    arch of a chain that fails is marked failed (None) before the error goes up."""
    if block.name.text in done:
        return
    chain = [block]  # from `block` up to the first arch already built, or the root
    on_chain = {block.name.text}
    try:
        while chain[-1].parent is not None and chain[-1].parent.text not in done:
            child, parent_name = chain[-1], chain[-1].parent.text
            if parent_name not in by_name:
                hint = suggest(parent_name, set(by_name))
                message = f"unknown arch '{parent_name}' in extends{hint}"
                raise FlowError(child.parent.span, message)
            if parent_name in on_chain:
                raise _cycle(child, tuple(chain[:-1]), parent_name)
            on_chain.add(parent_name)
            chain.append(by_name[parent_name])
        for current in reversed(chain):
            parent = done[current.parent.text] if current.parent is not None else None
            if current.parent is not None and parent is None:
                done[current.name.text] = None  # its parent has an error, reported already
                continue
            done[current.name.text] = None
            done[current.name.text] = _build_located(current, parent)
    except FlowError:
        for current in chain:
            done.setdefault(current.name.text, None)
        raise


def _build_located(block: st.ArchBlock, parent: model.Arch | None) -> model.Arch:
    """_build, with a recursion too deep for Python reported at the arch (parse() limits the
    nesting of bodies, so this is a fallback)."""
    try:
        return _build(block, parent)
    except RecursionError:
        raise FlowError(block.name.span, "input nested too deeply") from None


def _cycle(block: st.ArchBlock, chain: tuple[st.ArchBlock, ...], parent: str) -> FlowError:
    """The error for `block extends parent` when parent is `block` or in `chain`."""
    first = block
    if parent != block.name.text:
        first = next(b for b in chain if b.name.text == parent)
    # Report at the arch where the cycle was entered, walking it back to itself.
    names = [b.name.text for b in (*chain, block)]
    loop = names[names.index(first.name.text) :] + [first.name.text]
    assert first.extends_span is not None
    if len(loop) == 2:
        return FlowError(first.extends_span, f"arch '{loop[0]}' extends itself")
    through = loop[1:]
    if len(through) > 2 * _SHOWN_OF_A_CYCLE:  # one line, however long the cycle
        skipped = len(through) - 2 * _SHOWN_OF_A_CYCLE
        through = [
            *through[:_SHOWN_OF_A_CYCLE],
            f"({skipped:,} more)",
            *through[-_SHOWN_OF_A_CYCLE:],
        ]
    return FlowError(
        first.extends_span, f"arch '{loop[0]}' extends itself through {' -> '.join(through)}"
    )


def _build(block: st.ArchBlock, parent: model.Arch | None) -> model.Arch:
    """`block` applied over `parent` (or over the root machine when it has none)."""
    name = block.name.text
    builtin = block.span.path.startswith(BUILTIN_PREFIX)
    arch = parent or _root(block)
    arch = dataclasses.replace(
        arch, name=name, parent=parent.name if parent else None, builtin=builtin, span=block.span
    )
    functions, hooks = dict(arch.functions), dict(arch.hooks)
    seen: dict[str, Span] = {}
    levels: list[st.CacheDecl] = []
    errors = ErrorList()  # each item is checked on its own: all their errors are reported
    for item in block.items:
        if isinstance(item, st.CacheDecl):
            levels.append(item)
            continue
        key = _item_key(item)
        if key in seen:
            errors.add(FlowError(item.span, f"{key} is already given in this arch at {seen[key]}"))
            continue
        seen[key] = item.span
        with errors.catch():
            if isinstance(item, st.DocDecl):
                arch = dataclasses.replace(arch, doc=item.text)
            elif isinstance(item, st.KernelDecl):
                arch = dataclasses.replace(arch, kernel=item.version)
            elif isinstance(item, st.SettingDecl):
                arch = dataclasses.replace(arch, **{item.setting: _setting(item)})
            elif item.is_hook:
                hooks[item.name.text] = _hook(item, name)
            else:
                function = _function(item, name)
                _check_override(item, function, functions.get(function.name))
                functions[function.name] = function
    if levels:  # any cache line replaces the parent's whole list
        with errors.catch():
            arch = dataclasses.replace(arch, levels=_levels(levels))
    errors.raise_any()
    return dataclasses.replace(arch, functions=functions, hooks=hooks)


def _root(block: st.ArchBlock) -> model.Arch:
    """What an arch with no `extends` starts from: a coherent machine with memory only."""
    return model.Arch(
        name=block.name.text,
        doc="",
        kernel="",
        levels=(),
        speculative_fill="no",
        dma_coherent=True,
        functions={},
        hooks={},
        parent=None,
        builtin=False,
        span=block.span,
    )


def _item_key(item: st.ArchItem) -> str:
    if isinstance(item, st.DocDecl):
        return "doc"
    if isinstance(item, st.KernelDecl):
        return "kernel"
    if isinstance(item, st.SettingDecl):
        return item.setting
    assert isinstance(item, st.FnDecl)
    return f"on {item.name.text}" if item.is_hook else f"fn '{item.name.text}'"


def _setting(item: st.SettingDecl) -> str | bool:
    if item.setting == "speculative_fill":
        return item.value.text if item.value else "yes"
    assert item.value is not None
    if item.value.text == "tlb":
        raise FlowError(item.value.span, "dma_coherent is yes or no")
    return item.value.text == "yes"


# ---------------------------------------------------------------------------------------------
# Functions and hooks


def _params(decl: st.FnDecl) -> tuple[model.Param, ...]:
    seen: set[str] = set()
    for param in decl.params:
        if param.name.text in seen:
            raise FlowError(param.name.span, f"parameter '{param.name.text}' is given twice")
        seen.add(param.name.text)
    return tuple(model.Param(p.name.text, p.kind) for p in decl.params)


def _function(decl: st.FnDecl, arch: str) -> model.Function:
    name = decl.name.text
    if name in _STATEMENT_NAMES:
        raise FlowError(decl.name.span, f"an arch fn cannot be named '{name}': it is a statement")
    params = _params(decl)
    body = Body(
        kind="fn",
        name=decl.name,
        pages={p.name: None for p in params if p.kind == "page"},
        mappings={p.name: Binding("param", None) for p in params if p.kind == "mapping"},
        returns_mapping=decl.returns_mapping,
    )
    statements = resolve_body(decl.body, body)
    return model.Function(name, params, decl.returns_mapping, statements, arch, decl.span)


def _hook(decl: st.FnDecl, arch: str) -> model.Function:
    name = decl.name.text
    if name not in HOOKS:
        raise FlowError(
            decl.name.span,
            f"unknown hook '{name}': the hooks are user_map and user_unmap"
            + suggest(name, set(HOOKS)),
        )
    params = _params(decl)
    if len(params) != 1 or params[0].kind != "page":
        raise FlowError(decl.span, f"hook '{name}' takes one page: on {name}(p: page)")
    body = Body(kind="hook", name=decl.name, pages={params[0].name: None}, mappings={})
    statements = resolve_body(decl.body, body)
    return model.Function(name, params, False, statements, arch, decl.span)


def _check_override(decl: st.FnDecl, new: model.Function, old: model.Function | None) -> None:
    """A kernel API has one signature on every arch, so an override keeps the inherited one."""
    if old is None:
        return
    if [p.kind for p in old.params] != [p.kind for p in new.params] or (
        old.returns_mapping != new.returns_mapping
    ):
        raise FlowError(
            decl.name.span,
            f"fn '{new.name}' must keep the signature of the one it overrides: "
            f"{signature(old)} (arch '{old.arch}', {old.span})",
        )


def signature(function: model.Function) -> str:
    params = ", ".join(f"{p.name}: {p.kind}" for p in function.params)
    result = " -> mapping" if function.returns_mapping else ""
    return f"fn {function.name}({params}){result}"


# ---------------------------------------------------------------------------------------------
# Cache levels


_ORDER = {"vivt": 0, "vipt": 1, "pipt": 2}


def _levels(decls: list[st.CacheDecl]) -> tuple[model.CacheLevel, ...]:
    """The levels of one arch, from the CPU outward, checked against the machine's limits."""
    levels: list[model.CacheLevel] = []
    for decl in decls:
        level = _level(decl)
        _check_against_inner(decl, level, levels)
        levels.append(level)
    return tuple(levels)


def _level(decl: st.CacheDecl) -> model.CacheLevel:
    indexing = decl.indexing.text
    if indexing not in _ORDER:
        raise FlowError(
            decl.indexing.span, f"unknown indexing '{indexing}': expected pipt, vipt or vivt"
        )
    options = unique_options(decl.options)
    if "write_back" in options and "write_through" in options:
        raise FlowError(
            options["write_through"].span, "a level is write_back or write_through, not both"
        )
    if "colours" in options and indexing != "vipt":
        raise FlowError(options["colours"].span, "colours applies only to a vipt level")
    return model.CacheLevel(
        name=decl.name.text,
        indexing=indexing,  # type: ignore[arg-type]
        colours=_number(options.get("colours"), "a colour count"),
        write_back="write_through" not in options,
        line_words=_number(options.get("line_words"), "line_words"),
        victim_fill="victim_fill" in options,
        span=decl.span,
    )


def _number(option: st.Option | None, what: str) -> int:
    if option is None:
        return 1
    assert option.value is not None
    return count(option.value, what)


def _check_against_inner(
    decl: st.CacheDecl, level: model.CacheLevel, inner: list[model.CacheLevel]
) -> None:
    """The limits of our machine on a level given the levels inside it."""
    options = {option.kind: option for option in decl.options}
    if not inner:
        if level.victim_fill:
            raise FlowError(
                options["victim_fill"].span,
                "victim_fill needs a level inside this one: the first level cannot have it",
            )
        return
    for other in inner:
        if other.name == level.name:
            raise FlowError(
                decl.name.span, f"cache level '{level.name}' is already defined at {other.span}"
            )
    first, last = inner[0], inner[-1]
    if level.line_words != first.line_words:
        where = options["line_words"].span if "line_words" in options else decl.name.span
        raise FlowError(
            where,
            f"every level has the same line_words: {level.name} has {level.line_words}, "
            f"{first.name} has {first.line_words}",
        )
    if _ORDER[level.indexing] < _ORDER[last.indexing]:
        raise FlowError(
            decl.indexing.span,
            f"a {level.indexing} level cannot be outside a {last.indexing} level "
            "(levels go vivt, then vipt, then pipt, from the CPU outward)",
        )
    if level.indexing == "vipt" and last.indexing == "vipt" and last.colours % level.colours:
        where = options["colours"].span if "colours" in options else decl.name.span
        raise FlowError(
            where,
            f"{level.name} has {level.colours} colours, which does not divide the "
            f"{last.colours} colours of {last.name} inside it",
        )
