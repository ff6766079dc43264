"""Which checks a run makes: directory arguments, `--arch-scope`, `--arch expected`, and the
grid that shows them."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import REPO, run_cli

from checker.errors import FlowError
from checker.front.discover import expand_paths
from checker.front.load import load_files
from checker.front.selection import plan_checks
from checker.report.grid import WIDTH, render_grid

# The same names in two files: an arch `toy` each (VIPT with two colours in one, PIPT in
# the other) and a protocol `p` each, expecting what its own toy gives.
TOY_VIPT = """
arch toy {
    cache L1 vipt colours 2 write_back
    fn kmap(p: page) -> mapping { return map p colour linear }
}
protocol p {
    page pg
    mapping u = user(pg) colour 1
    start u clean
    thread kernel {
        k = kmap(pg)
        write k[0]
        signal done
    }
    thread user {
        wait done
        read u[0]
    }
    expect stale_read on toy
}
"""
TOY_PIPT = TOY_VIPT.replace("vipt colours 2", "pipt").replace(
    "expect stale_read on toy", "expect safe on toy")




@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "b").mkdir()
    (tmp_path / "a.flow").write_text(TOY_VIPT)
    (tmp_path / "b" / "c.flow").write_text(TOY_PIPT)
    (tmp_path / "z.flow").write_text(TOY_PIPT)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.flow").write_text("not flow at all")
    (tmp_path / "notes.txt").write_text("not flow at all")
    return tmp_path


def test_a_directory_stands_for_its_flow_files_in_a_stable_order(tree: Path) -> None:
    files, directory = expand_paths([str(tree)])
    assert directory
    assert files == [str(tree / "a.flow"), str(tree / "b" / "c.flow"), str(tree / "z.flow")]
    # A file also named on its own is loaded once; a file alone is no directory.
    files, directory = expand_paths([str(tree / "z.flow"), str(tree)])
    assert files[0] == str(tree / "z.flow") and len(files) == 3 and directory
    assert expand_paths([str(tree / "a.flow")]) == ([str(tree / "a.flow")], False)


def test_the_builtin_arch_files_under_a_directory_are_not_loaded_twice() -> None:
    files, _ = expand_paths([str(REPO / "specs")])
    assert files and not any("/specs/arch/" in f for f in files)
    assert str(REPO / "specs" / "set_bit_to_user.flow") in files


def test_a_directory_without_flow_files_is_an_input_error(tmp_path: Path) -> None:
    code, _, err = run_cli([str(tmp_path)])
    assert code == 2
    assert f"no .flow file under '{tmp_path}'" in err


def test_each_file_keeps_its_own_arches_under_a_directory(tree: Path) -> None:
    code, out, _ = run_cli(["-q", "--arch", "toy", str(tree)])
    assert code == 0, out
    assert out.endswith("3 checks: 3 as expected, 0 unexpected, 0 inconclusive\n")
    library = load_files(expand_paths([str(tree)])[0], scope="file").library
    assert sorted(library.user_arches) == [f"toy@{tree / 'a.flow'}",
                                           f"toy@{tree / 'b' / 'c.flow'}",
                                           f"toy@{tree / 'z.flow'}"]
    planned = plan_checks(library, "toy")
    # Each protocol on its own file's toy, and only on it.
    assert [(library.protocols[i].span.path, library.arches[k].span.path) for i, k in planned] \
        == [(f, f) for f in expand_paths([str(tree)])[0]]


def test_run_scope_makes_the_files_one_namespace(tree: Path) -> None:
    code, _, err = run_cli(["-q", "--arch-scope", "run", str(tree)])
    assert code == 2
    assert "arch 'toy' is already defined" in err


def test_file_scope_on_files_named_one_by_one(tree: Path) -> None:
    code, _, _ = run_cli(["-q", "--arch", "toy", "--arch-scope", "file",
                         str(tree / "a.flow"), str(tree / "z.flow")])
    assert code == 0


def test_an_expect_on_another_files_arch_is_an_error_in_file_scope(tmp_path: Path) -> None:
    (tmp_path / "arch.flow").write_text(TOY_VIPT.split("protocol")[0])
    (tmp_path / "user.flow").write_text(
        "protocol q {\n    page pg\n    thread t {\n        k = kmap(pg)\n"
        "        write k[0]\n    }\n    expect safe on toy\n}\n")
    code, _, _ = run_cli(["-q", "--arch", "toy", str(tmp_path / "arch.flow"),
                         str(tmp_path / "user.flow")])
    assert code == 0  # run scope: the contract's rule for files
    code, _, err = run_cli(["-q", str(tmp_path)])
    assert code == 2
    assert "unknown arch 'toy'" in err


def test_arch_expected_checks_the_arches_a_protocol_names(tmp_path: Path) -> None:
    text = TOY_VIPT.replace("expect stale_read on toy",
                            "expect stale_read on toy\n    expect safe on x86")
    (tmp_path / "t.flow").write_text(text)
    library = load_files([str(tmp_path / "t.flow")]).library
    names = [library.arches[k].name for _, k in plan_checks(library, "expected")]
    assert names == ["x86", "toy"]
    code, out, _ = run_cli(["-q", "--arch", "expected", str(tmp_path / "t.flow")])
    assert code == 0 and "2 checks: 2 as expected" in out


def test_unknown_arch_names_every_known_one(tree: Path) -> None:
    library = load_files(expand_paths([str(tree)])[0], scope="file").library
    with pytest.raises(FlowError, match="unknown arch 'nope'"):
        plan_checks(library, "nope")


# ---------------------------------------------------------------------------------------------
# The grid


def test_the_grid_fits_in_80_columns_and_marks_what_differs(tree: Path) -> None:
    (tree / "z.flow").write_text(TOY_PIPT.replace("expect safe on toy", "expect deadlock on toy"))
    code, out, _ = run_cli(["-q", str(tree), "--arch", "toy,x86,arm_v6"])
    assert code == 1
    grid = out.split("\n\n  S stale_read")[0].splitlines()
    assert all(len(line) <= WIDTH for line in out.splitlines())
    rows = {line.split()[0]: line.split()[1:] for line in grid if line.startswith("  p")}
    assert len(rows) == 1  # three files, each row under its file's line
    file_lines = [line for line in grid if line.endswith(".flow")]
    assert file_lines == [str(tree / "a.flow"), str(tree / "b" / "c.flow"), str(tree / "z.flow")]
    cells = [line.split()[1:] for line in grid if line.startswith("  p")]
    # The first column is toy. VIPT toy: a stale read, as expected; PIPT toy: safe; the last
    # file expects a deadlock its protocol does not have: `.!`.
    assert cells[0][0] == "S" and cells[1][0] == "." and cells[2][0] == ".!"
    assert "Not as expected:" in out


def test_the_grid_wraps_many_arches_into_blocks() -> None:
    code, out, _ = run_cli(["-q", str(REPO / "specs" / "set_bit_to_user.flow")])
    assert code == 0
    lines = out.splitlines()
    assert all(len(line) <= WIDTH for line in lines)
    rows = [line for line in lines if line.startswith("set_bit_to_user ")]
    assert len(rows) >= 2  # the 22 arches do not fit beside the names in one block
    cells = sum(len(row.split()) - 1 for row in rows)
    assert cells == 22


def test_grid_cells() -> None:
    assert render_grid([]) == []


def test_the_grid_samples_in_the_readme_and_docs_are_true(monkeypatch) -> None:
    """README.md quotes the whole -q output of the shipped spec; docs/ci.md its first rows
    (up to `...`): both as the current code prints them."""
    monkeypatch.chdir(REPO)  # the path as the samples show it
    code, out, _ = run_cli(["-q", "specs/set_bit_to_user.flow"])
    assert code == 0
    readme = (REPO / "README.md").read_text()
    block = readme.split("prints only this):\n\n```\n", 1)[1].split("```", 1)[0]
    assert block == out
    docs = (REPO / "docs" / "ci.md").read_text()
    sample = docs.split("From `check -q specs/set_bit_to_user.flow`:\n\n```\n", 1)[1]
    head = sample.split("...\n", 1)[0]
    assert out.startswith(head)
    tail = sample.split("...\n", 1)[1].split("```", 1)[0]
    assert out.endswith(tail)
