"""The wheel carries everything `check` needs: built, installed into a fresh virtual
environment and run from outside the checkout, on the spec the README names."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from helpers import REPO


def test_wheel_installs_and_checks_from_outside_the_checkout(tmp_path: Path) -> None:
    dist, env, elsewhere = tmp_path / "dist", tmp_path / "env", tmp_path / "elsewhere"
    # Built from a copy without build/ and other leftovers of earlier builds, which setuptools
    # would put into the wheel whatever pyproject.toml says.
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
        ".ruff_cache", ".hypothesis"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(dist), str(source)],
        check=True, capture_output=True, text=True,
    )
    (wheel,) = dist.glob("flowcheck-*.whl")
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    # The dependencies come from the index (or pip's cache), as for a user.
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True,
                   capture_output=True, text=True)
    elsewhere.mkdir()
    spec = elsewhere / "set_bit_to_user.flow"
    shutil.copy(REPO / "specs" / "set_bit_to_user.flow", spec)
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [str(env / "bin" / "check"), "-q", spec.name, "--arch", "parisc,arm_v6"],
        cwd=elsewhere, capture_output=True, text=True, env=environ, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.endswith("8 checks: 8 as expected, 0 unexpected, 0 inconclusive\n")
    # The built-in arches and the grammar came from the installed package, not the checkout.
    where = subprocess.run(
        [str(python), "-c", "import checker, lark; print(checker.__file__)"],
        cwd=elsewhere, capture_output=True, text=True, env=environ, check=True,
    )
    assert str(env) in where.stdout
    # Every module of the package is in the wheel (a subpackage left out of pyproject's list
    # would install and then fail on the first run that needs it, as --fix once did).
    modules = sorted(
        ".".join(path.relative_to(REPO).with_suffix("").parts)
        for path in (REPO / "checker").rglob("*.py")
        if "__pycache__" not in path.parts and path.name != "__main__.py")
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)"
    imported = subprocess.run(
        [str(python), "-c", code, *(m.removesuffix(".__init__") for m in modules)],
        cwd=elsewhere, capture_output=True, text=True, env=environ, check=False)
    assert imported.returncode == 0, imported.stderr
