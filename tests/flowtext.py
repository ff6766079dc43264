"""Model objects back to .flow text: the generated protocols and arches of tests/strategies.py
become input files, so the front end can be fuzzed with valid text (and mutations of it), and
a case of bench/differential.py can be written out as a regression test."""

from __future__ import annotations

from checker.front import model


def arch_text(arch: model.Arch, only: set[str] | None = None) -> str:
    """An arch block with no `extends`: every function of `arch` (or those in `only`)."""
    lines = [f"arch {arch.name} {{"]
    if arch.doc:
        lines.append(f"    doc {_string(arch.doc)}")
    if arch.kernel:
        lines.append(f"    kernel {_string(arch.kernel)}")
    for level in arch.levels:
        words = [f"cache {level.name} {level.indexing}"]
        if level.indexing == "vipt":
            words.append(f"colours {level.colours}")
        words.append("write_back" if level.write_back else "write_through")
        words.append(f"line_words {level.line_words}")
        if level.victim_fill:
            words.append("victim_fill")
        lines.append("    " + " ".join(words))
    lines.append(f"    speculative_fill {arch.speculative_fill}")
    lines.append(f"    dma_coherent {'yes' if arch.dma_coherent else 'no'}")
    for function in arch.functions.values():
        if only is None or function.name in only:
            lines.extend(_function("fn", function))
    for hook in arch.hooks.values():
        lines.extend(_function("on", hook))
    lines.append("}")
    return "\n".join(lines) + "\n"


def protocol_text(protocol: model.Protocol) -> str:
    lines = [f"protocol {protocol.name} {{"]
    if protocol.doc:
        lines.append(f"    doc {_string(protocol.doc)}")
    for page in protocol.pages:
        highmem = " highmem" if page.highmem else ""
        lines.append(f"    page {page.name} {page.kind}{highmem} words {page.words}")
    for mapping in protocol.mappings:
        colour = "" if mapping.colour is None else f" colour {mapping.colour}"
        lines.append(f"    mapping {mapping.name} = user({mapping.page}){colour}")
        if mapping.start != "any":
            lines.append(f"    start {mapping.name} {mapping.start}")
    for page in protocol.pages:
        if page.kernel_start != "empty":
            lines.append(f"    start kernel({page.name}) {page.kernel_start}")
    for thread in protocol.threads:
        keyword = "device" if thread.is_device else "thread"
        lines.append(f"    {keyword} {thread.name} {{")
        lines.extend(_block(thread.body, 2))
        lines.append("    }")
    for expect in protocol.expects:
        kinds = ", ".join(sorted(expect.kinds)) or "safe"
        lines.append(f"    expect {kinds} on {expect.arch}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _function(keyword: str, function: model.Function) -> list[str]:
    params = ", ".join(f"{p.name}: {p.kind}" for p in function.params)
    returns = " -> mapping" if function.returns_mapping else ""
    return [f"    {keyword} {function.name}({params}){returns} {{", *_block(function.body, 2),
            "    }"]


def _block(body: tuple[model.Statement, ...], depth: int) -> list[str]:
    pad = "    " * depth
    lines: list[str] = []
    for statement in body:
        if isinstance(statement, model.Either):
            for index, branch in enumerate(statement.branches):
                lines.append(pad + ("either {" if index == 0 else "} or {"))
                lines.extend(_block(branch, depth + 1))
            lines.append(pad + "}")
        elif isinstance(statement, model.Repeat):
            lines.append(f"{pad}repeat {statement.count} {{")
            lines.extend(_block(statement.body, depth + 1))
            lines.append(pad + "}")
        elif isinstance(statement, model.If):
            lines.append(f"{pad}if {_condition(statement.condition)} {{")
            lines.extend(_block(statement.then, depth + 1))
            if statement.orelse:
                lines.append(pad + "} else {")
                lines.extend(_block(statement.orelse, depth + 1))
            lines.append(pad + "}")
        else:
            lines.append(pad + _simple(statement))
    return lines


def _simple(s: model.Statement) -> str:  # noqa: PLR0911 (one case per statement kind)
    if isinstance(s, model.Call):
        call = f"{s.function}({', '.join(a.name for a in s.args)})"
        return f"{s.result} = {call}" if s.result else call
    if isinstance(s, model.Access):
        return f"{s.kind} {s.mapping}[{s.index}]"
    if isinstance(s, model.Copy):
        return f"copy {s.dst} <- {s.src}"
    if isinstance(s, (model.Signal, model.Wait)):
        return f"{type(s).__name__.lower()} {s.event}"
    if isinstance(s, (model.Lock, model.Unlock)):
        return f"{type(s).__name__.lower()} {s.name}"
    if isinstance(s, model.Mmap):
        return f"{s.result} = mmap({s.page})" + (f" at {s.at}" if s.at else "")
    if isinstance(s, model.Munmap):
        return f"munmap({s.mapping})"
    if isinstance(s, model.DmaAccess):
        return f"dma_{s.kind} {s.page}[{s.index}]"
    if isinstance(s, model.Maintenance):
        target = s.target.name
        if s.target.kind == "every":
            target = "all()"
        elif s.target.kind != "mapping":
            target = f"{s.target.kind}({target})"
        cost = f" cost {s.cost}" if s.cost is not None else ""
        return f"{s.op} {target}{cost}"
    if isinstance(s, model.MapOp):
        colour = f"user({s.user_of})" if s.user_of else s.colour
        text = f"map {s.page} colour {colour}"
        return f"{s.result} = {text}" if s.result else text
    if isinstance(s, model.Unmap):
        return f"unmap {s.mapping}"
    if isinstance(s, model.SetFlag):
        return f"set {s.page}.{s.flag}"
    if isinstance(s, model.ClearFlag):
        return f"clear {s.page}.{s.flag}"
    if isinstance(s, model.Return):
        value = s.value
        if value is None:
            return "return"
        if isinstance(value, model.MapOp):
            colour = f"user({value.user_of})" if value.user_of else value.colour
            return f"return map {value.page} colour {colour}"
        if isinstance(value, model.MappingArg):
            return f"return {value.name}"
        return f"return {_simple(value)}"
    raise TypeError(f"no text for {s!r}")


def _condition(c: model.Condition) -> str:
    if isinstance(c, model.PagePredicate):
        return f"{c.kind}({c.page})"
    if isinstance(c, model.FlagTest):
        return f"{c.page}.{c.flag}"
    if isinstance(c, model.Not):
        return f"not ({_condition(c.operand)})"
    if isinstance(c, model.And):
        return f"({_condition(c.left)} and {_condition(c.right)})"
    assert isinstance(c, model.Or)
    return f"({_condition(c.left)} or {_condition(c.right)})"
