"""Shared test fixtures: golden files, compared exactly and rewritten only on request.

`pytest --update-golden` rewrites every golden file a test compares against from the actual
output; review the diff before committing it.
"""

from __future__ import annotations

import os
import shutil
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


# -- a headless browser, for the HTML report's tests (test_html.py, test_tutorial.py) --------


def _chromium() -> str | None:
    """The browser binary: $FLOWCHECK_CHROMIUM, Debian's, or one on PATH."""
    for candidate in (os.environ.get("FLOWCHECK_CHROMIUM"), "/usr/lib/chromium/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _no_browser(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser tests: {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright, once per test module."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("playwright is not installed (pip install '.[test]')")
    binary = _chromium()
    if binary is None:
        _no_browser("no chromium (apt-get install chromium)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=binary, args=["--no-sandbox"])
        yield launched
        launched.close()


