"""Sections of bench/RESULTS.md written by separate scripts, and how the scripts write a
time or a ratio.

bench/run.py writes the file as a whole; bench/differential.py and bench/fuzz_frontend.py
each own one section between `<!-- NAME:begin -->` and `<!-- NAME:end -->`, which run.py
keeps when it rewrites the rest.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
_SECTION = re.compile(r"<!-- (\w+):begin -->.*?<!-- \1:end -->", re.S)


def write_section(name: str, body: str, results: Path = RESULTS) -> str:
    """Put `body` in section `name` of `results` (appended if the section is new)."""
    text = f"<!-- {name}:begin -->\n{body.strip()}\n<!-- {name}:end -->"
    old = results.read_text(encoding="utf-8") if results.exists() else ""
    pattern = re.compile(rf"<!-- {name}:begin -->.*?<!-- {name}:end -->", re.S)
    new = pattern.sub(lambda _: text, old) if pattern.search(old) else f"{old.rstrip()}\n\n{text}"
    results.write_text(new.strip() + "\n", encoding="utf-8")
    return text


def keep_sections(old: str, new: str) -> str:
    """`new` followed by the sections of `old` that `new` does not hold."""
    kept = [m.group(0) for m in _SECTION.finditer(old) if m.group(0) not in new]
    return "\n\n".join([new.rstrip(), *kept]) + "\n"


def fmt_s(t: float | None) -> str:
    if t is None:
        return "-"
    if t == 0:
        return "< 10 ms"
    if t < 0.01:
        return f"{t * 1000:.1f} ms"
    if t < 1:
        return f"{t * 1000:.0f} ms"
    if t < 10:
        return f"{t:.2f} s"
    return f"{t:.1f} s"


def fmt_x(r: float | None) -> str:
    if r is None or math.isnan(r):
        return "-"
    if r >= 100:
        return f"{r:,.0f}x"
    if r >= 10:
        return f"{r:.0f}x"
    return f"{r:.2g}x" if r < 1 else f"{r:.1f}x"
