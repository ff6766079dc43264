"""Syntax errors in plain words: what the parser expected, and what it found instead.

Terminal names are the grammar's (NAME, READ, RBRACE, _NL, ...); parser.py passes them in with
the text of each fixed-string terminal, so this module needs no Lark.
"""

from __future__ import annotations

from collections.abc import Mapping

from checker.errors import FlowError
from checker.front.source import Span


def _terminals(names: str) -> frozenset[str]:
    return frozenset(names.split())


# Terminals that open a statement, a declaration, ...: when all of a group is expected, the
# message names the group instead of listing twenty keywords.
_GROUPS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "a statement",
        _terminals(
            "NAME READ WRITE COPY SIGNAL WAIT LOCK UNLOCK DMA_READ DMA_WRITE EITHER OR REPEAT "
            "FLUSH WRITEBACK INVALIDATE PURGE_TLB MAP UNMAP SET CLEAR IF ELSE RETURN"
        ),
    ),
    (
        "a declaration (doc, page, mapping, start, thread, device or expect)",
        _terminals("DOC PAGE MAPPING START THREAD DEVICE EXPECT"),
    ),
    (
        "an arch item (doc, cache, speculative_fill, dma_coherent, fn or on)",
        _terminals("DOC CACHE SPECULATIVE_FILL DMA_COHERENT FN ON"),
    ),
    ("a condition", _terminals("ANON FILE HIGHMEM MAPPED FAULTED NOT LPAR NAME")),
    ("'arch' or 'protocol'", _terminals("ARCH PROTOCOL")),
)
_END_OF_STATEMENT = frozenset({"_NL", "SEMICOLON"})
_WORDS = {
    "NAME": "a name",
    "INT": "a number",
    "STRING": 'a "string"',
    "_COLOURS": "'colours'",
    "_COLOURS_ONE": "'colour'",
}
_IGNORED = frozenset({"SPACE", "LINE_COMMENT", "BLOCK_COMMENT"})


def unexpected_token(
    span: Span, found: str, text: str, expected: set[str], literals: Mapping[str, str]
) -> FlowError:
    """The token `text` (terminal `found`) is at `span` where one of `expected` should be."""
    what = "the end of the line" if found == "_NL" else f"'{text}'"
    return FlowError(span, f"expected {describe_expected(expected, literals)}, found {what}")


def unexpected_end(span: Span, expected: set[str], literals: Mapping[str, str]) -> FlowError:
    if "RBRACE" in expected:
        return FlowError(span, "unexpected end of file: missing '}'")
    return FlowError(
        span, f"unexpected end of file: expected {describe_expected(expected, literals)}"
    )


def bad_character(span: Span, rest: str) -> FlowError:
    """No token starts at `span`; `rest` is the text from there on."""
    if rest.startswith("/*"):
        return FlowError(span, "unterminated comment: '/*' has no matching '*/'")
    if rest.startswith('"'):
        return FlowError(span, "unterminated string: '\"' has no matching '\"' on its line")
    char = rest[:1]
    shown = char if char.isprintable() else repr(char)[1:-1]
    return FlowError(span, f"unexpected character '{shown}'")


def describe_expected(expected: set[str], literals: Mapping[str, str]) -> str:
    """`a statement or '}'`, `'(' or a name`, ...: the expected terminals in words."""
    names = set(expected) - _IGNORED - {"$END"}
    if "ARCH" in names:  # between blocks, newlines and ';' are not "the end of a statement"
        names -= _END_OF_STATEMENT
    parts: list[str] = []
    for label, group in _GROUPS:
        if group <= names:
            parts.append(label)
            names -= group
    if parts and "RBRACE" in names:
        names -= _END_OF_STATEMENT  # at the start of a line inside a block: say '}'
    end = []
    if names & _END_OF_STATEMENT:
        names -= _END_OF_STATEMENT | {"RBRACE"}  # a '}' can always end the last statement
        end = ["the end of the statement"]
    parts.extend(sorted(_describe_terminal(name, literals) for name in names))
    parts.extend(end)
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def _describe_terminal(name: str, literals: Mapping[str, str]) -> str:
    if name in _WORDS:
        return _WORDS[name]
    if name in literals:
        return f"'{literals[name]}'"
    return name.lower()
