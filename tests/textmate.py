"""A small TextMate grammar tokenizer, enough to test editors/vscode/syntaxes/flow.tmLanguage.json
without node or an npm package.

It follows vscode-textmate's rules for what the grammar uses: line by line, a stack of open
begin/end rules; at each position the pattern whose match starts first wins (the end pattern of
the rule on top before its patterns, then list order); `name` on a match, `name` and
`contentName` over a begin/end region, `captures`, `beginCaptures`, `endCaptures`, `include` of
`#repository` entries and `$self`. Regexes run in Python's re, which is why the grammar keeps
to what Oniguruma and re both read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Rule = dict[str, Any]


@dataclass
class _Open:
    rule: Rule
    end: re.Pattern[str]
    scopes: list[str]  # the scopes inside the region (name and contentName included)


class Grammar:
    def __init__(self, grammar: Rule) -> None:
        self.grammar = grammar
        self.repository: dict[str, Rule] = grammar.get("repository", {})
        self._compiled: dict[str, re.Pattern[str]] = {}

    def regex(self, source: str) -> re.Pattern[str]:
        if source not in self._compiled:
            self._compiled[source] = re.compile(source)
        return self._compiled[source]

    def patterns(self, rule: Rule) -> list[Rule]:
        """The match and begin rules a rule's patterns stand for, includes expanded."""
        found: list[Rule] = []
        for pattern in rule.get("patterns", []):
            found.extend(self._expand(pattern, set()))
        return found

    def _expand(self, pattern: Rule, seen: set[str]) -> list[Rule]:
        include = pattern.get("include")
        if include is None:
            if "match" in pattern or "begin" in pattern:
                return [pattern]
            return [p for sub in pattern.get("patterns", []) for p in self._expand(sub, seen)]
        if include in seen:
            return []
        seen = seen | {include}
        target = self.grammar if include == "$self" else self.repository[include.lstrip("#")]
        if "match" in target or "begin" in target:
            return [target]
        return [p for sub in target.get("patterns", []) for p in self._expand(sub, seen)]

    def tokenize(self, text: str) -> list[list[list[str]]]:
        """For each line, for each character, its scopes (outermost first)."""
        root = self.grammar["scopeName"]
        stack: list[_Open] = []
        result = []
        for line in text.split("\n"):
            scopes: list[list[str]] = [[] for _ in line]
            subject = line + "\n"
            pos = 0
            stuck = 0
            while pos <= len(line):
                base = [root, *(stack[-1].scopes if stack else [])]
                rule = stack[-1].rule if stack else self.grammar
                best: tuple[int, int, Rule | None, re.Match[str]] | None = None
                if stack:
                    match = stack[-1].end.search(subject, pos)
                    if match is not None:
                        best = (match.start(), -1, None, match)
                for order, pattern in enumerate(self.patterns(rule)):
                    regex = self.regex(pattern.get("match") or pattern["begin"])
                    match = regex.search(subject, pos)
                    if match is not None and (best is None or match.start() < best[0]):
                        best = (match.start(), order, pattern, match)
                if best is None:
                    _paint(scopes, pos, len(line), base)
                    break
                start, _, pattern, match = best
                _paint(scopes, pos, start, base)
                if pattern is None:  # the end of the region on top
                    opened = stack.pop()
                    outer = [root, *(stack[-1].scopes if stack else [])]
                    name = opened.rule.get("name")
                    here = [*outer, name] if name else outer
                    _paint(scopes, start, match.end(), here)
                    _captures(scopes, match, opened.rule.get("endCaptures")
                              or opened.rule.get("captures"))
                elif "match" in pattern:
                    here = [*base, pattern["name"]] if "name" in pattern else base
                    _paint(scopes, start, match.end(), here)
                    _captures(scopes, match, pattern.get("captures"))
                else:
                    here = [*base, pattern["name"]] if "name" in pattern else list(base)
                    _paint(scopes, start, match.end(), here)
                    _captures(scopes, match, pattern.get("beginCaptures")
                              or pattern.get("captures"))
                    inside = here[1:] + ([pattern["contentName"]]
                                         if "contentName" in pattern else [])
                    stack.append(_Open(pattern, self.regex(pattern["end"]), inside))
                if match.end() > pos:
                    pos, stuck = match.end(), 0
                elif pattern is not None:  # an empty match that opened or matched nothing:
                    stuck += 1  # step on, as vscode-textmate does, or it would loop here
                    if stuck > 1:
                        _paint(scopes, pos, pos + 1, base)
                        pos, stuck = pos + 1, 0
            result.append(scopes)
        return result


def _paint(scopes: list[list[str]], start: int, end: int, names: list[str]) -> None:
    for index in range(start, min(end, len(scopes))):
        scopes[index] = list(names)


def _captures(scopes: list[list[str]], match: re.Match[str],
              captures: dict[str, dict[str, str]] | None) -> None:
    for group, capture in sorted((captures or {}).items(), key=lambda kv: int(kv[0])):
        number = int(group)
        if "name" not in capture or match.group(number) is None:
            continue
        for index in range(match.start(number), min(match.end(number), len(scopes))):
            if scopes[index][-1:] != [capture["name"]]:
                scopes[index] = [*scopes[index], capture["name"]]
