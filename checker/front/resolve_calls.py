"""Late checks of one protocol on one arch: the calls, and the pages behind call results.

Calls are dispatched on the arch being checked, like the kernel's generic helpers calling the
arch's own flush_dcache_page, so they can only be checked once the arch is known. Walking the
protocol and every function body it reaches, this checks each call (the function exists, the
arguments fit, no recursion), infers which page each mapping variable is on, and checks every
word index and copy against the page sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checker.errors import FlowError, FlowWarning
from checker.front import model
from checker.front.kernel_names import unknown_function
from checker.front.resolve_arch import signature
from checker.front.resolve_body import copy_mismatch, index_error
from checker.front.source import Span
from checker.front.suggest import suggest
from checker.machine.lower import MAX_INLINE_DEPTH

Pages = frozenset[str]  # the protocol pages a mapping name may be on


def check_protocol_on_arch(protocol: model.Protocol, arch: model.Arch) -> list[FlowWarning]:
    """Raise a FlowError, located at the offending statement, if `protocol` misuses `arch`;
    else the warnings: waits nothing signals, colours beyond the arch's colour count."""
    checker = _Checker(protocol, arch)
    for mapping in protocol.mappings:
        if mapping.colour is not None:
            checker.check_colour(mapping.colour, mapping.span)
    for thread in protocol.threads:
        frame = _Frame(
            pages={page.name: page.name for page in protocol.pages},
            maps={m.name: frozenset({m.page}) for m in protocol.mappings},
        )
        checker.block(thread.body, frame)
    checker.check_waits()
    return checker.warnings


@dataclass
class _Frame:
    """One body being walked: what its page and mapping names stand for in the protocol."""

    pages: dict[str, str]
    maps: dict[str, Pages]
    path: tuple[str, ...] = ()  # the calls that led here, outermost first
    origin: Span | None = None  # the protocol statement that led here
    returns: set[str] = field(default_factory=set)  # pages of the mappings returned
    ended: bool = False  # every path to here has returned

    def enter(self, name: str, origin: Span) -> _Frame:
        return _Frame({}, {}, (*self.path, name), self.origin or origin)


