"""Text -> syntax tree. The only module that imports Lark.

Lark's errors become FlowErrors that say in plain words what was expected and what was found.
"""

from __future__ import annotations

import dataclasses
import io
import re
from functools import cache

import lark
from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from checker.errors import FlowError
from checker.front import cache as disk_cache
from checker.front import syntax as st
from checker.front import syntax_errors
from checker.front.nesting import MAX_NESTING, check_nesting, too_deep
from checker.front.resources import grammar_text
from checker.front.source import SourceText, Span


def parse(source: SourceText) -> st.File:
    """Parse one .flow file; any problem in the text is raised as a located FlowError."""
    try:
        tree = _lark().parse(source.text)
    except UnexpectedInput as error:
        raise _syntax_error(error, source) from None
    except RecursionError:
        raise _too_deep(source) from None
    try:
        # Non-recursive: the tree of a 1 MiB file may be 250,000 blocks deep; the depth is
        # judged on what this builds (check_nesting), where an error can say where.
        file = _Builder(source.path).transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, FlowError):
            raise error.orig_exc from None
        raise
    check_nesting(file)
    return file


@cache
def _lark() -> Lark:
    """Built on first use: building the LALR tables takes a moment, so they are kept in the
    cache on disk (cache.py) under the grammar's text and lark's version."""
    grammar = grammar_text()
    entry = disk_cache.entry("parser", [grammar, lark.__version__])
    stored = entry.load()
    if isinstance(stored, bytes):
        try:
            return Lark.load(io.BytesIO(stored))
        except Exception:  # written by us under this key, so only if lark itself changed
            pass
    parser = Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=True)
    if entry.enabled:
        tables = io.BytesIO()
        parser.save(tables)
        entry.store(tables.getvalue())
    return parser


def _too_deep(source: SourceText) -> FlowError:
    """The LALR parser and the tree builder are not recursive: this is a fallback only."""
    return FlowError(None, f"'{source.path}': input nested too deeply")


# ---------------------------------------------------------------------------------------------
# Tree -> syntax dataclasses


@dataclasses.dataclass(frozen=True)
class _ElseClause:
    """`else { }` that began its own line; attached to the `if` before it by _Builder.block."""

    body: tuple[st.Stmt, ...]
    span: Span


@dataclasses.dataclass(frozen=True)
class _OrClause:
    """`or { }` that began its own line; attached to the `either` before it."""

    body: tuple[st.Stmt, ...]
    span: Span


@dataclasses.dataclass(frozen=True)
class _Extends:
    parent: st.Name
    span: Span


_RETURNS_MAPPING = "-> mapping"
# Every number (counts, sizes, word indexes, colours, costs) has at most 18 digits: every
# count the language takes is far smaller, and int() of a longer one costs time quadratic in
# its length (Python refuses over 4,300 digits). docs/language.md, section 1.
MAX_DIGITS = 18


def _rule_names(names: str) -> frozenset[str]:
    return frozenset(names.split())


_OPTIONS = _rule_names(
    "colours write_back write_through line_words victim_fill anon file highmem words"
)
# Rules that only choose one keyword; their value is the keyword's token.
_KEYWORD_CHOICES = _rule_names(
    "choice param_kind access_kind sync_kind maintenance_op alias_kind flag_kind "
    "predicate_kind"
)


