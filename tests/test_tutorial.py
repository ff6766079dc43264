"""docs/tutorial.md, run as a reader would: every `console` block's commands, in order, in a
copy of examples/tutorial/ (so `--fix --write` edits the copy), each output compared with the
one the tutorial shows; every `flow PATH` block must be the file at PATH, word for word; and
the page step 3 writes is opened in headless Chromium.

In a console block, `$ COMMAND` lines are commands (only `check`), the lines after one are its
output, `...` stands for any number of lines, and `[exit status N]` is the exit status.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import REPO, run_cli

TUTORIAL = REPO / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.M | re.S)


@dataclass
class Command:
    argv: list[str]
    output: list[str] = field(default_factory=list)
    status: int | None = None


def _blocks(kind: str) -> list[tuple[str, str]]:
    """(info after the language, body) of each block of `kind`."""
    return [(m.group(2).strip(), m.group(3)) for m in BLOCK.finditer(TUTORIAL.read_text())
            if m.group(1) == kind]


def _commands() -> list[Command]:
    commands: list[Command] = []
    for _, body in _blocks("console"):
        for line in body.splitlines():
            if line.startswith("$ "):
                commands.append(Command(shlex.split(line[2:])))
            elif (m := re.fullmatch(r"\[exit status (\d+)\]", line)):
                commands[-1].status = int(m.group(1))
            else:
                commands[-1].output.append(line)
    return commands


def _matches(expected: list[str], actual: list[str]) -> bool:
    """`expected` with each `...` line standing for any run of lines."""
    pattern = "".join(".*?" if line == "..." else re.escape(line + "\n") for line in expected)
    return re.fullmatch(pattern, "".join(line + "\n" for line in actual), re.S) is not None


def test_the_files_shown_are_the_files_shipped() -> None:
    shown = _blocks("flow")
    assert shown, "the tutorial shows its files"
    for path, body in shown:
        assert (REPO / path).read_text(encoding="utf-8") == body, path


def test_every_command_prints_what_the_tutorial_shows(tmp_path: Path, monkeypatch,
                                                      browser) -> None:
    shutil.copytree(REPO / "examples" / "tutorial", tmp_path / "examples" / "tutorial")
    monkeypatch.chdir(tmp_path)
    commands = _commands()
    assert len(commands) >= 6
    for command in commands:
        assert command.argv[0] == "check", command.argv
        assert command.status is not None, f"no exit status shown for {command.argv}"
        code, out, err = run_cli(command.argv[1:])
        assert err == "", err
        actual = out.splitlines()
        assert _matches(command.output, actual), (
            f"$ {shlex.join(command.argv)}\n--- shown:\n" + "\n".join(command.output)
            + "\n--- printed:\n" + out)
        assert code == command.status, command.argv
    # Step 3's page: the lanes and bands the tutorial names are there.
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((tmp_path / "driver_write.html").as_uri())
    assert page.get_attribute("html", "data-ready") == "1" and errors == []
    svg = page.locator("svg.swimlane")
    lanes = svg.locator("g.lane").evaluate_all("els => els.map(e => e.dataset.lane)")
    bands = svg.locator("g.band").evaluate_all("els => els.map(e => e.dataset.band)")
    assert lanes == ["driver", "app", "hardware"]
    assert bands == ["L1 buf colour 0", "L1 buf colour 1", "memory buf"]
    # The read missed the cache: it read memory.
    assert svg.locator("g.cell.stale").get_attribute("data-band") == "memory buf"
    assert svg.locator("g.step.wanted-write").get_attribute("data-row") == "10"
    page.screenshot(path=str(tmp_path / "driver_write.png"), full_page=True)


@pytest.mark.parametrize("text", ["kunmap_local", "flush_dcache_page"])
def test_the_tutorial_names_the_calls_it_is_about(text: str) -> None:
    assert text in TUTORIAL.read_text()