class _Checker:
    def __init__(self, protocol: model.Protocol, arch: model.Arch) -> None:
        self.arch = arch
        self.words = {page.name: page.words for page in protocol.pages}
        self.signals = {
            s.event for t in protocol.threads for s in walk_statements(t.body)
            if isinstance(s, model.Signal)
        }
        self.waits: list[tuple[model.Wait, _Frame]] = []
        self.memo: dict[tuple[str, tuple[Pages, ...]], Pages] = {}
        self.warnings: list[FlowWarning] = []
        # The colours of the innermost VIPT level: every other one divides them.
        vipt = [level for level in arch.levels if level.indexing == "vipt"]
        self.coloured = max(vipt, key=lambda level: level.colours) if vipt else None

    def error(self, span: Span, message: str, frame: _Frame) -> FlowError:
        return FlowError(span, message, _notes(frame))

    # -- statements -------------------------------------------------------------------------

    def block(self, stmts: tuple[model.Statement, ...], frame: _Frame) -> None:
        for stmt in stmts:
            if frame.ended:
                return
            self.statement(stmt, frame)

    def statement(self, s: model.Statement, frame: _Frame) -> None:
        if isinstance(s, model.Call):
            pages = self.call(s, frame)
            if s.result is not None:
                self.check_one_page(s, pages, frame)
                frame.maps[s.result] = pages
        elif isinstance(s, model.Access):
            for page in frame.maps.get(s.mapping, ()):
                self.check_index(s.index, page, s.span, frame)
        elif isinstance(s, model.Copy):
            self.check_copy(s, frame)
        elif isinstance(s, model.DmaAccess):
            self.check_index(s.index, frame.pages[s.page], s.span, frame)
        elif isinstance(s, model.Mmap):
            frame.maps[s.result] = frozenset({frame.pages[s.page]})
            self.hook("user_map", frame.maps[s.result], s.span, frame)
        elif isinstance(s, model.Munmap):
            self.hook("user_unmap", frame.maps.get(s.mapping, frozenset()), s.span, frame)
        elif isinstance(s, model.MapOp) and s.result is not None:
            frame.maps[s.result] = frozenset({frame.pages[s.page]})
            if isinstance(s.colour, int):
                self.check_colour(s.colour, s.span, frame)
        elif isinstance(s, model.Signal):
            self.signals.add(s.event)
        elif isinstance(s, model.Wait):
            self.waits.append((s, frame))
        elif isinstance(s, model.Either):
            self.branches(s.branches, frame)
        elif isinstance(s, model.If):
            self.branches((s.then, s.orelse), frame)
        elif isinstance(s, model.Repeat):
            # Twice: the second round sees what the first one bound.
            for _ in range(min(s.count, 2)):
                self.block(s.body, frame)
        elif isinstance(s, model.Return):
            frame.returns |= self.returned(s, frame)
            frame.ended = True

    def branches(self, blocks: tuple[tuple[model.Statement, ...], ...], frame: _Frame) -> None:
        """Walk alternatives; after them a name may be on any page a branch that goes on left."""
        merged: dict[str, Pages] = {}
        ended = True
        for stmts in blocks:
            branch = _Frame(frame.pages, dict(frame.maps), frame.path, frame.origin, frame.returns)
            self.block(stmts, branch)
            if branch.ended:
                continue
            ended = False
            for name, pages in branch.maps.items():
                merged[name] = merged.get(name, frozenset()) | pages
        frame.maps = merged
        frame.ended = ended

    def returned(self, s: model.Return, frame: _Frame) -> Pages:
        value = s.value
        if isinstance(value, model.MapOp):
            if isinstance(value.colour, int):
                self.check_colour(value.colour, value.span, frame)
            return frozenset({frame.pages[value.page]})
        if isinstance(value, model.MappingArg):
            return frame.maps.get(value.name, frozenset())
        if isinstance(value, model.Call):
            callee = self.function(value, frame)
            if not callee.returns_mapping:
                raise self.error(
                    value.span,
                    f"'{callee.name}' does not return a mapping, "
                    f"so '{frame.path[-1]}' cannot return its result",
                    frame,
                )
            return self.call(value, frame)
        return frozenset()

    # -- calls ------------------------------------------------------------------------------

    def function(self, call: model.Call, frame: _Frame) -> model.Function:
        """The function a call names on this arch, with the arguments checked against it."""
        function = self.arch.functions.get(call.function)
        if function is None:
            message = unknown_function(call.function, self.arch.name, self.arch.functions)
            raise self.error(call.span, message, frame)
        if len(call.args) != len(function.params):
            n = len(function.params)
            raise self.error(
                call.span,
                f"'{call.function}' takes {n} argument{'s' * (n != 1)}, but {len(call.args)} "
                f"{'is' if len(call.args) == 1 else 'are'} given ({signature(function)})",
                frame,
            )
        for number, (param, arg) in enumerate(
            zip(function.params, call.args, strict=True), start=1
        ):
            kind = "page" if isinstance(arg, model.PageArg) else "mapping"
            if kind != param.kind:
                message = (
                    f"{call.function} expects a {param.kind} as argument {number}, "
                    f"but '{arg.name}' is a {kind}"
                )
                if call.function == "kunmap" and kind == "page":  # the kernel's spelling
                    message += (
                        f": kunmap({arg.name}) ends the handle that kmap({arg.name}) "
                        "returned, and none is live here"
                    )
                raise self.error(call.span, message, frame)
        if call.result is not None and not function.returns_mapping:
            raise self.error(call.span, f"'{call.function}' does not return a mapping", frame)
        if call.function in frame.path:
            loop = frame.path[frame.path.index(call.function) :]
            raise self.error(
                call.span, f"recursive call: {' -> '.join((*loop, call.function))}", frame
            )
        if len(frame.path) >= MAX_INLINE_DEPTH:
            loop = self.cycle_from(frame.path, call.function)
            if loop:  # a recursion longer than the limit is still a recursion
                raise self.error(call.span, f"recursive call: {' -> '.join(loop)}", frame)
            raise self.error(call.span, calls_too_deep(frame.path, call.function), frame)
        return function

    def cycle_from(self, path: tuple[str, ...], callee: str) -> tuple[str, ...]:
        """A loop of calls (and hooks) that calling `callee` after `path` reaches, as the walk
        would report it; () when there is none. A depth-first search of the call graph, for
        the depth limit only: the walk finds every shorter loop by itself."""
        stack = [*path, callee]
        on_stack = set(stack)
        done: set[str] = set()  # explored to the end without a loop
        pending = [iter(self.callees(callee))]
        while pending:
            for name in pending[-1]:
                if name in on_stack:
                    return (*stack[stack.index(name) :], name)
                if name not in done:
                    stack.append(name)
                    on_stack.add(name)
                    pending.append(iter(self.callees(name)))
                    break
            else:  # every call of the function on top explored
                pending.pop()
                finished = stack.pop()
                on_stack.discard(finished)
                done.add(finished)
        return ()

    def callees(self, name: str) -> list[str]:
        """The functions and hooks (as `on user_map`) the body of `name` calls on this arch."""
        if name.startswith("on "):
            function = self.arch.hooks.get(name.removeprefix("on "))
        else:
            function = self.arch.functions.get(name)
        if function is None:
            return []
        names = []
        for s in walk_statements(function.body):
            value = s.value if isinstance(s, model.Return) else s
            if isinstance(value, model.Call):
                names.append(value.function)
            elif isinstance(s, model.Mmap | model.Munmap):
                hook = "user_map" if isinstance(s, model.Mmap) else "user_unmap"
                if hook in self.arch.hooks:
                    names.append(f"on {hook}")
        return names

    def call(self, call: model.Call, frame: _Frame) -> Pages:
        """Check a call and walk the body it runs; the pages its result may be on."""
        function = self.function(call, frame)
        args = tuple(
            frozenset({frame.pages[arg.name]})
            if isinstance(arg, model.PageArg)
            else frame.maps.get(arg.name, frozenset())
            for arg in call.args
        )
        key = (function.name, args)
        if key not in self.memo:
            inner = frame.enter(function.name, call.span)
            for param, pages in zip(function.params, args, strict=True):
                if param.kind == "page":
                    inner.pages[param.name] = next(iter(pages))
                else:
                    inner.maps[param.name] = pages
            self.block(function.body, inner)
            self.memo[key] = frozenset(inner.returns)
        return self.memo[key]

    def check_one_page(self, call: model.Call, pages: Pages, frame: _Frame) -> None:
        """A kept result is a mapping of one page, whatever path the function took."""
        if len(pages) > 1:
            names = ", ".join(f"'{page}'" for page in sorted(pages))
            message = f"'{call.function}' returns mappings of different pages ({names})"
            raise self.error(call.span, message, frame)

    def hook(self, name: str, pages: Pages, origin: Span, frame: _Frame) -> None:
        function = self.arch.hooks.get(name)
        if function is None:
            return
        label = f"on {name}"
        if label in frame.path:
            loop = frame.path[frame.path.index(label) :]
            raise self.error(origin, f"recursive call: {' -> '.join((*loop, label))}", frame)
        for page in sorted(pages):
            inner = frame.enter(label, origin)
            inner.pages[function.params[0].name] = page
            self.block(function.body, inner)

    # -- sizes and events -------------------------------------------------------------------

    def check_index(self, index: int, page: str, span: Span, frame: _Frame) -> None:
        size = self.words[page]
        if index >= size:
            raise self.error(span, index_error(index, page, size), frame)

    def check_copy(self, s: model.Copy, frame: _Frame) -> None:
        for dst in sorted(frame.maps.get(s.dst, ())):
            for src in sorted(frame.maps.get(s.src, ())):
                if self.words[dst] != self.words[src]:
                    message = copy_mismatch(dst, self.words[dst], src, self.words[src])
                    raise self.error(s.span, message, frame)

    def check_waits(self) -> None:
        """A wait that nothing signals is legal and blocks forever: the check reports the
        deadlock, and this warns where it is."""
        for wait, frame in self.waits:
            if wait.event not in self.signals:
                hint = suggest(wait.event, self.signals)
                message = (
                    f"nothing signals '{wait.event}'{hint}: this wait blocks forever, "
                    "a deadlock once it is reached"
                )
                self.warnings.append(FlowWarning(wait.span, message, _notes(frame)))

    def check_colour(self, colour: int, span: Span, frame: _Frame | None = None) -> None:
        """A colour beyond the count of the arch's VIPT level is taken modulo the count, as
        the contract says; likely not what was meant, so it is worth a warning."""
        level = self.coloured
        if level is None or colour < level.colours:
            return
        message = (
            f"colour {colour} is colour {colour % level.colours} on arch '{self.arch.name}' "
            f"({level.name} has {level.colours} colours)"
        )
        notes = _notes(frame) if frame is not None else ()
        self.warnings.append(FlowWarning(span, message, notes))


def _notes(frame: _Frame) -> tuple[str, ...]:
    """Where a body inside an arch function was reached from."""
    if not frame.path:
        return ()
    return (f"reached from {frame.origin} through {' -> '.join(frame.path)}",)


def calls_too_deep(path: tuple[str, ...], function: str) -> str:
    """Lowering inlines every call, and refuses to nest more than MAX_INLINE_DEPTH
    (checker/machine/lower.py): said here first, with how the protocol got there."""
    return (
        f"calls nested too deeply: {' -> '.join((*path, function))} would be "
        f"{len(path) + 1} calls deep; the limit is {MAX_INLINE_DEPTH} nested calls"
    )


def walk_statements(stmts: tuple[model.Statement, ...]):
    """Every statement of a body, nested ones included."""
    for s in stmts:
        yield s
        if isinstance(s, model.Either):
            for branch in s.branches:
                yield from walk_statements(branch)
        elif isinstance(s, model.If):
            yield from walk_statements(s.then)
            yield from walk_statements(s.orelse)
        elif isinstance(s, model.Repeat):
            yield from walk_statements(s.body)
