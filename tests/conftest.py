"""Shared test fixtures: golden files, compared exactly and rewritten only on request.

`pytest --update-golden` rewrites every golden file a test compares against from the actual
output; review the diff before committing it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files from the actual output instead of comparing",
    )


@pytest.fixture
def assert_golden(request: pytest.FixtureRequest) -> Callable[[Path, str], None]:
    """`assert_golden(path, actual)`: `actual` must equal the file's text exactly."""
    update = request.config.getoption("--update-golden")

    def check(path: Path, actual: str) -> None:
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            return
        if not path.exists():
            pytest.fail(f"golden file {path} is missing: run pytest --update-golden, review it")
        expected = path.read_text(encoding="utf-8")
        assert actual == expected, f"output differs from {path} (--update-golden rewrites it)"

    return check


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test from the repository root, so paths relative to it are stable in output."""
    monkeypatch.chdir(REPO)
    return REPO
