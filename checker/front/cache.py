"""A per-user cache on disk for what every run would otherwise rebuild the same way: lark's
parser tables (parser.py), the syntax trees of the built-in arch files and the libraries
loaded lately (load.py).

An entry is one pickle file in `$XDG_CACHE_HOME/flowcheck` (by default `~/.cache/flowcheck`)
named by a SHA-256 key over everything its value depends on: what the caller names (the
grammar and lark's version; the display path and text of every file loaded), the bytes of
every module of this package (any change to the checker, the syntax tree and model classes
included, gives new keys), the Python version and the format of the cache itself. A stale
entry is never read, only left behind; writing an entry removes all but the few most recently
used of its kind.

An entry is written to a temporary file in the same directory, then renamed over its name
(os.replace), so a reader sees a whole entry or none even with two runs writing at once. An
entry that cannot be read, is not a pickle, or holds another key is a miss; a directory that
cannot be created or written, or that another user could write to, leaves the run without a
cache, silently. `FLOWCHECK_NO_CACHE=1` turns the cache off.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

FORMAT = 1  # bump when what an entry holds changes shape
KEEP = 4  # entries of one kind kept when a new one is written (several checkouts at once)
_STALE_TEMP = 3600.0  # seconds after which a temporary file left by a crash is removed
MISS = object()  # what Entry.load returns when there is nothing usable


def disabled() -> bool:
    return os.environ.get("FLOWCHECK_NO_CACHE", "") not in ("", "0")


def cache_dir() -> Path | None:
    """The cache directory (not created), or None when there is no home to put it in."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative value is ignored
        try:
            base = str(Path.home() / ".cache")
        except (RuntimeError, KeyError, OSError):
            return None
    return Path(base) / "flowcheck"


@cache
def code_fingerprint() -> str:
    """A hash of every module of this package (relative path and bytes of each .py file, or
    of a .pyc file installed without its source); "" if none can be found (the cache is
    then off: no key could tell two versions of the checker apart)."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent  # the package: checker/front/cache.py
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        files.extend(os.path.join(folder, n) for n in names if n.endswith((".py", ".pyc")))
    if not files:
        return ""
    for path in sorted(files):
        digest.update(os.path.relpath(path, root).encode("utf-8") + b"\0")
        with open(path, "rb") as f:
            digest.update(f.read())
        digest.update(b"\0")
    return digest.hexdigest()


class Entry:
    """One cache entry: `kind` names what it holds, `inputs` what its value is made from."""

    def __init__(self, kind: str, inputs: list[str], folder: Path | None, keep: int) -> None:
        self.kind = kind
        self.folder = folder
        self.keep = keep
        self.key = ""
        self.path: Path | None = None
        if folder is None:  # the cache is off: no need to hash anything
            return
        digest = hashlib.sha256()
        header = [str(FORMAT), kind, sys.version, sys.implementation.cache_tag or "",
                  code_fingerprint()]
        for part in (*header, *inputs):
            data = part.encode("utf-8", "surrogatepass")
            digest.update(len(data).to_bytes(8, "little") + data)
        self.key = digest.hexdigest()
        self.path = folder / f"{kind}-{self.key[:40]}.pickle"

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def load(self) -> Any:
        """The value stored under this key, or MISS."""
        if self.path is None or not _private(self.folder):
            return MISS
        try:
            with open(self.path, "rb") as f:
                stored = pickle.load(f)
        except Exception:  # missing, unreadable, truncated, not a pickle, from other code
            return MISS
        if (not isinstance(stored, tuple) or len(stored) != 3
                or stored[:2] != (FORMAT, self.key)):
            return MISS
        with contextlib.suppress(OSError):
            os.utime(self.path)  # used now: the newest entries are the ones kept
        return stored[2]

    def store(self, value: Any) -> None:
        """Write the value under this key, atomically; any failure leaves the cache as it was."""
        if self.path is None or self.folder is None:
            return
        temp = None
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not _private(self.folder):
                return
            data = pickle.dumps((FORMAT, self.key, value), protocol=pickle.HIGHEST_PROTOCOL)
            import tempfile  # only when writing: a run that finds its entries does without

            fd, temp = tempfile.mkstemp(prefix=".tmp-", suffix=".pickle", dir=self.folder)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(temp, self.path)
            temp = None
            self._prune()
        except Exception:  # read-only or full disk, a value that does not pickle, ...
            pass
        finally:
            if temp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp)

    def _prune(self) -> None:
        """Remove all but the `keep` newest entries of this kind, and old temporary files."""
        assert self.folder is not None
        mine, now = [], time.time()
        for item in os.scandir(self.folder):
            name = item.name
            try:
                if name.startswith(f"{self.kind}-") and name.endswith(".pickle"):
                    mine.append((item.stat().st_mtime, item.path))
                elif name.startswith(".tmp-") and now - item.stat().st_mtime > _STALE_TEMP:
                    os.unlink(item.path)
            except OSError:
                pass
        for _, path in sorted(mine, reverse=True)[self.keep :]:
            with contextlib.suppress(OSError):
                os.unlink(path)


def entry(kind: str, inputs: list[str], keep: int = KEEP) -> Entry:
    """The entry for `kind` made from `inputs` (one that never hits when the cache is off);
    writing it keeps the `keep` most recently used entries of that kind."""
    off = disabled() or not code_fingerprint()
    return Entry(kind, inputs, None if off else cache_dir(), keep)


def _private(folder: Path | None) -> bool:
    """Whether `folder` is a directory of this user that no other user can write to (a
    pickle from such a folder would run code another user wrote)."""
    if folder is None:
        return False
    try:
        info = folder.stat()
    except OSError:
        return False
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # no POSIX owners (Windows): the user's own profile directory
        return True
    return info.st_uid == getuid() and not info.st_mode & 0o022
