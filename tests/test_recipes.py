"""The CI recipes of docs/ci.md, run as a user would: the pre-commit hook against this
repository, the Makefile targets, and the check step of the GitHub Actions workflow (the
steps that need GitHub itself, checkout and upload, are held to their inputs only)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from helpers import REPO

SARIF_SCHEMA = json.loads((REPO / "tests" / "schemas" / "sarif-subset.schema.json").read_text())
SPEC = REPO / "specs" / "set_bit_to_user.flow"
BIN = str(Path(sys.executable).parent)  # where `check` is installed beside this Python

# Safe on every arch (one alias, one thread): the hook checks it on its own arch and on
# every built-in one.
GOOD = """
arch toy {
    cache L1 vipt colours 2 write_back
    fn kmap(p: page) -> mapping { return map p colour linear }
}
protocol p {
    page pg
    thread kernel {
        k = kmap(pg)
        write k[0]
        read k[0]
    }
    expect safe on toy
}
"""


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PATH": BIN + os.pathsep + os.environ.get("PATH", ""), **extra}


def _valid_sarif(path: Path) -> None:
    jsonschema.validate(json.loads(path.read_text()), SARIF_SCHEMA,
                        format_checker=jsonschema.FormatChecker())


@pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")
def test_the_pre_commit_hook_checks_changed_flow_files(tmp_path: Path) -> None:
    """pre-commit installs flowcheck from this repository (as committed) into its own
    environment and runs the hook on the files given."""
    user = tmp_path / "user"
    user.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=user, check=True)
    (user / "good.flow").write_text(GOOD)
    (user / "bad.flow").write_text(GOOD.replace("expect safe on toy", "expect lost_write on toy"))
    subprocess.run(["git", "add", "."], cwd=user, check=True)
    env = _env(PRE_COMMIT_HOME=str(tmp_path / "cache"))

    def hook(*files: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "flowcheck",
             "--files", *files], cwd=user, env=env, capture_output=True, text=True)

    passed = hook("good.flow")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    failed = hook("good.flow", "bad.flow")
    assert failed.returncode == 1
    assert "UNEXPECTED (expected lost_write)" in failed.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_the_makefile_targets(tmp_path: Path) -> None:
    make = ["make", "-s", "-C", str(tmp_path), "-f", str(REPO / "examples" / "ci" / "Makefile"),
            f"PROTOCOLS={SPEC}", "JOBS=1"]
    done = subprocess.run([*make, "check-flow"], env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "88 checks: 88 as expected" in done.stdout
    _valid_sarif(tmp_path / "flowcheck.sarif")
    assert (tmp_path / "flowcheck.xml").read_text().startswith("<?xml")
    assert subprocess.run([*make, "flow-baseline"], env=_env()).returncode == 0
    changes = subprocess.run([*make, "check-flow-changes"], env=_env(), capture_output=True,
                             text=True)
    assert changes.returncode == 0
    assert changes.stdout.startswith("no change against flowcheck-baseline.json")


def test_the_github_workflow_check_step(tmp_path: Path) -> None:
    workflow = yaml.safe_load((REPO / "examples" / "ci" / "github-actions.yml").read_text())
    assert workflow["permissions"]["security-events"] == "write"
    steps = workflow["jobs"]["flowcheck"]["steps"]
    check = next(s for s in steps if s.get("name") == "Check the protocols")
    upload = next(s for s in steps if "upload-sarif" in s.get("uses", ""))
    assert upload["if"] == "always()"  # the findings are uploaded when the check fails
    assert f"--sarif {upload['with']['sarif_file']}" in check["run"]
    done = subprocess.run(["bash", "-c", check["run"]], cwd=tmp_path,
                          env=_env(PROTOCOLS=str(SPEC)), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    _valid_sarif(tmp_path / upload["with"]["sarif_file"])
