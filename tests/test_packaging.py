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
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(dist), str(REPO)],
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
