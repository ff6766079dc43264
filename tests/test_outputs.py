"""The machine-readable reports: JSON (against its schema), SARIF 2.1.0, JUnit XML, the
report files written beside the text, and --baseline. Their content is held against the text
report of the same run; input errors and an empty file give a document of their own, with
exit status 2, in every format."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from helpers import REPO, run_cli

SCHEMAS = Path(__file__).resolve().parent / "schemas"
REPORT_SCHEMA = json.loads((SCHEMAS / "report.schema.json").read_text())
SARIF_SCHEMA = json.loads((SCHEMAS / "sarif-subset.schema.json").read_text())
SPEC = str(REPO / "specs" / "set_bit_to_user.flow")

# Two threads, a stale read on vipt2 (the protocol expects safe: unexpected), a redundant
# flush on pipt (expected), and a lost write (expected) on vipt2 of the second protocol. (The
# reader's mapping starts clean: a dirty start line would also give a lost write.)
TOY = """
arch vipt2 {
    cache L1 vipt colours 2 write_back
    fn kmap(p: page) -> mapping { return map p colour linear }
    fn flush_dcache_page(p: page) { flush kernel(p) }
}
arch pipt extends vipt2 {
    cache L1 pipt write_back
}
protocol reader {
    page pg
    mapping u = user(pg) colour 1
    start u clean
    thread kernel {
        k = kmap(pg)
        write k[0]
        flush_dcache_page(pg)
        signal done
    }
    thread user {
        wait done
        read u[0]
    }
    expect safe on vipt2
    expect redundant_flush on pipt
}
protocol writer {
    page pg
    mapping u = user(pg) colour 1
    thread kernel {
        k = kmap(pg)
        write k[0]
        signal done
    }
    thread user {
        wait done
        write u[0]
    }
    expect lost_write on vipt2
}
"""


TOY_ARCHES = ["--arch", "vipt2,pipt"]




@pytest.fixture
def toy(tmp_path: Path) -> str:
    path = tmp_path / "toy.flow"
    path.write_text(TOY)
    return str(path)


def _validate(document: dict, schema: dict) -> None:
    jsonschema.validate(document, schema, format_checker=jsonschema.FormatChecker())


# ---------------------------------------------------------------------------------------------
# JSON


def test_json_report_meets_its_schema(toy: str) -> None:
    code, out, _ = run_cli([toy, *TOY_ARCHES, "--format", "json"])
    document = json.loads(out)
    _validate(document, REPORT_SCHEMA)
    assert code == 1
    reader = next(c for c in document["checks"]
                  if c["protocol"] == "reader" and c["arch"] == "vipt2")
    assert reader["file"] == toy and reader["status"] == "unexpected"
    steps = reader["traces"]["stale_read"]["steps"]
    # The structured effects say what the sentences say.
    assert any(e == {"effect": "write", "word": "pg[0]", "value": 1}
               for s in steps for e in s["effects"])
    assert all(len(s["effects"]) == len(s["changes"]) for s in steps)
    redundant = next(c for c in document["checks"]
                     if c["protocol"] == "reader" and c["arch"] == "pipt")["redundant"]
    assert [r["statement"] for r in redundant] == ["flush_dcache_page(pg)"]
    assert redundant[0]["cost"] is None  # the toy arch prices nothing
    assert "seconds" not in reader


def test_json_shipped_spec_meets_its_schema_with_costs_and_timing() -> None:
    code, out, _ = run_cli([SPEC, "--arch", "parisc,arm_v6", "--format", "json", "--timing"])
    assert code == 0
    document = json.loads(out)
    _validate(document, REPORT_SCHEMA)
    assert all(c["seconds"] >= 0 for c in document["checks"])
    costs = [r["cost"] for c in document["checks"] for r in c.get("redundant", [])]
    assert costs and all(isinstance(c, int) and c > 0 for c in costs)  # parisc prices flushes


def test_json_is_the_same_bytes_without_timing(toy: str) -> None:
    argv = [toy, *TOY_ARCHES, "--format", "json"]
    assert run_cli(argv)[1] == run_cli(argv)[1]


# ---------------------------------------------------------------------------------------------
# Input errors and empty files, in every format


@pytest.mark.parametrize("text", ["", "// only a comment\n", "protocol p {\n  page pg\n"])
@pytest.mark.parametrize("form", ["text", "json", "sarif", "junit"])
def test_input_errors_in_every_format(tmp_path: Path, text: str, form: str) -> None:
    path = tmp_path / "bad.flow"
    path.write_text(text)
    code, out, err = run_cli([str(path), "--format", form])
    assert code == 2
    assert f"{path}:" in err and "error:" in err
    if form == "json":
        document = json.loads(out)
        _validate(document, REPORT_SCHEMA)
        assert document["errors"][0]["at"].startswith(f"{path}:")
    elif form == "sarif":
        document = json.loads(out)
        _validate(document, SARIF_SCHEMA)
        run_ = document["runs"][0]
        assert run_["results"] == []
        assert run_["invocations"][0]["executionSuccessful"] is False
        note = run_["invocations"][0]["toolExecutionNotifications"][0]
        assert note["level"] == "error"
        assert note["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
    elif form == "junit":
        root = ET.fromstring(out)
        assert root.get("errors") == "1"
        assert root.find("testsuite/testcase/error").get("type") == "input"
    else:
        assert out == ""


# ---------------------------------------------------------------------------------------------
# SARIF


def test_sarif_meets_the_standard_and_matches_the_text(toy: str) -> None:
    code, out, _ = run_cli([toy, *TOY_ARCHES, "--format", "sarif"])
    assert code == 1
    document = json.loads(out)
    _validate(document, SARIF_SCHEMA)
    run_ = document["runs"][0]
    rule_ids = {rule["id"] for rule in run_["tool"]["driver"]["rules"]}
    results = run_["results"]
    assert {r["ruleId"] for r in results} <= rule_ids
    errors = [r for r in results if r["level"] == "error"]
    # Exactly the unexpected finding: reader's stale read on vipt2 (writer's are expected).
    assert [(r["ruleId"], r["properties"]) for r in errors] == [
        ("stale_read", {"protocol": "reader", "arch": "vipt2"})]
    stale = errors[0]
    region = stale["locations"][0]["physicalLocation"]["region"]
    assert TOY.splitlines()[region["startLine"] - 1].strip() == "read u[0]"
    flows = stale["codeFlows"][0]["threadFlows"]
    assert [f["id"] for f in flows][:2] == ["kernel", "user"]
    steps = sorted(loc["executionOrder"] for f in flows for loc in f["locations"])
    assert steps == list(range(1, len(steps) + 1))
    # The same execution as the text report's trace: one location per numbered step.
    _, text, _ = run_cli([toy, "--arch", "vipt2"])
    trace = text.split("-- stale_read: a shortest execution", 1)[1].split("\n\n", 1)[0]
    numbered = [line for line in trace.splitlines() if line[:4].strip().rstrip(".").isdigit()]
    assert len(numbered) == len(steps)
    # The expected redundant flush is a note; nothing is reported for expected findings.
    notes = [r for r in results if r["ruleId"] == "redundant_flush"]
    assert [n["level"] for n in notes] == ["note"]


def test_sarif_reports_missing_and_inconclusive(tmp_path: Path) -> None:
    path = tmp_path / "t.flow"
    path.write_text(TOY.replace("expect safe on vipt2", "expect safe on vipt2\n"
                                "    expect deadlock on pipt").replace(
                                    "expect redundant_flush on pipt", ""))
    _, out, _ = run_cli([str(path), "--format", "sarif", "--arch", "pipt"])
    results = json.loads(out)["runs"][0]["results"]
    missing = [r for r in results if r["ruleId"] == "missing_finding"]
    assert len(missing) == 1
    line = missing[0]["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert "expect deadlock on pipt" in path.read_text().splitlines()[line - 1]
    unexpected_redundant = [r for r in results if r["ruleId"] == "redundant_flush"]
    assert [r["level"] for r in unexpected_redundant] == ["warning"]
    _, out, _ = run_cli([SPEC, "--format", "sarif", "--arch", "nios2", "--max-states", "5"])
    results = json.loads(out)["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"inconclusive"}


# ---------------------------------------------------------------------------------------------
# JUnit


def test_junit_has_a_testcase_per_check(toy: str) -> None:
    code, out, _ = run_cli([toy, *TOY_ARCHES, "--format", "junit"])
    assert code == 1
    root = ET.fromstring(out)
    cases = root.findall("testsuite/testcase")
    assert len(cases) == 4 and root.get("tests") == "4"
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["reader on vipt2"]
    text = root.find("testsuite/testcase/failure").text
    assert "-- stale_read: a shortest execution" in text
    _, out, _ = run_cli([SPEC, "--format", "junit", "--arch", "nios2", "--max-states", "5"])
    root = ET.fromstring(out)
    assert root.get("errors") == "4"
    assert {e.get("type") for e in root.iter("error")} == {"inconclusive"}


# ---------------------------------------------------------------------------------------------
# Report files beside the text


def test_report_files_beside_the_text(toy: str, tmp_path: Path) -> None:
    sarif, junit, report = tmp_path / "r.sarif", tmp_path / "r.xml", tmp_path / "r.json"
    code, out, _ = run_cli([toy, *TOY_ARCHES, "--sarif", str(sarif), "--junit", str(junit),
                           "--json", str(report)])
    assert code == 1
    assert out == run_cli([toy, *TOY_ARCHES])[1]  # the text is as without the files
    def document(form: str) -> str:
        return run_cli([toy, *TOY_ARCHES, "--format", form])[1]

    assert json.loads(sarif.read_text()) == json.loads(document("sarif"))
    assert junit.read_text() == document("junit")
    assert json.loads(report.read_text()) == json.loads(document("json"))


def test_report_file_that_cannot_be_written_is_exit_5(toy: str, tmp_path: Path) -> None:
    from checker.cli import main_status

    nowhere = str(tmp_path / "no" / "such" / "dir.sarif")
    assert main_status([toy, *TOY_ARCHES, "-q", "--sarif", nowhere]) == 5


# ---------------------------------------------------------------------------------------------
# --baseline


def test_baseline_reports_only_changes(toy: str, tmp_path: Path) -> None:
    saved = tmp_path / "before.json"
    run_cli([toy, *TOY_ARCHES, "--json", str(saved)])
    code, out, _ = run_cli([toy, *TOY_ARCHES, "--baseline", str(saved)])
    assert (code, out) == (0, f"no change against {saved}\n")
    # The patch: the reader's kernel drops its flush; the writer is gone.
    patched = TOY.replace("        flush_dcache_page(pg)\n", "")
    patched = patched[: patched.index("protocol writer")]
    Path(toy).write_text(patched)
    code, out, _ = run_cli([toy, *TOY_ARCHES, "--baseline", str(saved)])
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"4 changes against {saved}:"
    assert f"{toy}: reader on pipt: finding gone: redundant_flush" in lines
    assert f"{toy}: writer on vipt2: check gone (was: lost_write)" in lines
    code, out, _ = run_cli([toy, *TOY_ARCHES, "--baseline", str(saved), "--format", "json"])
    document = json.loads(out)
    _validate(document, REPORT_SCHEMA)
    assert len(document["changes"]) == 4


@pytest.mark.parametrize("text", ["not json", "[]", '{"checks": [{"protocol": "p"}]}'])
def test_a_baseline_that_is_no_report_is_an_input_error(toy: str, tmp_path: Path,
                                                       text: str) -> None:
    saved = tmp_path / "b.json"
    saved.write_text(text)
    code, _, err = run_cli([toy, *TOY_ARCHES, "--baseline", str(saved)])
    assert code == 2
    assert f"baseline '{saved}'" in err
