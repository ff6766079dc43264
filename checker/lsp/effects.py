"""What an arch function does, in a few words, read from its resolved body.

For hover: `flush kernel(p)`, `purge_tlb m` via flush_kernel_dcache_page_addr, ends the
handle; or plainly `no-op`. Calls are followed on the arch being described (late dispatch,
as the checker does), so generic's vmap says what the arch's own flush_cache_vmap does.
Everything said comes from the arch files; nothing about an arch is written here.
"""

from __future__ import annotations

from checker.front import model

_MAX_DEPTH = 32  # the language's limit on nested calls (docs/language.md, section 6)


# One effect: the calls it is reached through (after the function itself), and what it does.
Effect = tuple[str, str]


def describe(function: model.Function, arch: model.Arch) -> list[Effect]:
    """What running `function` on `arch` does, one phrase per effect, in body order; an
    empty list when it does nothing at all."""
    effects: dict[Effect, None] = {}
    _walk(function.body, arch, effects, (function.name,), conditional=False)
    return list(effects)


def summary(function: model.Function, arch: model.Arch) -> str:
    """One line: `no-op`, or the effects in body order, those of a call grouped after
    `via CALL:`; `no cache maintenance` leads when no maintenance is among them."""
    effects = describe(function, arch)
    if not effects:
        return "no-op"
    groups: list[tuple[str, list[str]]] = []
    for via, phrase in effects:
        if groups and groups[-1][0] == via:
            groups[-1][1].append(phrase)
        else:
            groups.append((via, [phrase]))
    parts = [", ".join(phrases) if not via else f"via {via}: {', '.join(phrases)}"
             for via, phrases in groups]
    if not any(phrase.startswith("`") for _, phrase in effects):
        parts.insert(0, "no cache maintenance")
    return "; ".join(parts)


def _walk(body: tuple[model.Statement, ...], arch: model.Arch, effects: dict[Effect, None],
          path: tuple[str, ...], conditional: bool) -> None:
    via = " -> ".join(path[1:])
    maybe = " (conditionally)" if conditional else ""

    def out(phrase: str) -> None:
        effects[via, phrase] = None

    for s in body:
        if isinstance(s, model.Maintenance):
            out(f"`{s.op} {_target(s.target)}`{maybe}")
        elif isinstance(s, model.Call):
            _call(s.function, arch, effects, path, conditional)
        elif isinstance(s, model.Return):
            if isinstance(s.value, model.Call):
                _call(s.value.function, arch, effects, path, conditional)
            elif isinstance(s.value, model.MapOp):
                out(_map(s.value) + maybe)
        elif isinstance(s, model.MapOp):
            out(_map(s) + maybe)
        elif isinstance(s, model.Unmap):
            out(f"ends the handle{maybe}")
        elif isinstance(s, model.SetFlag | model.ClearFlag):
            verb = "sets" if isinstance(s, model.SetFlag) else "clears"
            out(f"{verb} {s.page}.{s.flag}{maybe}")
        elif isinstance(s, model.Access):
            out(f"{s.kind}s {s.mapping}[{s.index}]{maybe}")
        elif isinstance(s, model.Copy):
            out(f"copies {s.src} to {s.dst}{maybe}")
        elif isinstance(s, model.DmaAccess):
            out(f"device {s.kind}s {s.page}[{s.index}]{maybe}")
        elif isinstance(s, model.Signal | model.Wait | model.Lock | model.Unlock):
            name = type(s).__name__.lower()
            out(f"{name}s {getattr(s, 'event', getattr(s, 'name', ''))}{maybe}")
        elif isinstance(s, model.Mmap | model.Munmap):
            hook = "user_map" if isinstance(s, model.Mmap) else "user_unmap"
            function = arch.hooks.get(hook)
            if function is not None and len(path) < _MAX_DEPTH:
                _walk(function.body, arch, effects, (*path, f"on {hook}"), conditional)
        elif isinstance(s, model.If):
            _walk(s.then, arch, effects, path, True)
            _walk(s.orelse, arch, effects, path, True)
        elif isinstance(s, model.Either):
            for branch in s.branches:
                _walk(branch, arch, effects, path, True)
        elif isinstance(s, model.Repeat):
            _walk(s.body, arch, effects, path, conditional)


def _call(name: str, arch: model.Arch, effects: dict[Effect, None], path: tuple[str, ...],
          conditional: bool) -> None:
    function = arch.functions.get(name)
    if function is None or name in path or len(path) >= _MAX_DEPTH:
        return  # an error the diagnostics report; nothing to describe
    _walk(function.body, arch, effects, (*path, name), conditional)


def _target(target: model.AliasSet) -> str:
    if target.kind == "mapping":
        return target.name
    if target.kind == "every":
        return "all()"
    return f"{target.kind}({target.name})"


def _map(op: model.MapOp) -> str:
    colour = f"user({op.user_of})" if op.user_of else op.colour
    return f"maps {op.page} (colour {colour})"
