"""Statements of a thread, device, fn or hook body: syntax -> model, with every name checked.

Names are resolved flow-sensitively: a mapping variable exists from the statement that binds it
(`x = f(...)`, `x = mmap(p)`, `x = map p`) on, and after `either`/`if` only if every branch
bound it. Calls of arch functions are not looked up here: they are dispatched late, on the arch
being checked (resolve_calls.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from checker.errors import ErrorList, FlowError
from checker.front import model
from checker.front import syntax as st
from checker.front.spellings import respell
from checker.front.suggest import suggest

MAX_COUNT = 1024  # the largest repeat count, page size, colour count or line size
DEVICE_STATEMENTS = "dma_read, dma_write, signal, wait, lock and unlock"
_ARCH_ONLY = (
    "a protocol reaches the cache only through the arch's API (allowed only inside arch blocks)"
)

BodyKind = Literal["thread", "device", "fn", "hook"]
Origin = Literal["declared", "param", "mmap", "call", "map", "mixed"]


@dataclass(frozen=True)
class Binding:
    """How a mapping name got its value, and its page when that is known here; `kmap` is the
    page when the value is a live handle that `kmap(page)` returned (for `kunmap(page)`)."""

    origin: Origin
    page: str | None
    kmap: str | None = None


@dataclass
class Body:
    """The context a body is resolved in, and what resolving it collects."""

    kind: BodyKind
    name: st.Name  # of the thread, device, fn or hook
    pages: dict[str, int | None]  # page name -> words (None: a page parameter)
    mappings: dict[str, Binding]  # declared mappings or mapping parameters
    returns_mapping: bool = False

    @property
    def in_arch(self) -> bool:
        return self.kind in ("fn", "hook")


@dataclass
class _Flow:
    """What is bound at one point of a body."""

    bound: dict[str, Binding]
    maybe: set[str] = field(default_factory=set)  # bound on some paths to here only
    ended: bool = False  # every path to here has returned

    def copy(self) -> _Flow:
        return _Flow(dict(self.bound), set(self.maybe), self.ended)


def unique_options(options: tuple[st.Option, ...] | list[st.Option]) -> dict[str, st.Option]:
    """The options of a `page` or `cache` line by kind; one given twice is an error."""
    seen: dict[str, st.Option] = {}
    for option in options:
        if option.kind in seen:
            raise FlowError(option.span, f"'{option.kind}' is given twice")
        seen[option.kind] = option
    return seen


def count(number: st.Number, what: str) -> int:
    """A count written in the input: between 1 and MAX_COUNT."""
    if not 1 <= number.value <= MAX_COUNT:
        raise FlowError(number.span, f"{what} must be between 1 and {MAX_COUNT}")
    return number.value


def words(n: int) -> str:
    return f"{n} word" if n == 1 else f"{n} words"


def resolve_body(stmts: tuple[st.Stmt, ...], body: Body) -> tuple[model.Statement, ...]:
    """Resolve one body. Each statement is checked on its own: the errors of all of them are
    raised together once the body is done."""
    flow = _Flow({})
    resolver = _Resolver(body)
    out = resolver.block(stmts, flow)
    if body.returns_mapping and not flow.ended:
        resolver.errors.add(
            FlowError(
                body.name.span,
                f"fn '{body.name.text}' can reach its end without returning a mapping",
            )
        )
    resolver.errors.raise_any()
    return out


class _Resolver:
    def __init__(self, body: Body) -> None:
        self.body = body
        self.errors = ErrorList()
        self.handlers = {
            st.CallStmt: self.call_statement,
            st.AccessStmt: self.access,
            st.CopyStmt: self.copy,
            st.SyncStmt: self.sync,
            st.DmaStmt: self.dma,
            st.EitherStmt: self.either,
            st.RepeatStmt: self.repeat,
            st.MaintenanceStmt: self.maintenance,
            st.MapStmt: self.map_statement,
            st.UnmapStmt: self.unmap,
            st.FlagStmt: self.flag,
            st.IfStmt: self.if_,
            st.ReturnStmt: self.return_,
        }

    # -- blocks and control flow ------------------------------------------------------------

    def block(self, stmts: tuple[st.Stmt, ...], flow: _Flow) -> tuple[model.Statement, ...]:
        out: list[model.Statement] = []
        for stmt in stmts:
            if flow.ended:
                message = "this statement is never reached: a 'return' is before it"
                self.errors.add(FlowError(stmt.span, message))
                break
            try:
                out.append(self.statement(stmt, flow))
            except FlowError as error:
                self.errors.add(error)
                self.recover(stmt, flow)
        return tuple(out)

    def recover(self, stmt: st.Stmt, flow: _Flow) -> None:
        """After an error in `stmt`: bind the name it would have bound, so that its uses
        further on bring no second error."""
        result = stmt.result if isinstance(stmt, st.CallStmt | st.MapStmt) else None
        if result is None or result.text in self.body.pages:
            return
        if result.text not in self.body.mappings:
            flow.bound[result.text] = Binding("mixed", None)
            flow.maybe.discard(result.text)

    def branches(
        self, blocks: tuple[tuple[st.Stmt, ...], ...], flow: _Flow
    ) -> tuple[tuple[model.Statement, ...], ...]:
        """Resolve alternative blocks from `flow`, then leave in `flow` what holds after them."""
        results, flows = [], []
        for stmts in blocks:
            branch = flow.copy()
            results.append(self.block(stmts, branch))
            flows.append(branch)
        _merge(flow, flows)
        return tuple(results)

    def statement(self, stmt: st.Stmt, flow: _Flow) -> model.Statement:
        self.check_allowed(stmt)
        return self.handlers[type(stmt)](stmt, flow)

    def check_allowed(self, stmt: st.Stmt) -> None:
        word = statement_word(stmt)
        if not self.body.in_arch:
            if isinstance(stmt, st.MaintenanceStmt | st.MapStmt | st.UnmapStmt | st.FlagStmt):
                raise FlowError(stmt.span, f"'{word}' is a cache micro-operation: {_ARCH_ONLY}")
            if isinstance(stmt, st.IfStmt | st.ReturnStmt):
                raise FlowError(
                    stmt.span,
                    f"'{word}' is allowed only inside arch blocks: "
                    "a protocol reaches the cache only through the arch's API",
                )
        if self.body.kind == "device" and not isinstance(
            stmt, st.DmaStmt | st.SyncStmt | st.EitherStmt | st.RepeatStmt
        ):
            raise FlowError(
                stmt.span,
                f"device '{self.body.name.text}' may only use {DEVICE_STATEMENTS}, not '{word}'",
            )

    def either(self, stmt: st.EitherStmt, flow: _Flow) -> model.Statement:
        return model.Either(self.branches(stmt.branches, flow), stmt.span)

    def repeat(self, stmt: st.RepeatStmt, flow: _Flow) -> model.Statement:
        # The body runs at least once, so what it binds stays bound after it.
        times = count(stmt.count, "a repeat count")
        return model.Repeat(times, self.block(stmt.body, flow), stmt.span)

    def if_(self, stmt: st.IfStmt, flow: _Flow) -> model.Statement:
        condition = self.condition(stmt.condition, flow)
        then, orelse = self.branches((stmt.then, stmt.orelse), flow)
        return model.If(condition, then, orelse, stmt.span)

    def return_(self, stmt: st.ReturnStmt, flow: _Flow) -> model.Statement:
        fn = f"{self.body.kind} '{self.body.name.text}'"
        value = stmt.value
        flow.ended = True
        if value is None:
            if self.body.returns_mapping:
                raise FlowError(stmt.span, f"{fn} returns a mapping: 'return' needs one")
            return model.Return(None, stmt.span)
        if not self.body.returns_mapping:
            raise FlowError(stmt.span, f"{fn} has no '-> mapping', so its 'return' takes no value")
        if isinstance(value, st.MapStmt):
            return model.Return(self.map_op(value, None, flow), stmt.span)
        if isinstance(value, st.CallStmt):
            if value.function.text in ("mmap", "munmap"):
                raise FlowError(value.span, f"'return' cannot return {value.function.text}(...)")
            return model.Return(self.call(value, flow), stmt.span)
        self.mapping(value, flow, "return")
        return model.Return(model.MappingArg(value.text), stmt.span)

    # -- CPU and synchronisation statements -------------------------------------------------

    def call_statement(self, stmt: st.CallStmt, flow: _Flow) -> model.Statement:
        name = stmt.function.text
        if name == "mmap":
            return self.mmap(stmt, flow)
        if stmt.at is not None:
            raise FlowError(stmt.at.span, f"only mmap takes 'at' (a mapping at the address of "
                                          f"another), not {name}")
        if name == "munmap":
            return self.munmap(stmt, flow)
        spelled = respell(stmt, _Scope(self, flow))
        if isinstance(spelled, st.CopyStmt):
            return self.copy(spelled, flow)
        stmt = spelled
        kmap = self.kmap_page(stmt)
        if kmap is not None and stmt.result is None:
            # `kmap(p)` with its address dropped, as kernel code that then uses
            # page_address(p) does: the handle gets a name no variable can have, so that a
            # later kunmap(p) can end it.
            hidden = f"kmap({kmap})"
            live = flow.bound.get(hidden)
            if live is not None and live.kmap is not None:
                raise FlowError(
                    stmt.span,
                    f"{hidden} is live already, and its address was dropped: keep each "
                    f"handle ('k = kmap({kmap})') to tell them apart",
                )
            stmt = dataclasses.replace(stmt, result=st.Name(hidden, stmt.span))
        call = self.call(stmt, flow)
        if stmt.result is not None:
            self.bind(stmt.result, Binding("call", None, kmap), flow)
        if name == "kunmap" and len(stmt.args) == 1:
            self.end_kmap(stmt.args[0].text, flow)
        return call

    def kmap_page(self, stmt: st.CallStmt) -> str | None:
        """The page of `kmap(page)`; None for any other call."""
        if stmt.function.text != "kmap" or len(stmt.args) != 1:
            return None
        arg = stmt.args[0].text
        return arg if arg in self.body.pages else None

    def end_kmap(self, name: str, flow: _Flow) -> None:
        """After kunmap(name): its handle is no longer live for kunmap(page)."""
        binding = flow.bound.get(name)
        if binding is not None and binding.kmap is not None:
            flow.bound[name] = dataclasses.replace(binding, kmap=None)

    def call(self, stmt: st.CallStmt, flow: _Flow) -> model.Call:
        args = tuple(self.argument(arg, flow) for arg in stmt.args)
        result = stmt.result.text if stmt.result else None
        return model.Call(stmt.function.text, args, result, stmt.span)

    def argument(self, name: st.Name, flow: _Flow) -> model.Arg:
        if name.text in self.body.pages:
            return model.PageArg(name.text)
        if self.binding(name.text, flow) is not None:
            return model.MappingArg(name.text)
        self.not_bound(name, flow)
        known = set(self.body.pages) | set(self.body.mappings) | set(flow.bound)
        raise FlowError(
            name.span, f"unknown page or mapping '{name.text}'{suggest(name.text, known)}"
        )

    def mmap(self, stmt: st.CallStmt, flow: _Flow) -> model.Statement:
        if stmt.result is None:
            raise FlowError(stmt.span, "mmap makes a mapping: write 'u = mmap(PAGE)'")
        if len(stmt.args) != 1:
            raise FlowError(stmt.span, "mmap takes one page")
        page = self.page(stmt.args[0], flow, "mmap")
        at = None
        if stmt.at is not None:
            # `u = mmap(p) at v`: at v's address, so at v's colour (v may be unmapped by now:
            # COW replaces the old page's PTE at the same address).
            self.mapping(stmt.at, flow, "mmap ... at")
            at = stmt.at.text
        self.bind(stmt.result, Binding("mmap", page), flow)
        return model.Mmap(stmt.result.text, page, stmt.span, at)

    def munmap(self, stmt: st.CallStmt, flow: _Flow) -> model.Statement:
        if stmt.result is not None:
            raise FlowError(stmt.span, "munmap returns nothing")
        if len(stmt.args) != 1:
            raise FlowError(stmt.span, "munmap takes one mapping")
        name = stmt.args[0]
        binding = self.mapping(name, flow, "munmap")
        if binding.origin not in ("declared", "mmap"):
            raise FlowError(
                name.span,
                f"munmap needs a user mapping (declared, or made by mmap), "
                f"but '{name.text}' is not one",
            )
        return model.Munmap(name.text, stmt.span)

    def access(self, stmt: st.AccessStmt, flow: _Flow) -> model.Statement:
        binding = self.mapping(stmt.mapping, flow, stmt.kind)
        index = self.index(stmt.index, binding.page)
        return model.Access(stmt.kind, stmt.mapping.text, index, stmt.span)

    def copy(self, stmt: st.CopyStmt, flow: _Flow) -> model.Statement:
        dst = self.mapping(stmt.dst, flow, "copy")
        src = self.mapping(stmt.src, flow, "copy")
        sizes = (self.words_of(dst.page), self.words_of(src.page))
        if None not in sizes and sizes[0] != sizes[1]:
            raise FlowError(stmt.span, copy_mismatch(dst.page, sizes[0], src.page, sizes[1]))
        return model.Copy(stmt.dst.text, stmt.src.text, stmt.span)

    def sync(self, stmt: st.SyncStmt, flow: _Flow) -> model.Statement:
        name, span = stmt.name.text, stmt.span
        if stmt.kind == "signal":
            return model.Signal(name, span)
        if stmt.kind == "wait":
            return model.Wait(name, span)
        if stmt.kind == "lock":
            return model.Lock(name, span)
        return model.Unlock(name, span)

    def dma(self, stmt: st.DmaStmt, flow: _Flow) -> model.Statement:
        page = self.page(stmt.page, flow, f"dma_{stmt.kind}")
        index = self.index(stmt.index, page)
        return model.DmaAccess(stmt.kind, page, index, stmt.span)

    # -- arch-only statements ---------------------------------------------------------------

    def maintenance(self, stmt: st.MaintenanceStmt, flow: _Flow) -> model.Statement:
        target = stmt.target
        of_mapping = False
        if target.kind == "every":
            pass  # `all()`: every cached line of every page (flush_cache_all)
        elif target.kind == "mapping":
            self.mapping(target.name, flow, stmt.op)
        elif target.name.text not in self.body.pages and (
            self.binding(target.name.text, flow) is not None or target.name.text in flow.maybe
        ):
            # `kernel(m)`, `user(m)`, `all(m)`: the alias set of the page behind mapping m
            self.mapping(target.name, flow, f"{target.kind}()")
            of_mapping = True
        else:
            self.page(target.name, flow, f"{target.kind}()")
        cost = stmt.cost.value if stmt.cost else None
        alias = model.AliasSet(target.kind, target.name.text, of_mapping)
        return model.Maintenance(stmt.op, alias, cost, stmt.span)

    def map_statement(self, stmt: st.MapStmt, flow: _Flow) -> model.Statement:
        if stmt.result is None:
            raise FlowError(
                stmt.span, "keep the mapping 'map' makes: write 'x = map ...' or 'return map ...'"
            )
        op = self.map_op(stmt, stmt.result.text, flow)
        self.bind(stmt.result, Binding("map", op.page), flow)
        return op

    def map_op(self, stmt: st.MapStmt, result: str | None, flow: _Flow) -> model.MapOp:
        page = self.page(stmt.page, flow, "map")
        colour: model.ColourSpec = stmt.colour.value if stmt.colour else "any"
        user_of = None
        if stmt.colour is not None and stmt.colour.of is not None:
            # `colour user(q)`: the colour of a live user mapping of page q
            user_of = self.page(stmt.colour.of, flow, "colour user(...)")
        return model.MapOp(page, colour, result, stmt.span, user_of)

    def unmap(self, stmt: st.UnmapStmt, flow: _Flow) -> model.Statement:
        self.mapping(stmt.mapping, flow, "unmap")
        return model.Unmap(stmt.mapping.text, stmt.span)

    def flag(self, stmt: st.FlagStmt, flow: _Flow) -> model.Statement:
        page, of_mapping = self.page_or_mapping(stmt.page, flow, stmt.kind)
        if stmt.kind == "set":
            return model.SetFlag(page, stmt.flag.text, stmt.span, of_mapping)
        return model.ClearFlag(page, stmt.flag.text, stmt.span, of_mapping)

    def condition(self, cond: st.Cond, flow: _Flow) -> model.Condition:
        if isinstance(cond, st.PredicateCond):
            page, of_mapping = self.page_or_mapping(cond.page, flow, f"{cond.kind}()")
            return model.PagePredicate(cond.kind, page, of_mapping)
        if isinstance(cond, st.FlagCond):
            page, of_mapping = self.page_or_mapping(cond.page, flow, "a flag test")
            return model.FlagTest(page, cond.flag.text, of_mapping)
        if isinstance(cond, st.NotCond):
            return model.Not(self.condition(cond.operand, flow))
        left, right = self.condition(cond.left, flow), self.condition(cond.right, flow)
        if isinstance(cond, st.AndCond):
            return model.And(left, right)
        return model.Or(left, right)

    # -- names ------------------------------------------------------------------------------

    def binding(self, name: str, flow: _Flow) -> Binding | None:
        return flow.bound.get(name) or self.body.mappings.get(name)

    def mapping(self, name: st.Name, flow: _Flow, user: str) -> Binding:
        """The binding of a name used where a mapping is needed (`user` needs it)."""
        binding = self.binding(name.text, flow)
        if binding is not None:
            return binding
        if name.text in self.body.pages:
            raise FlowError(name.span, f"'{name.text}' is a page, but {user} needs a mapping")
        self.not_bound(name, flow)
        known = set(self.body.mappings) | set(flow.bound)
        raise FlowError(name.span, f"unknown mapping '{name.text}'{suggest(name.text, known)}")

    def not_bound(self, name: st.Name, flow: _Flow) -> None:
        if name.text in flow.maybe:
            raise FlowError(name.span, f"mapping '{name.text}' is not bound on every path to here")

    def page_or_mapping(self, name: st.Name, flow: _Flow, user: str) -> tuple[str, bool]:
        """A name where a page is meant but a mapping may stand for the page behind it
        (`highmem(m)`, `m.FLAG`, `set m.FLAG`): the name, and whether it is a mapping."""
        if name.text not in self.body.pages and (
            self.binding(name.text, flow) is not None or name.text in flow.maybe
        ):
            self.mapping(name, flow, user)
            return name.text, True
        return self.page(name, flow, user), False

    def page(self, name: st.Name, flow: _Flow, user: str) -> str:
        """A name used where a page is needed (`user` needs it)."""
        if name.text in self.body.pages:
            return name.text
        if self.binding(name.text, flow) is not None or name.text in flow.maybe:
            raise FlowError(name.span, f"'{name.text}' is a mapping, but {user} needs a page")
        what = "page parameter" if self.body.in_arch else "page"
        raise FlowError(
            name.span, f"unknown {what} '{name.text}'{suggest(name.text, set(self.body.pages))}"
        )

    def bind(self, target: st.Name, binding: Binding, flow: _Flow) -> None:
        name = target.text
        if name in self.body.pages:
            raise FlowError(target.span, f"'{name}' is a page; it cannot hold a mapping")
        fixed = self.body.mappings.get(name)
        if fixed is not None and fixed.origin == "param":
            raise FlowError(target.span, f"cannot assign to parameter '{name}'")
        if fixed is not None:
            raise FlowError(target.span, f"'{name}' is a declared mapping; it cannot be reassigned")
        flow.bound[name] = binding
        flow.maybe.discard(name)

    def words_of(self, page: str | None) -> int | None:
        return self.body.pages.get(page) if page is not None else None

    def index(self, number: st.Number | None, page: str | None) -> int:
        if number is None:
            return 0
        size = self.words_of(page)
        if size is not None and number.value >= size:
            raise FlowError(number.span, index_error(number.value, page or "", size))
        return number.value


def index_error(index: int, page: str, size: int) -> str:
    return f"word index {index} is outside page '{page}' ({words(size)})"


def copy_mismatch(dst: str | None, dst_words: int, src: str | None, src_words: int) -> str:
    return (
        f"copy needs pages of the same size, but '{dst}' has {words(dst_words)} "
        f"and '{src}' has {words(src_words)}"
    )


def _merge(flow: _Flow, branches: list[_Flow]) -> None:
    """After alternatives: bound if bound on every branch that goes on, else maybe bound."""
    live = [b for b in branches if not b.ended]
    if not live:
        flow.ended = True
        return
    names = set().union(*(b.bound for b in live))
    flow.bound = {}
    flow.maybe = set().union(*(b.maybe for b in live))
    for name in names:
        found = {b.bound.get(name) for b in live}
        if None in found:
            flow.maybe.add(name)
        elif len(found) == 1:
            flow.bound[name] = found.pop()
        else:
            pages = {binding.page for binding in found}
            origins = {binding.origin for binding in found}
            origin = origins.pop() if len(origins) == 1 else "mixed"
            flow.bound[name] = Binding(origin, pages.pop() if len(pages) == 1 else None)
    flow.maybe -= set(flow.bound)


def statement_word(stmt: st.Stmt) -> str:
    """The word a statement is known by in messages: 'flush', 'read', 'a call of f', ..."""
    if isinstance(stmt, st.CallStmt):
        name = stmt.function.text
        return name if name in ("mmap", "munmap") else f"{name}(...)"
    if isinstance(stmt, st.AccessStmt | st.SyncStmt | st.FlagStmt):
        return stmt.kind
    if isinstance(stmt, st.DmaStmt):
        return f"dma_{stmt.kind}"
    if isinstance(stmt, st.MaintenanceStmt):
        return stmt.op
    words_by_type = {
        st.CopyStmt: "copy",
        st.EitherStmt: "either",
        st.RepeatStmt: "repeat",
        st.MapStmt: "map",
        st.UnmapStmt: "unmap",
        st.IfStmt: "if",
        st.ReturnStmt: "return",
    }
    return words_by_type[type(stmt)]


class _Scope:
    """The names at one point of a body, as spellings.respell sees them."""

    def __init__(self, resolver: _Resolver, flow: _Flow) -> None:
        self.resolver = resolver
        self.flow = flow

    def is_page(self, name: str) -> bool:
        return name in self.resolver.body.pages

    def is_mapping(self, name: str) -> bool:
        return self.resolver.binding(name, self.flow) is not None

    def is_user_mapping(self, name: str) -> bool | None:
        binding = self.resolver.binding(name, self.flow)
        if binding is None or binding.origin in ("param", "mixed"):
            return None  # unknown here: an error of its own, or known only per call
        return binding.origin in ("declared", "mmap")

    def kmap_handles(self, page: str) -> list[str]:
        return [name for name, b in self.flow.bound.items() if b.kmap == page]
