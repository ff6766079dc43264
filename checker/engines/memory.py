"""How much memory this process holds, for --max-memory (both engines)."""

from __future__ import annotations

import os


def resident_bytes() -> int:
    """This process's resident memory (Linux /proc; 0 where it cannot be read)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return 0


def over_memory(limit: int) -> str:
    """The reason a check stopped at `limit` bytes."""
    return f"more than {limit >> 20:,} MB of memory (--max-memory)"


try:
    _PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
except (ValueError, OSError, AttributeError):
    _PAGE_SIZE = 4096
