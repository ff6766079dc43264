"""Small helpers shared by the engine-side tests."""

from __future__ import annotations

from pathlib import Path

from checker.front import model
from checker.front.load import load_files

REPO = Path(__file__).resolve().parent.parent


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """`check ARGV` in this process: its exit status, standard output and error."""
    import io

    from checker.cli import run

    out, err = io.StringIO(), io.StringIO()
    code = run(argv, out, err)
    return code, out.getvalue(), err.getvalue()


def load(*paths: str | Path) -> model.Library:
    return load_files([str(p) for p in paths]).library


def load_text(tmp_path: Path, text: str, name: str = "t.flow") -> model.Library:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_files([str(path)], builtins=[]).library


def own_arches(library: model.Library) -> list[str]:
    """The arches a litmus file defines (its protocols are checked on those only)."""
    return list(library.user_arches)
