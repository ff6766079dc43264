"""Lower one protocol on one arch into a Program: inline every call, unroll every repeat.

Calls are dispatched late, on the arch being checked (the kernel's generic helpers call the
arch's own flush_dcache_page). Lowering is written in continuation style: a block is lowered
back to front, so each node knows its successor when it is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from checker.errors import FlowError
from checker.front import model
from checker.front.source import Span
from checker.machine.program import (
    END,
    AliasInfo,
    HandleInfo,
    LCond,
    Level,
    Node,
    PageInfo,
    Program,
    ThreadCode,
    used_flags,
)
from checker.machine.start_flags import hook_flag_outcomes

# Calls nest at most this deep (calls inside calls, hooks included): far above the kernel's
# few levels. Recursion is refused whatever the depth; docs/language.md, section 6.
MAX_INLINE_DEPTH = 32


@dataclass
class _Frame:
    """Names visible while lowering one block: pages and mapping registers."""

    pages: dict[str, int]
    maps: dict[str, int]
    exit: int = END  # where `return` goes
    result: int = -1  # register receiving a returned mapping
    origin: Span | None = None  # the protocol statement being lowered
    depth: int = 0
    call_path: tuple[str, ...] = ()
    prefix: str = ""  # how register names of this frame are shown ("kmap." for fn locals)
    builder: _Builder | None = None
    user_pages: dict[str, int] = field(default_factory=dict)  # mmap'd/declared name -> page
    sites: tuple[Span, ...] = ()  # call statements and hooks inside arch code leading here

    def reg(self, name: str) -> int:
        """The register of a mapping name, made on first mention (blocks lower back to front,
        so a use is met before its binding; a variable is one register per frame)."""
        if name not in self.maps:
            assert self.builder is not None
            self.maps[name] = self.builder.new_register(self.prefix + name)
        return self.maps[name]


@dataclass
class _Builder:
    protocol: model.Protocol
    arch: model.Arch
    # Units (Node.unit prefixes) whose maintenance is left out: the redundancy analysis.
    drop: frozenset[tuple[Span, ...]]
    pages: list[PageInfo] = field(default_factory=list)
    page_index: dict[str, int] = field(default_factory=dict)
    handles: list[HandleInfo] = field(default_factory=list)
    aliases: list[AliasInfo] = field(default_factory=list)
    registers: list[str] = field(default_factory=list)
    initial: list[int] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    locks: list[str] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    # The register of each mapping declared `start M unfaulted`, with its handle: an access
    # through it is preceded by a fault node (fault()).
    unfaulted: dict[int, int] = field(default_factory=dict)

    # -- numbering ------------------------------------------------------------------------

    def new_register(self, name: str) -> int:
        self.registers.append(name)
        self.initial.append(-1)
        return len(self.registers) - 1

    def new_handle(self, name: str, page: int, user: bool, colour, declared: bool) -> int:
        if colour == "linear":
            alias = page
        else:
            alias = len(self.aliases)
            self.aliases.append(AliasInfo(page, len(self.handles), name))
        self.handles.append(HandleInfo(name, page, user, colour, declared, alias))
        return len(self.handles) - 1

    def event(self, name: str) -> int:
        if name not in self.events:
            self.events.append(name)
        return self.events.index(name)

    def lock(self, name: str) -> int:
        if name not in self.locks:
            self.locks.append(name)
        return self.locks.index(name)

    def add(self, node: Node) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1

    # -- blocks ---------------------------------------------------------------------------

    def block(self, stmts: tuple[model.Statement, ...], frame: _Frame, cont: int) -> int:
        entry = cont
        for stmt in reversed(stmts):
            entry = self.statement(stmt, frame, entry)
        return entry

    def statement(self, s: model.Statement, f: _Frame, cont: int) -> int:  # noqa: C901
        origin = f.origin or s.span

        def node(kind: str, text: str, **kw) -> int:
            return self.add(Node(kind, s.span, origin, (cont,), text=text, via=f.call_path, **kw))

        if isinstance(s, model.Call):
            return self.call(s, f, cont)
        if isinstance(s, model.Access):
            reg = f.reg(s.mapping)
            access = node(s.kind, f"{s.kind} {s.mapping}[{s.index}]", reg=reg, index=s.index)
            return self.fault(reg, s, f, origin, access)
        if isinstance(s, model.Copy):
            dst, src = f.reg(s.dst), f.reg(s.src)
            access = node("copy", f"copy {s.dst} <- {s.src}", reg=dst, reg2=src)
            # memcpy reads the source first: a fault on it comes first. One fault when both
            # are the same mapping (a second would run the hook again: the entry is made
            # only by the access).
            if dst != src:
                access = self.fault(dst, s, f, origin, access)
            return self.fault(src, s, f, origin, access)
        if isinstance(s, model.DmaAccess):
            kind = "dma_" + s.kind
            return node(kind, f"{kind} {s.page}[{s.index}]", page=f.pages[s.page], index=s.index)
        if isinstance(s, model.Signal | model.Wait):
            kind = "signal" if isinstance(s, model.Signal) else "wait"
            return node(kind, f"{kind} {s.event}", event=self.event(s.event))
        if isinstance(s, model.Lock | model.Unlock):
            kind = "lock" if isinstance(s, model.Lock) else "unlock"
            return node(kind, f"{kind} {s.name}", lock=self.lock(s.name))
        if isinstance(s, model.Either):
            branches = tuple(self.block(b, f, cont) for b in s.branches)
            return self.add(Node("choice", s.span, origin, branches, text="either",
                                 via=f.call_path))
        if isinstance(s, model.Repeat):
            entry = cont
            for _ in range(s.count):
                entry = self.block(s.body, f, entry)
            return entry
        if isinstance(s, model.Mmap):
            return self.mmap(s, f, cont)
        if isinstance(s, model.Munmap):
            return self.munmap(s, f, cont)
        if isinstance(s, model.Maintenance):
            unit = (origin, *f.sites, s.span)
            if any(unit[:i] in self.drop for i in range(1, len(unit) + 1)):
                return cont
            return self.maintenance(s, f, cont, origin)
        if isinstance(s, model.MapOp):
            reg = f.reg(s.result) if s.result else f.result
            return self.map(s, f, reg, cont, origin)
        if isinstance(s, model.Unmap):
            return node("unmap", f"unmap {s.mapping}", reg=f.reg(s.mapping))
        if isinstance(s, model.SetFlag | model.ClearFlag):
            kind = "set" if isinstance(s, model.SetFlag) else "clear"
            if s.of_mapping:
                reg = f.reg(s.page)
                text = f"{kind} {self.registers[reg]}.{s.flag}"
                return node(kind, text, page=-1, reg=reg, flag=s.flag)
            text = f"{kind} {self._page_name(f, s.page)}.{s.flag}"
            return node(kind, text, page=f.pages[s.page], flag=s.flag)
        if isinstance(s, model.If):
            then = self.block(s.then, f, cont)
            orelse = self.block(s.orelse, f, cont)
            cond = self.condition(s.condition, f)
            text = "if " + self.cond_text(s.condition, f)
            return self.add(Node("test", s.span, origin, (then, orelse), cond=cond, text=text,
                                 via=f.call_path))
        if isinstance(s, model.Return):
            return self.ret(s, f, origin)
        raise AssertionError(f"unknown statement {s!r}")

    # -- calls ----------------------------------------------------------------------------

    def call(self, s: model.Call, f: _Frame, cont: int, result: int = -1) -> int:
        function = self.arch.functions.get(s.function)
        if function is None:
            raise FlowError(s.span, f"unknown function '{s.function}' on arch '{self.arch.name}'")
        if s.function in f.call_path or f.depth >= MAX_INLINE_DEPTH:
            path = " -> ".join((*f.call_path, s.function))
            if s.function in f.call_path:
                raise FlowError(s.span, f"recursive call: {path}")
            raise FlowError(s.span, f"calls nested too deeply: {path} passes the limit of "
                                    f"{MAX_INLINE_DEPTH} nested calls")
        if s.result is not None:
            result = f.reg(s.result)
        elif result < 0 and function.returns_mapping:
            result = self.new_register(f"{s.function}()")
        inner = _Frame(
            pages={},
            maps={},
            exit=cont,
            result=result,
            origin=f.origin or s.span,
            depth=f.depth + 1,
            call_path=(*f.call_path, s.function),
            prefix=f"{s.function}.",
            builder=self,
            sites=(*f.sites, s.span) if f.depth > 0 else (),
        )
        for param, arg in zip(function.params, s.args, strict=True):
            if param.kind == "page":
                inner.pages[param.name] = f.pages[arg.name]
            else:
                inner.maps[param.name] = f.reg(arg.name)
        _scan_mmaps(function.body, inner)
        entry = self.block(function.body, inner, cont)
        if f.depth == 0 and entry == cont:
            # A call that does nothing on this arch still shows in a trace.
            entry = self.add(Node("nop", s.span, s.span, (cont,), text=f"{s.function}()",
                                  via=f.call_path))
        return entry

    def ret(self, s: model.Return, f: _Frame, origin: Span) -> int:
        value = s.value
        if value is None:
            return f.exit
        if isinstance(value, model.MapOp):
            return self.map(value, f, f.result, f.exit, origin)
        if isinstance(value, model.MappingArg):
            if f.result < 0:
                return f.exit
            node = Node("move", s.span, origin, (f.exit,), reg=f.result, reg2=f.reg(value.name),
                        text="return", via=f.call_path)
            return self.add(node)
        return self.call(value, f, f.exit, result=f.result)

    def map(self, s: model.MapOp, f: _Frame, reg: int, cont: int, origin: Span) -> int:
        page = f.pages[s.page]
        name = self.registers[reg] if reg >= 0 else f"map {self.pages[page].name}"
        handle = self.new_handle(name, page, user=False, colour=s.colour, declared=False)
        if s.user_of is not None:
            self.handles[handle] = replace(self.handles[handle], user_of=f.pages[s.user_of])
        if reg < 0:
            reg = self.new_register(name)
        colour = f"user({self.pages[f.pages[s.user_of]].name})" if s.user_of else s.colour
        text = f"map {self.pages[page].name} colour {colour}"
        node = Node("map", s.span, origin, (cont,), reg=reg, handle=handle, text=text,
                    via=f.call_path)
        return self.add(node)

    def mmap(self, s: model.Mmap, f: _Frame, cont: int) -> int:
        page = f.pages[s.page]
        reg = f.reg(s.result)
        colour = "same" if s.at is not None else "any"
        handle = self.new_handle(s.result, page, user=True, colour=colour, declared=False)
        if s.at is not None:
            self.handles[handle] = replace(self.handles[handle], same_as=f.reg(s.at))
        origin = f.origin or s.span
        hook = self.hook("user_map", page, f, origin, cont)
        text = f"{s.result} = mmap({s.page})" + (f" at {s.at}" if s.at else "")
        return self.add(Node("mmap", s.span, origin, (hook,), reg=reg, handle=handle, text=text,
                             via=f.call_path))

    def munmap(self, s: model.Munmap, f: _Frame, cont: int) -> int:
        reg = f.reg(s.mapping)
        page = f.user_pages.get(s.mapping, -1)
        if page < 0:
            raise FlowError(s.span, f"munmap needs a mapping made by mmap or declared: "
                            f"'{s.mapping}' is neither")
        origin = f.origin or s.span
        remove = self.add(Node("munmap", s.span, origin, (cont,), reg=reg, text="munmap",
                               via=f.call_path))
        return self.hook("user_unmap", page, f, origin, remove)

    def fault(self, reg: int, s: model.Statement, f: _Frame, origin: Span, cont: int) -> int:
        """Before an access through `reg`, the page fault of an unfaulted mapping: a fault
        node (is it still unfaulted?), then the arch's `on user_map` (the cache work of
        set_pte_at / update_mmu_cache); the access (`cont`) then makes the mapping LIVE.
        `cont` alone when `reg` is no unfaulted mapping's register, or when the hook does
        nothing (the access alone is the fault then: one step, not three, which matters to
        the Z3 engine's unrolling). Every access through it gets one, as any of them may be
        the first to run; _without_settled_faults then removes those that cannot be.

        The mapping becomes LIVE when the access runs, after the hook: another thread that
        accesses it meanwhile faults too and runs the hook again (in the kernel it would
        wait on the page-table lock and find the entry made). The extra run only adds
        flushes (no more than evictions the environment may make anyway) and flag updates
        the first run makes as well; the other order would let that thread read through an
        entry whose flush has not run, a window ARMv6+ and nios2 do not have (their fault
        flush runs in set_pte_at, before the entry is written)."""
        handle = self.unfaulted.get(reg, -1)
        function = self.arch.hooks.get("user_map")
        if handle < 0 or function is None or not function.body:
            return cont
        info = self.handles[handle]
        first = len(self.nodes)
        # The fault's maintenance is the arch's: dropping the statement's own (the
        # redundancy analysis) leaves it in.
        drop, self.drop = self.drop, frozenset()
        hook = self.hook("user_map", info.page, f, origin, cont, path="page fault")
        self.drop = drop
        for i in range(first, len(self.nodes)):
            self.nodes[i] = replace(self.nodes[i], fault_of=handle)
        text = f"page fault on {info.name}?"
        return self.add(Node("fault", s.span, origin, (hook, cont), reg=reg, handle=handle,
                             text=text, via=f.call_path))

    def hook(self, name: str, page: int, f: _Frame, origin: Span, cont: int,
             path: str = "") -> int:
        function = self.arch.hooks.get(name)
        if function is None or not function.body:
            return cont
        inner = _Frame(
            pages={function.params[0].name: page},
            maps={},
            exit=cont,
            origin=origin,
            depth=f.depth + 1,
            call_path=(*f.call_path, *((path,) if path else ()), f"on {name}"),
            prefix=f"{name}.",
            builder=self,
            sites=(*f.sites, function.span),
        )
        _scan_mmaps(function.body, inner)
        return self.block(function.body, inner, cont)

    def maintenance(self, s: model.Maintenance, f: _Frame, cont: int, origin: Span) -> int:
        target = s.target
        if target.kind == "every":
            # `all()` (flush_cache_all): `all(p)` for every page, one step per page, as the
            # kernel walks the cache and other CPUs go on meanwhile; the cost counts once.
            for page in reversed(range(len(self.pages))):
                text = f"{s.op} all() [{self.pages[page].name}]"
                cont = self.add(
                    Node("maint", s.span, origin, (cont,), op=s.op, target="all", page=page,
                         cost=s.cost if page == 0 else 0, text=text, via=f.call_path, sites=f.sites)
                )
            return cont
        if target.kind == "mapping":
            reg = f.reg(target.name)
            text = f"{s.op} {self.registers[reg]}"
            return self.add(
                Node("maint", s.span, origin, (cont,), op=s.op, target="mapping", reg=reg,
                     cost=s.cost, text=text, via=f.call_path, sites=f.sites)
            )
        if target.of_mapping:
            reg = f.reg(target.name)
            text = f"{s.op} {target.kind}({self.registers[reg]})"
            return self.add(
                Node("maint", s.span, origin, (cont,), op=s.op, target=target.kind, reg=reg,
                     page=-1, cost=s.cost, text=text, via=f.call_path, sites=f.sites)
            )
        page = f.pages[target.name]
        text = f"{s.op} {target.kind}({self.pages[page].name})"
        return self.add(
            Node("maint", s.span, origin, (cont,), op=s.op, target=target.kind, page=page,
                 cost=s.cost, text=text, via=f.call_path, sites=f.sites)
        )

    # -- conditions -----------------------------------------------------------------------

    def condition(self, c: model.Condition, f: _Frame) -> LCond:
        # A condition on a mapping's page keeps the register until _pages_behind_mappings()
        # knows which page the register holds (blocks lower back to front: not yet here).
        if isinstance(c, model.PagePredicate | model.FlagTest):
            op, pred = ("pred", c.kind) if isinstance(c, model.PagePredicate) else ("flag", "")
            flag = c.flag if isinstance(c, model.FlagTest) else ""
            if c.of_mapping:
                return LCond(op, pred=pred, reg=f.reg(c.page), flag=flag)
            return LCond(op, pred=pred, page=f.pages[c.page], flag=flag)
        if isinstance(c, model.Not):
            return LCond("not", left=self.condition(c.operand, f))
        op = "and" if isinstance(c, model.And) else "or"
        return LCond(op, left=self.condition(c.left, f), right=self.condition(c.right, f))

    def cond_text(self, c: model.Condition, f: _Frame) -> str:
        if isinstance(c, model.PagePredicate | model.FlagTest):
            name = self.registers[f.reg(c.page)] if c.of_mapping else self._page_name(f, c.page)
            if isinstance(c, model.FlagTest):
                return f"{name}.{c.flag}"
            return f"{c.kind}({name})"
        if isinstance(c, model.Not):
            return f"not {self.cond_text(c.operand, f)}"
        op = "and" if isinstance(c, model.And) else "or"
        return f"({self.cond_text(c.left, f)} {op} {self.cond_text(c.right, f)})"

    def _page_name(self, f: _Frame, name: str) -> str:
        return self.pages[f.pages[name]].name


def _scan_mmaps(stmts: tuple[model.Statement, ...], f: _Frame) -> None:
    """Record the page of every `u = mmap(P)` in a block, so that `munmap(u)` knows which
    page's hook to run (blocks lower back to front, so the mmap is met after the munmap)."""
    for s in stmts:
        if isinstance(s, model.Mmap):
            page = f.pages[s.page]
            if f.user_pages.get(s.result, page) != page:
                raise FlowError(s.span, f"'{s.result}' is mmap'd from two different pages")
            f.user_pages[s.result] = page
        elif isinstance(s, model.Either):
            for branch in s.branches:
                _scan_mmaps(branch, f)
        elif isinstance(s, model.Repeat):
            _scan_mmaps(s.body, f)
        elif isinstance(s, model.If):
            _scan_mmaps(s.then, f)
            _scan_mmaps(s.orelse, f)


def _pages_behind_mappings(b: _Builder) -> None:
    """Give every condition and flag operation on a mapping's page (`highmem(m)`, `m.FLAG`,
    `set m.FLAG`) the page m holds. A register gets its page where it is bound (a declared
    mapping, `map`, `mmap`, a returned mapping), and a parameter is the caller's register, so
    this is known once the whole body is lowered; a name that may hold mappings of two pages
    there is an input error."""
    pages: dict[int, set[int]] = {}
    for reg, handle in enumerate(b.initial):
        if handle >= 0:
            pages.setdefault(reg, set()).add(b.handles[handle].page)
    moves = []
    for n in b.nodes:
        if n.kind in ("map", "mmap"):
            pages.setdefault(n.reg, set()).add(b.handles[n.handle].page)
        elif n.kind == "move":
            moves.append((n.reg, n.reg2))
    changed = True
    while changed:
        changed = False
        for dst, src in moves:
            new = pages.get(src, set()) - pages.get(dst, set())
            if new:
                pages.setdefault(dst, set()).update(new)
                changed = True

    def page_of(reg: int, span: Span) -> int:
        found = sorted(pages.get(reg, ()))
        if len(found) != 1:
            names = " or ".join(b.pages[p].name for p in found) or "no page"
            raise FlowError(span, f"the page behind '{b.registers[reg]}' is not known here "
                                  f"(it may be {names}); a test or flag of it needs one page")
        return found[0]

    def resolved(c: LCond | None, span: Span) -> LCond | None:
        if c is None:
            return None
        if c.reg >= 0:
            return replace(c, page=page_of(c.reg, span), reg=-1)
        left, right = resolved(c.left, span), resolved(c.right, span)
        if left is c.left and right is c.right:
            return c
        return replace(c, left=left, right=right)

    for i, n in enumerate(b.nodes):
        if n.kind == "test":
            cond = resolved(n.cond, n.span)
            if cond is not n.cond:
                b.nodes[i] = replace(n, cond=cond)
        elif n.kind in ("set", "clear") and n.page < 0:
            b.nodes[i] = replace(n, page=page_of(n.reg, n.span), reg=-1)


def _builder(protocol: model.Protocol, arch: model.Arch,
             drop: frozenset[tuple[Span, ...]]) -> _Builder:
    """A builder holding the protocol's pages and declared mappings."""
    b = _Builder(protocol, arch, drop)
    for page in protocol.pages:
        b.page_index[page.name] = len(b.pages)
        b.pages.append(PageInfo(page.name, page.kind, page.highmem, page.words,
                                page.kernel_start))
        b.aliases.append(AliasInfo(len(b.pages) - 1, -1, f"kernel({page.name})"))
    for mapping in protocol.mappings:
        page = b.page_index[mapping.page]
        reg = b.new_register(mapping.name)
        handle = b.new_handle(mapping.name, page, user=True, colour=mapping.colour, declared=True)
        b.handles[handle] = replace(b.handles[handle], start=mapping.start)
        b.initial[reg] = handle
        if mapping.start == "unfaulted":
            b.unfaulted[reg] = handle
    return b


def _start_flags(protocol: model.Protocol, arch: model.Arch, used: set[tuple[int, str]]):
    """The flag sets the start may have (checker/machine/start_flags.py): the `on user_map`
    hook's flag operations, once per page with a declared mapping that is not `unfaulted`
    (that one's fault is still to come), on a scratch lowering so
    that the hook's handles add no aliases to the program. Only flags the program sets,
    clears or tests are kept: the others cannot matter."""
    def pages_with(mappings) -> list[int]:
        return sorted({protocol.pages.index(p) for p in protocol.pages
                       if any(m.page == p.name for m in mappings)})

    mapped = pages_with(protocol.mappings)
    faulted_in = [m for m in protocol.mappings if m.start != "unfaulted"]
    faulted = pages_with(faulted_in)
    outcomes: set[frozenset[tuple[int, str]]] = {frozenset()}
    for page in faulted:
        b = _builder(protocol, arch, frozenset())
        span = next(m.span for m in faulted_in if m.page == protocol.pages[page].name)
        frame = _Frame(pages=dict(b.page_index), maps={}, builder=b)
        entry = b.hook("user_map", page, frame, span, END)
        _pages_behind_mappings(b)
        outcomes = {
            after
            for flags in outcomes
            for after in hook_flag_outcomes(b.nodes, entry, flags, b.pages, frozenset(mapped),
                                            frozenset(faulted))
        }
    kept = {frozenset(f for f in flags if f in used) for flags in outcomes}
    return tuple(sorted(kept, key=sorted))


def _without_settled_faults(b: _Builder, entries: list[int]) -> list[int]:
    """Leave out the fault nodes whose mapping is faulted in (or ended) already whenever
    they run: those after an access through the same register on every path from their
    thread's start. The access before made the mapping LIVE (or found it DEAD), and nothing
    makes a mapping UNFAULTED again, so such a node always takes its no-fault branch: it is
    a step that changes nothing, and a line "(no page fault ...)" in every trace. The
    registers of declared mappings are never assigned; one that some node assigns all the
    same (a map, mmap or move into it) keeps its fault nodes. Returns the threads' entries
    in the new numbering; b.nodes is renumbered, keeping only what the entries reach."""
    assigned = {n.reg for n in b.nodes if n.kind in ("map", "mmap", "move")}
    regs = frozenset(r for r in b.unfaulted if r not in assigned)
    if not regs or not any(n.kind == "fault" for n in b.nodes):
        return entries
    # accessed[n]: the registers of `regs` accessed on every path from n's thread's entry
    # to n (n excluded); a node not yet reached has none recorded (the top of the lattice).
    accessed: dict[int, frozenset[int]] = {e: frozenset() for e in entries if e >= 0}
    work = list(accessed)
    while work:
        i = work.pop()
        n = b.nodes[i]
        through = {n.reg, n.reg2} if n.kind in ("read", "write", "copy") else set()
        after = accessed[i] | (regs & through)
        for j in n.next:
            if j < 0:
                continue
            now = after if j not in accessed else accessed[j] & after
            if now != accessed.get(j):
                accessed[j] = now
                work.append(j)
    settled = {i: b.nodes[i].next[1] for i in accessed
               if b.nodes[i].kind == "fault" and b.nodes[i].reg in accessed[i]}
    if not settled:
        return entries

    def target(i: int) -> int:
        while i in settled:  # a copy's two faults: the source's leads to the destination's
            i = settled[i]
        return i

    # Renumber what the entries still reach, in the old order (the numbering stays
    # deterministic, and a program without settled faults is unchanged).
    keep: set[int] = set()
    stack = [target(e) for e in entries if e >= 0]
    while stack:
        i = stack.pop()
        if i < 0 or i in keep:
            continue
        keep.add(i)
        stack.extend(target(j) for j in b.nodes[i].next if j >= 0)
    number = {old: new for new, old in enumerate(sorted(keep))}

    def renumbered(i: int) -> int:
        return i if i < 0 else number[target(i)]

    b.nodes = [replace(b.nodes[i], next=tuple(renumbered(j) for j in b.nodes[i].next))
               for i in sorted(keep)]
    return [renumbered(e) for e in entries]


def lower(
    protocol: model.Protocol, arch: model.Arch,
    drop: frozenset[tuple[Span, ...]] = frozenset(),
    keep_settled_faults: bool = False,
) -> Program:
    """Lower `protocol` on `arch`; the maintenance of the units in `drop` (a protocol
    statement `(span,)`, or a path into its calls: Node.unit prefixes) is left out.
    `keep_settled_faults` keeps the fault nodes _without_settled_faults leaves out (for the
    differential test of that step)."""
    b = _builder(protocol, arch, drop)
    declared = {m.name: reg for reg, m in enumerate(protocol.mappings)}
    threads = []
    for thread in protocol.threads:
        frame = _Frame(pages=dict(b.page_index), maps=dict(declared), builder=b)
        frame.user_pages = {m.name: b.page_index[m.page] for m in protocol.mappings}
        _scan_mmaps(thread.body, frame)
        entry = b.block(thread.body, frame, END)
        threads.append((thread, entry))
    _pages_behind_mappings(b)
    for n in b.nodes:
        if n.kind == "move" and n.reg2 in b.unfaulted:
            # Its accesses through the other name would not fault (fault() keys on the
            # declared register): refused rather than checked wrongly.
            name = b.handles[b.unfaulted[n.reg2]].name
            raise FlowError(n.span, f"'{name}' starts unfaulted, so it cannot be returned "
                                    "from a function: an access through the result would "
                                    "skip its page fault")
    entries = [entry for _, entry in threads]
    if not keep_settled_faults:
        entries = _without_settled_faults(b, entries)
    used = used_flags(b.nodes)
    codes = tuple(ThreadCode(t.name, t.is_device, entry)
                  for (t, _), entry in zip(threads, entries, strict=True))
    vipt = [level.colours for level in arch.levels if level.indexing == "vipt"]
    levels = tuple(
        Level(lv.name, lv.indexing, lv.colours, lv.write_back, lv.victim_fill) for lv in arch.levels
    )
    line_words = arch.levels[0].line_words if arch.levels else 1
    return Program(
        protocol=protocol,
        arch=arch,
        pages=tuple(b.pages),
        handles=tuple(b.handles),
        aliases=tuple(b.aliases),
        nodes=tuple(b.nodes),
        registers=tuple(b.registers),
        initial_registers=tuple(b.initial),
        threads=codes,
        events=tuple(b.events),
        locks=tuple(b.locks),
        levels=levels,
        line_words=line_words,
        colour_count=max(vipt) if vipt else 1,
        start_flags=_start_flags(protocol, arch, used) if used else (frozenset(),),
    )
