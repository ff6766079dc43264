"""The names of a .flow document and what each one is, read from text of any shape.

An editor asks about a document while it is being typed, so mostly while it does not parse:
`flu` on a line of its own is a syntax error, and completion is asked for right there. The
parser (checker/front/parser.py) stops at the first error, so the editor features read the
document here instead: a tolerant scan of the tokens that knows the shapes of grammar/flow.lark
(blocks, declarations, bodies, statements) well enough to say, for each name, whether it
declares a page, binds a mapping variable, calls an API function, names an arch, an event or a
flag, and which block and body it is in. Nothing here raises; a broken line affects the names
of that line only, and an unclosed brace ends at the next `arch` or `protocol` block (or
`thread`, `fn`... in a block).

It is linear in the size of the text and keeps its own stack (no recursion), so a document
nested thousands of levels deep costs what a flat one does.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import cached_property

# Tokens, as grammar/flow.lark's terminals split text (comments and spaces dropped). An
# unterminated block comment runs to the end of the text and an unterminated string to the
# end of its line, as far as the parser would have read them before giving up.
_TOKEN = re.compile(
    r"""(?P<space>[ \t\f\r]+)
      | (?P<comment>//[^\n]*|/\*(?:[\s\S]*?\*/|[\s\S]*))
      | (?P<newline>\n)
      | (?P<string>"[^"\\\n]*(?:\\.[^"\\\n]*)*"?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<number>[0-9]+)
      | (?P<punct>->|<-|.)""",
    re.VERBOSE | re.DOTALL,
)

# Words that begin a statement in a body, and the condition words (docs/language.md, section 1).
STATEMENT_WORDS = frozenset((
    "read", "write", "copy", "signal", "wait", "lock", "unlock", "dma_read", "dma_write",
    "either", "or", "repeat", "flush", "writeback", "invalidate", "purge_tlb", "map", "unmap",
    "set", "clear", "if", "else", "return",
))
_CONDITION_WORDS = frozenset({"and", "or", "not"})
# Words that are keywords when a `(` follows them and they do not start a call: predicates
# (`highmem(p)`), alias sets (`flush kernel(p)`), `user(P)` of a mapping or colour.
_PAREN_WORDS = frozenset({"anon", "file", "highmem", "mapped", "faulted", "kernel", "user", "all"})
_BODY_HEADS = frozenset({"thread", "device", "fn", "on"})

# What a name is (Occurrence.role).
ARCH = "arch"  # `arch NAME`
ARCH_REF = "arch_ref"  # `extends NAME`, `expect ... on NAME, NAME`
PROTOCOL = "protocol"
PAGE = "page"  # `page NAME`
MAPPING = "mapping"  # `mapping NAME = user(P)`
THREAD = "thread"  # `thread NAME`, `device NAME`
FUNCTION = "function"  # `fn NAME`
HOOK = "hook"  # `on NAME`
PARAM = "param"  # `fn f(NAME: page)`
CACHE = "cache"  # `cache NAME`
BINDING = "binding"  # `NAME = ...` in a body
CALL = "call"  # `NAME(...)` as a statement, after `=` or `return`
EVENT = "event"  # `signal NAME`, `wait NAME`
LOCK = "lock"  # `lock NAME`, `unlock NAME`
FLAG = "flag"  # `p.NAME`
VERDICT = "verdict"  # `expect NAME on ...`
REF = "ref"  # a page, mapping or variable used
KEYWORD = "keyword"
OTHER = "other"  # anything else (a start state, a cache indexing, ...)

DECLARATIONS = frozenset({ARCH, PROTOCOL, PAGE, MAPPING, THREAD, FUNCTION, HOOK, PARAM, CACHE})

# The words a page or mapping name follows in a statement (grammar/flow.lark), and which of
# the two the resolver (checker/front/resolve_body.py) takes there: PAGE, MAPPING, or
# EITHER. The outline reads a name after one of them as an operand whatever its spelling;
# completion offers only names of the kind taken. `(` and `,` are a call's arguments (a page
# or a mapping, by the function's parameters; `mmap(` a page and `munmap(` a mapping, which
# completion tells apart), an alias set's or a predicate's. Not `munmap` itself: `munmap(U)`
# puts a `(` before its operand.
EITHER = "page or mapping"
OPERANDS: dict[str, str] = {
    "read": MAPPING, "write": MAPPING,  # `read M[I]`
    "copy": MAPPING, "<-": MAPPING,  # `copy DST <- SRC`
    "unmap": MAPPING,
    "at": MAPPING,  # `u = mmap(P) at V`
    # `flush M`: a name alone is a mapping; a page's aliases are `kernel(P)`, `user(P)`...
    "flush": MAPPING, "writeback": MAPPING, "invalidate": MAPPING, "purge_tlb": MAPPING,
    "dma_read": PAGE, "dma_write": PAGE,  # `dma_read P[I]`
    "map": PAGE,  # `x = map P`
    "set": EITHER, "clear": EITHER,  # `set P.FLAG`: a page, or the page behind a mapping
    "(": EITHER, ",": EITHER,
}
_OPERAND_AFTER = frozenset(OPERANDS)


@dataclass(frozen=True)
class Token:
    kind: str  # "name", "number", "string", "punct", "newline"
    text: str
    start: int  # character offsets in the text
    end: int


@dataclass(eq=False)
class Block:
    """An `arch` or `protocol` block (kind None: braces at the top level that are neither)."""

    kind: str | None
    name: Token | None
    start: int
    end: int
    bodies: list[Body] = field(default_factory=list)


@dataclass(eq=False)
class Body:
    """The body of a `thread`, `device`, `fn` or `on` hook, nested braces included."""

    kind: str
    name: Token | None
    block: Block
    start: int
    end: int
    params: list[tuple[Token, str]] = field(default_factory=list)  # (name, page|mapping)


@dataclass(frozen=True, eq=False)
class Occurrence:
    token: Token
    role: str
    block: Block | None
    body: Body | None
    head: str = ""  # the word that starts its statement or declaration (`signal`, `expect`)

    @property
    def text(self) -> str:
        return self.token.text


def tokenize(text: str) -> list[Token]:
    tokens = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind in ("space", "comment"):
            continue
        tokens.append(Token(kind or "punct", match.group(), match.start(), match.end()))
    return tokens


@dataclass
class _Context:
    """One level of braces: the file, a block's items, a body's statements, or braces skipped."""

    kind: str  # "file", "block", "body", "skip"
    block: Block | None = None
    body: Body | None = None
    owns: bool = False  # the block's or body's own braces (not an `if`'s inside a body)
    statement: list[Token] = field(default_factory=list)  # since the statement began

    def words(self) -> list[Token]:
        """The statement's tokens after the `}` that may lead it (`} else {`)."""
        index = 0
        while index < len(self.statement) and self.statement[index].text == "}":
            index += 1
        return self.statement[index:]


class Outline:
    """Every name of a document, classified, with the blocks and bodies they are in."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.blocks: list[Block] = []
        self.occurrences: list[Occurrence] = []
        self._scan()

    # -- queries ----------------------------------------------------------------------------

    def occurrence_at(self, offset: int) -> Occurrence | None:
        """The name under the cursor: the one containing `offset`, or ending at it."""
        for occurrence in self.occurrences:
            token = occurrence.token
            if token.start <= offset <= token.end:
                return occurrence
            if token.start > offset:
                break
        return None

    def token_at(self, offset: int) -> Token | None:
        for token in self.tokens:
            if token.start <= offset <= token.end and token.kind != "newline":
                return token
            if token.start > offset:
                break
        return None

    def scope_at(self, offset: int) -> tuple[Block | None, Body | None]:
        """The block and body the offset is in (the innermost)."""
        block = next((b for b in self.blocks if b.start < offset <= b.end), None)
        if block is None:
            return None, None
        body = next((b for b in block.bodies if b.start < offset <= b.end), None)
        return block, body

    def in_block(self, block: Block | None, *roles: str) -> list[Occurrence]:
        return [o for o in self.occurrences if o.block is block and o.role in roles]

    def names_in_scope(self, offset: int) -> list[Occurrence]:
        """The pages, mappings and variables a statement at `offset` can name, each name
        once (its latest declaration or binding before the offset wins)."""
        block, body = self.scope_at(offset)
        if block is None:
            return []
        found: dict[str, Occurrence] = {}
        if block.kind == "protocol":
            for occurrence in self.in_block(block, PAGE, MAPPING):
                found.setdefault(occurrence.text, occurrence)
        if body is not None:
            found.update((token.text, self._param(token, block, body))
                         for token, _ in body.params)
            for occurrence in self.occurrences:
                if occurrence.body is body and occurrence.role == BINDING \
                        and self._bound_before(occurrence, offset):
                    found[occurrence.text] = occurrence
        return list(found.values())

    def declaration_of(self, occurrence: Occurrence) -> list[Occurrence]:
        """Where a page, mapping, variable, parameter, event, lock or thread named at
        `occurrence` is declared or bound in this document."""
        role, name = occurrence.role, occurrence.text
        if role in DECLARATIONS:
            return [occurrence]
        same = [o for o in self.occurrences if o.block is occurrence.block and o.text == name]
        if role == EVENT:
            signals = [o for o in same if o.role == EVENT and o.head == "signal"]
            return signals or [o for o in same if o.role == EVENT]
        if role == LOCK:
            return [o for o in same if o.role == LOCK][:1]
        if role not in (REF, BINDING):
            return []
        body = occurrence.body
        if body is not None:
            bound = [o for o in same if o.body is body and o.role == BINDING
                     and self._bound_before(o, occurrence.token.start)]
            if bound:
                return [bound[-1]]
            for token, _ in body.params:
                if token.text == name:
                    return [self._param(token, body.block, body)]
        declared = [o for o in same if o.role in (PAGE, MAPPING)]
        if declared:
            return declared[:1]
        return [occurrence] if role == BINDING else []

    def _bound_before(self, binding: Occurrence, offset: int) -> bool:
        """Whether the statement that binds a variable ends before `offset` (in `k =
        kmap(p)`, `k` is not yet bound inside the call)."""
        ends = self._statement_ends
        at = bisect.bisect_left(ends, binding.token.end)
        return at < len(ends) and ends[at] < offset

    @cached_property
    def _statement_ends(self) -> list[int]:
        return [t.start for t in self.tokens if t.kind == "newline" or t.text in (";", "}")]

    def expect_arches(self) -> list[str]:
        """The arch names the `expect` lines give, in order, each once."""
        names = (o.text for o in self.occurrences if o.role == ARCH_REF and o.head == "expect")
        return list(dict.fromkeys(names))

    def arch_names(self) -> list[str]:
        """The arches this document defines, in order."""
        return list(dict.fromkeys(o.text for o in self.occurrences if o.role == ARCH))

    def _param(self, token: Token, block: Block, body: Body) -> Occurrence:
        return Occurrence(token, PARAM, block, body, body.kind)

    # -- the scan ---------------------------------------------------------------------------

    def _scan(self) -> None:
        tokens = self.tokens
        stack = [_Context("file")]
        for index, token in enumerate(tokens):
            context = stack[-1]
            if token.kind == "newline" or token.text == ";":
                context.statement = []
                continue
            if token.kind == "name" and context.kind != "file" and not context.words():
                self._recover(stack, index)
                context = stack[-1]
            if token.text == "{":
                stack.append(self._open(context, token))
                context.statement = []  # after the `}`, `else {` or `or {` starts afresh
                continue
            if token.text == "}":
                if len(stack) > 1:
                    self._close(stack.pop(), token.end)
                    stack[-1].statement.append(token)
                continue
            if token.kind == "name":
                role = self._classify(context, index)
                self.occurrences.append(
                    Occurrence(token, role, context.block, context.body, _head(context))
                )
            context.statement.append(token)
        while len(stack) > 1:  # unclosed braces end with the text
            self._close(stack.pop(), len(self.text))

    def _recover(self, stack: list[_Context], index: int) -> None:
        """At the start of a statement, a block header closes what is open (its `}` was
        forgotten): `arch A {`, `protocol P {` close every level; `thread T {`, `fn f(` and
        `on h(` close the body they are in."""
        word, after = self.tokens[index].text, self._next(index, 1)
        if after is None or after.kind != "name":
            return
        follow = self._next(index, 2)
        follow_text = follow.text if follow is not None else ""
        if word in ("arch", "protocol") and follow_text in ("{", "extends"):
            while len(stack) > 1:
                self._close(stack.pop(), self.tokens[index].start)
        elif stack[-1].kind == "body" and (
            (word in ("thread", "device") and follow_text == "{")
            or (word in ("fn", "on") and follow_text == "(")
        ):
            while len(stack) > 1 and stack[-1].kind != "block":
                self._close(stack.pop(), self.tokens[index].start)

    def _next(self, index: int, ahead: int) -> Token | None:
        at = index + ahead
        return self.tokens[at] if at < len(self.tokens) else None

    def _open(self, context: _Context, brace: Token) -> _Context:
        words = context.words()
        head = words[0].text if words else ""
        name = words[1] if len(words) > 1 and words[1].kind == "name" else None
        if context.kind == "file":
            if head in ("arch", "protocol"):
                block = Block(head, name, brace.start, len(self.text))
                self.blocks.append(block)
                return _Context("block", block, owns=True)
            block = Block(None, None, brace.start, len(self.text))
            self.blocks.append(block)
            return _Context("skip", block, owns=True)
        if context.kind == "block" and head in _BODY_HEADS and context.block is not None:
            kind = "device" if head == "device" else head
            body = Body(kind, name, context.block, brace.start, len(self.text))
            body.params = [(word, words[at + 2].text if at + 2 < len(words) else "")
                           for at, word in enumerate(words)
                           if word.kind == "name" and at + 1 < len(words)
                           and words[at + 1].text == ":"]
            context.block.bodies.append(body)
            return _Context("body", context.block, body, owns=True)
        if context.kind == "body":
            return _Context("body", context.block, context.body)
        return _Context("skip", context.block, context.body)

    def _close(self, context: _Context, end: int) -> None:
        if not context.owns:
            return  # nested braces (if, either) leave their body open
        if context.body is not None:
            context.body.end = end
        elif context.block is not None:
            context.block.end = end

    def _classify(self, context: _Context, index: int) -> str:
        words = context.words()
        token = self.tokens[index]
        following = self._next(index, 1)
        after = following.text if following is not None else ""
        position = len(words)
        head = words[0].text if words else token.text
        previous = words[-1].text if words else (context.statement[-1].text
                                                 if context.statement else "")
        if context.kind == "file":
            return _top_level(head, position, previous, token.text)
        if context.kind == "block" and context.block is not None:
            if context.block.kind == "arch":
                return _arch_item(head, position, previous, token.text, after)
            if context.block.kind == "protocol":
                if head == "expect" and position > 0 and token.text not in ("on", "at"):
                    # `expect V, V at N on A, B`: verdicts before `on`, arches after it
                    return ARCH_REF if any(w.text == "on" for w in words) else VERDICT
                return _protocol_item(head, position, previous, token.text, after)
            return OTHER
        if context.kind == "body":
            return _statement(position, previous, token.text, after)
        return OTHER


def _head(context: _Context) -> str:
    words = context.words()
    return words[0].text if words else ""


def _top_level(head: str, position: int, previous: str, word: str) -> str:
    if position == 0:
        return KEYWORD if word in ("arch", "protocol") else OTHER
    if head == "arch":
        if position == 1:
            return ARCH
        if word == "extends" and position == 2:
            return KEYWORD
        if previous == "extends":
            return ARCH_REF
    if head == "protocol" and position == 1:
        return PROTOCOL
    return OTHER


def _arch_item(head: str, position: int, previous: str, word: str, after: str) -> str:
    if position == 0:
        return KEYWORD
    if head in ("fn", "on"):
        if position == 1:
            return FUNCTION if head == "fn" else HOOK
        if after == ":" and previous in ("(", ","):
            return PARAM
        return KEYWORD
    if head == "cache":
        return CACHE if position == 1 else KEYWORD
    if head in ("speculative_fill", "dma_coherent"):
        return KEYWORD
    return OTHER


def _protocol_item(head: str, position: int, previous: str, word: str, after: str) -> str:
    if position == 0:
        return KEYWORD
    if head == "page":
        return PAGE if position == 1 else KEYWORD
    if head == "mapping":
        if position == 1:
            return MAPPING
        return REF if previous == "(" else KEYWORD
    if head in ("thread", "device"):
        return THREAD if position == 1 else OTHER
    if head == "start":
        if word == "kernel" and after == "(":
            return KEYWORD
        return REF if position == 1 or previous == "(" else OTHER
    if head == "expect":
        return KEYWORD  # `on`, `at`: the names around them are classified by the caller
    return OTHER


def _statement(position: int, previous: str, word: str, after: str) -> str:
    """A name in a body statement, by where it stands (the grammar's keywords are
    contextual: `read` is a statement only where a statement starts)."""
    if position == 0 and word in STATEMENT_WORDS:
        return KEYWORD  # `if (a or b) {`: no function can have a statement's name
    if word in _CONDITION_WORDS and previous not in _OPERAND_AFTER | {"=", "return"}:
        return KEYWORD
    if after == "(":
        if position == 0 or previous in ("=", "return"):
            return CALL
        if word in _PAREN_WORDS:
            return KEYWORD
        return CALL
    if previous == ".":
        return FLAG
    if after == ".":
        return REF
    if position == 0:
        if after == "=":
            return BINDING
        return KEYWORD if word in STATEMENT_WORDS else REF
    if previous in ("signal", "wait") and position == 1:
        return EVENT
    if previous in ("lock", "unlock") and position == 1:
        return LOCK
    if word == "map" and previous in ("=", "return"):
        return KEYWORD
    if previous in ("colour", "color"):
        return KEYWORD  # any, linear, user
    if previous in _OPERAND_AFTER or previous in ("=", "return", "if", "not", "and", "or"):
        return REF
    if word in ("colour", "color", "cost", "at", "map"):
        return KEYWORD
    return REF
