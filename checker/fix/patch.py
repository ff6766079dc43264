"""A placement as an edit of the .flow text: each inserted call on a line of its own, at the
indentation of the statement it goes before (or after the thread's last statement), and
the edit as a unified diff that `git apply` accepts."""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence

from checker.fix.candidates import Candidate
from checker.front import model


def insertion_line(protocol: model.Protocol, candidate: Candidate, lines: list[str]) -> int:
    """The 0-based index of the line the call goes before."""
    body = protocol.threads[candidate.thread].body
    if candidate.position < len(body):
        return body[candidate.position].span.line - 1
    return _closing_brace(lines, protocol.threads[candidate.thread].span.line - 1)


def _closing_brace(lines: list[str], start: int) -> int:
    """The line of the `}` that closes the block opened on line `start` (comments and
    strings skipped)."""
    depth = 0
    in_comment = False
    for number in range(start, len(lines)):
        line = lines[number]
        i = 0
        while i < len(line):
            two = line[i : i + 2]
            if in_comment:
                if two == "*/":
                    in_comment, i = False, i + 2
                    continue
            elif two == "//":
                break
            elif two == "/*":
                in_comment, i = True, i + 2
                continue
            elif line[i] == '"':
                end = line.find('"', i + 1)
                i = len(line) if end < 0 else end + 1
                continue
            elif line[i] == "{":
                depth += 1
            elif line[i] == "}":
                depth -= 1
                if depth == 0:
                    return number
            i += 1
    raise ValueError(f"no closing brace for the block at line {start + 1}")


def apply(text: str, edits: Sequence[tuple[model.Protocol, Sequence[Candidate]]]
          ) -> tuple[str, dict[tuple[str, int], int]]:
    """`text` with every placement's calls inserted, and the line (from 1) each inserted
    call is on in the new text, by (protocol name, candidate number)."""
    lines = text.splitlines(keepends=True)
    inserts: dict[int, list[tuple[tuple[str, int], str]]] = {}
    for protocol, calls in edits:
        for c in sorted(calls, key=lambda c: c.index):
            at = insertion_line(protocol, c, lines)
            body = protocol.threads[c.thread].body
            model_line = (body[c.position] if c.position < len(body) else body[-1]).span.line
            indent = _indent(lines[model_line - 1])
            inserts.setdefault(at, []).append(((protocol.name, c.index),
                                               f"{indent}{c.text()}\n"))
    out: list[str] = []
    where: dict[tuple[str, int], int] = {}
    for number, line in enumerate(lines):
        for key, new in inserts.get(number, ()):
            out.append(new)
            where[key] = len(out)
        out.append(line)
    return "".join(out), where


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def unified_diff(path: str, before: str, after: str) -> str:
    """The edit as `git diff` would show it, paths relative to the working directory."""
    shown = os.path.relpath(path) if os.path.isabs(path) else path
    shown = shown.replace(os.sep, "/")
    diff = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                fromfile=f"a/{shown}", tofile=f"b/{shown}")
    return "".join(diff)
