"""`(did you mean 'x'?)`: the closest known name to a misspelt one."""

from __future__ import annotations

import difflib
from collections.abc import Collection


def suggest(name: str, candidates: Collection[str]) -> str:
    """` (did you mean 'x'?)` when a candidate is close to `name`, else ''."""
    close = difflib.get_close_matches(name, sorted(candidates), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