@v_args(meta=True)
class _Builder(Transformer_NonRecursive):
    """A method per grammar rule (the simplest ones share __default__), each returning the
    matching syntax node."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    # -- helpers ----------------------------------------------------------------------------

    def _span(self, meta) -> Span:
        return Span(self.path, meta.line, meta.column)

    def _at(self, token: Token) -> Span:
        return Span(self.path, token.line, token.column)

    def _name(self, token: Token) -> st.Name:
        return st.Name(str(token), self._at(token))

    def _number(self, token: Token) -> st.Number:
        return st.Number(self._int(token), self._at(token))

    def _int(self, token: Token) -> int:
        """The value of an INT token; the one place the parser converts digits."""
        if len(token) > MAX_DIGITS:
            raise FlowError(
                self._at(token),
                f"number too large: {token[:12]}... has {len(token):,} digits; "
                f"numbers have at most {MAX_DIGITS}",
            )
        return int(token)

    def _word(self, token: Token) -> st.Word:
        return st.Word(str(token), self._at(token))

    def __default__(self, data, children, meta):
        """Rules with no method of their own: the options of a cache or page declaration,
        and the rules that only choose a keyword (`!access_kind: "read" | "write"`)."""
        if data in _OPTIONS:
            value = self._number(children[0]) if children else None
            return st.Option(str(data), value, self._span(meta))
        if data in _KEYWORD_CHOICES:
            return children[0]  # the Token: a str that knows where it was
        return super().__default__(data, children, meta)

    # -- file and blocks --------------------------------------------------------------------

    def start(self, meta, children) -> st.File:
        return st.File(self.path, tuple(children))

    def arch(self, meta, children) -> st.ArchBlock:
        name, *rest = children
        extends = rest.pop(0) if rest and isinstance(rest[0], _Extends) else None
        return st.ArchBlock(
            name=self._name(name),
            parent=extends.parent if extends else None,
            extends_span=extends.span if extends else None,
            items=tuple(rest),
            span=self._span(meta),
        )

    def extends(self, meta, children) -> _Extends:
        return _Extends(self._name(children[0]), self._span(meta))

    def protocol(self, meta, children) -> st.ProtocolBlock:
        name, *items = children
        return st.ProtocolBlock(self._name(name), tuple(items), self._span(meta))

    def doc(self, meta, children) -> st.DocDecl:
        return st.DocDecl(_unquote(str(children[0])), self._span(meta))

    def kernel(self, meta, children) -> st.KernelDecl:
        return st.KernelDecl(_unquote(str(children[0])), self._span(meta))

    # -- arch items -------------------------------------------------------------------------

    def cache(self, meta, children) -> st.CacheDecl:
        name, indexing, *options = children
        span = self._span(meta)
        return st.CacheDecl(self._name(name), self._name(indexing), tuple(options), span)

    def speculative_fill(self, meta, children) -> st.SettingDecl:
        value = self._word(children[0]) if children else None
        return st.SettingDecl("speculative_fill", value, self._span(meta))

    def dma_coherent(self, meta, children) -> st.SettingDecl:
        return st.SettingDecl("dma_coherent", self._word(children[0]), self._span(meta))

    def fn(self, meta, children) -> st.FnDecl:
        return self._function(meta, children, is_hook=False)

    def hook(self, meta, children) -> st.FnDecl:
        return self._function(meta, children, is_hook=True)

    def _function(self, meta, children, is_hook: bool) -> st.FnDecl:
        name, *rest = children
        body = rest.pop()
        params = rest.pop(0) if rest and isinstance(rest[0], tuple) else ()
        return st.FnDecl(
            name=self._name(name),
            params=params,
            returns_mapping=_RETURNS_MAPPING in rest,
            body=body,
            is_hook=is_hook,
            span=self._span(meta),
        )

    def returns(self, meta, children) -> str:
        return _RETURNS_MAPPING

    def params(self, meta, children) -> tuple[st.ParamDecl, ...]:
        return tuple(children)

    def param(self, meta, children) -> st.ParamDecl:
        name, kind = children
        return st.ParamDecl(self._name(name), str(kind), self._span(meta))

    # -- protocol items ---------------------------------------------------------------------

    def page(self, meta, children) -> st.PageDecl:
        name, *options = children
        return st.PageDecl(self._name(name), tuple(options), self._span(meta))

    def mapping(self, meta, children) -> st.MappingDecl:
        name, page, *colour = children
        return st.MappingDecl(
            self._name(name), self._name(page), colour[0] if colour else None, self._span(meta)
        )

    def start_mapping(self, meta, children) -> st.StartDecl:
        name, state = children
        return st.StartDecl("mapping", self._name(name), self._name(state), self._span(meta))

    def start_kernel(self, meta, children) -> st.StartDecl:
        name, state = children
        return st.StartDecl("kernel", self._name(name), self._name(state), self._span(meta))

    def thread(self, meta, children) -> st.ThreadDecl:
        return st.ThreadDecl(self._name(children[0]), False, children[1], self._span(meta))

    def device(self, meta, children) -> st.ThreadDecl:
        return st.ThreadDecl(self._name(children[0]), True, children[1], self._span(meta))

    def expect(self, meta, children) -> st.ExpectDecl:
        verdicts, arches = children
        names = tuple(name for name, _ in verdicts)
        lines = tuple((name.text, at) for name, at in verdicts if at)
        return st.ExpectDecl(names, arches, self._span(meta), lines)

    def verdicts(self, meta, children) -> tuple:
        return tuple(children)

    def verdict(self, meta, children) -> tuple:
        name, *lines = children
        return self._name(name), tuple(self._number(token) for token in lines)

    def names(self, meta, children) -> tuple[st.Name, ...]:
        return tuple(self._name(token) for token in children)

    # -- statements -------------------------------------------------------------------------

    def block(self, meta, children) -> tuple[st.Stmt, ...]:
        stmts: list[st.Stmt] = []
        # The `or` lines after the either at each index, joined to it at the end: one at a
        # time, 100,000 `or { }` lines would copy the branches 100,000 times.
        or_lines: dict[int, list[tuple[st.Stmt, ...]]] = {}
        for item in children:
            if isinstance(item, _ElseClause):
                if not stmts:
                    raise FlowError(item.span, "'else' without an 'if' just before it")
                stmts[-1] = _attach_else(stmts[-1], item)
            elif isinstance(item, _OrClause):
                if not (stmts and isinstance(stmts[-1], st.EitherStmt)):
                    raise FlowError(item.span, "'or' without an 'either' just before it")
                or_lines.setdefault(len(stmts) - 1, []).append(item.body)
            else:
                stmts.append(item)
        for index, bodies in or_lines.items():
            either = stmts[index]
            assert isinstance(either, st.EitherStmt)
            stmts[index] = dataclasses.replace(either, branches=(*either.branches, *bodies))
        for stmt in stmts:
            if isinstance(stmt, st.EitherStmt) and len(stmt.branches) < 2:
                raise FlowError(stmt.span, "'either' needs at least two branches: add 'or { }'")
        return tuple(stmts)

    def call(self, meta, children) -> st.CallStmt:
        name, *args = (child for child in children if child is not None)
        return st.CallStmt(
            self._name(name), tuple(self._name(a) for a in args), None, self._span(meta)
        )

    def assign(self, meta, children) -> st.CallStmt | st.MapStmt:
        target, value, *at = children
        value = dataclasses.replace(value, result=self._name(target), span=self._span(meta))
        if at:
            value = dataclasses.replace(value, at=at[0])
        return value

    def at(self, meta, children) -> st.Name:
        return self._name(children[0])

    def access(self, meta, children) -> st.AccessStmt:
        kind, mapping, *index = children
        return st.AccessStmt(
            str(kind), self._name(mapping), index[0] if index else None, self._span(meta)
        )

    def index(self, meta, children) -> st.Number:
        return self._number(children[0])

    def copy(self, meta, children) -> st.CopyStmt:
        dst, src = children
        return st.CopyStmt(self._name(dst), self._name(src), self._span(meta))

    def sync(self, meta, children) -> st.SyncStmt:
        kind, name = children
        return st.SyncStmt(str(kind), self._name(name), self._span(meta))

    def dma(self, meta, children) -> st.DmaStmt:
        kind, page, *index = children
        return st.DmaStmt(kind, self._name(page), index[0] if index else None, self._span(meta))

    def dma_kind(self, meta, children) -> str:
        return str(children[0]).removeprefix("dma_")

    def either(self, meta, children) -> st.EitherStmt:
        return st.EitherStmt(tuple(children), self._span(meta))

    def or_clause(self, meta, children) -> _OrClause:
        return _OrClause(children[0], self._span(meta))

    def repeat(self, meta, children) -> st.RepeatStmt:
        count, body = children
        return st.RepeatStmt(self._number(count), body, self._span(meta))

    def maintenance(self, meta, children) -> st.MaintenanceStmt:
        op, target, *cost = children
        cost_value = cost[0] if cost else None
        return st.MaintenanceStmt(str(op), target, cost_value, self._span(meta))

    def alias_mapping(self, meta, children) -> st.AliasTarget:
        return st.AliasTarget("mapping", self._name(children[0]), self._span(meta))

    def alias_page(self, meta, children) -> st.AliasTarget:
        kind, *page = [c for c in children if c is not None]
        span = self._span(meta)
        if not page:
            if str(kind) != "all":
                raise FlowError(span, f"{kind}() needs a page or a mapping: {kind}(p)")
            return st.AliasTarget("every", st.Name("", span), span)
        return st.AliasTarget(str(kind), self._name(page[0]), span)

    def cost(self, meta, children) -> st.Number:
        return self._number(children[0])

    def map_op(self, meta, children) -> st.MapStmt:
        page, *colour = children
        return st.MapStmt(self._name(page), colour[0] if colour else None, None, self._span(meta))

    def colour(self, meta, children) -> st.Colour:
        return children[0]

    def colour_value(self, meta, children) -> st.Colour:
        # A `!` rule: `user ( NAME )` keeps its parentheses.
        token = children[0]
        value: int | str = self._int(token) if token.type == "INT" else str(token)
        of = self._name(children[2]) if len(children) > 2 else None
        return st.Colour(value, self._at(token), of)

    def unmap(self, meta, children) -> st.UnmapStmt:
        return st.UnmapStmt(self._name(children[0]), self._span(meta))

    def flag(self, meta, children) -> st.FlagStmt:
        kind, page, flag = children
        return st.FlagStmt(str(kind), self._name(page), self._name(flag), self._span(meta))

    def if_stmt(self, meta, children) -> st.IfStmt:
        condition, then, *orelse = children
        return st.IfStmt(
            condition, then, orelse[0] if orelse else (), bool(orelse), self._span(meta)
        )

    def else_part(self, meta, children) -> tuple[st.Stmt, ...]:
        body = children[0]
        return body if isinstance(body, tuple) else (body,)

    def else_clause(self, meta, children) -> _ElseClause:
        return _ElseClause(self.else_part(meta, children), self._span(meta))

    def return_stmt(self, meta, children) -> st.ReturnStmt:
        value = children[0] if children else None
        if isinstance(value, Token):
            value = self._name(value)
        return st.ReturnStmt(value, self._span(meta))

    # -- conditions -------------------------------------------------------------------------

    def or_condition(self, meta, children) -> st.OrCond:
        return st.OrCond(children[0], children[1], self._span(meta))

    def and_condition(self, meta, children) -> st.AndCond:
        return st.AndCond(children[0], children[1], self._span(meta))

    def not_condition(self, meta, children) -> st.NotCond:
        return st.NotCond(children[0], self._span(meta))

    def predicate(self, meta, children) -> st.PredicateCond:
        kind, page = children
        return st.PredicateCond(str(kind), self._name(page), self._span(meta))

    def flag_test(self, meta, children) -> st.FlagCond:
        page, flag = children
        return st.FlagCond(self._name(page), self._name(flag), self._span(meta))


def _attach_else(previous: st.Stmt, clause: _ElseClause) -> st.Stmt:
    """The `if` before an `else` line, with the else attached at the end of its else-if chain.
    A loop, not a recursion, that stops at the nesting limit: each `else if` nests one level
    deeper, and walking a chain of thousands of `else if` lines for each would be quadratic."""
    if not isinstance(previous, st.IfStmt):
        raise FlowError(clause.span, "'else' without an 'if' just before it")
    chain = [previous]  # the ifs of the chain, outermost first
    while chain[-1].has_else:
        chained = chain[-1].orelse
        if not (len(chained) == 1 and isinstance(chained[0], st.IfStmt)):
            raise FlowError(clause.span, "this 'if' already has an 'else'")
        if len(chain) > MAX_NESTING:
            raise too_deep(clause.span)
        chain.append(chained[0])
    attached: st.IfStmt = dataclasses.replace(chain.pop(), orelse=clause.body, has_else=True)
    while chain:
        attached = dataclasses.replace(chain.pop(), orelse=(attached,))
    return attached


_ESCAPE = re.compile(r"\\(.)")


def _unquote(text: str) -> str:
    """The contents of a "..." string: `\\"` and `\\\\` stand for `"` and `\\` (a backslash
    keeps the character after it). One regex pass: a string may be a MiB long."""
    return _ESCAPE.sub(r"\1", text[1:-1])


# ---------------------------------------------------------------------------------------------
# Lark errors -> FlowErrors (syntax_errors.py words them)


def _syntax_error(error: UnexpectedInput, source: SourceText) -> FlowError:
    if isinstance(error, UnexpectedCharacters):
        span = Span(source.path, error.line, error.column)
        at = error.pos_in_stream
        return syntax_errors.bad_character(span, source.text[at : at + 2])
    assert isinstance(error, UnexpectedToken)
    expected = _expected_terminals(error)
    literals = _literals()
    token = error.token
    if token.type == "$END":
        return syntax_errors.unexpected_end(_end_of(source), expected, literals)
    span = Span(source.path, token.line, token.column)
    return syntax_errors.unexpected_token(span, token.type, str(token), expected, literals)


def _expected_terminals(error: UnexpectedToken) -> set[str]:
    """What the parser could take next. Asked of the parser itself: the error's own list is
    too wide (LALR merges the states after a newline) or too narrow (when the contextual lexer
    fails first, its list has the keywords folded into NAME)."""
    if error.interactive_parser is not None:
        names = set(error.interactive_parser.accepts())
    else:
        names = set(error.expected)
    return names & {terminal.name for terminal in _lark().terminals}


@cache
def _literals() -> dict[str, str]:
    """The text of every terminal that is a fixed string (keywords and punctuation)."""
    return {
        terminal.name: terminal.pattern.value
        for terminal in _lark().terminals
        if terminal.pattern.type == "str"
    }


def _end_of(source: SourceText) -> Span:
    """Just after the last character that is not white space, where the quote is useful.
    Lines are counted as lark counts them (only `\\n` ends one), without splitting the text."""
    text = source.text.rstrip()
    line_start = text.rfind("\n") + 1
    return Span(source.path, text.count("\n") + 1, len(text) - line_start + 1)
