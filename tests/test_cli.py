"""The command's exit statuses (flow-language.md section 5) and its messages."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

from checker.cli import run

WRONG_EXPECT = """
arch vipt2 {
    cache L1 vipt colours 2 write_back
    fn kmap(p: page) -> mapping { return map p colour linear }
}
protocol p {
    page pg
    mapping u = user(pg) colour 1
    thread kernel {
        k = kmap(pg)
        write k[0]
        signal done
    }
    thread user {
        wait done
        read u[0]
    }
    expect safe on vipt2
}
"""


def status(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(argv, out, err)
    return code, out.getvalue(), err.getvalue()


def test_all_expected_is_0(in_repo: Path) -> None:
    code, out, _ = status(["-q", "specs/set_bit_to_user.flow", "--arch", "x86,arm_v6"])
    assert code == 0
    assert out.endswith("0 unexpected, 0 inconclusive\n")


def test_unexpected_finding_is_1(tmp_path: Path) -> None:
    path = tmp_path / "wrong.flow"
    path.write_text(WRONG_EXPECT)
    code, out, _ = status(["-q", str(path), "--arch", "vipt2"])
    assert code == 1
    assert "UNEXPECTED (expected safe)" in out


def test_syntax_error_is_2_with_location(tmp_path: Path) -> None:
    path = tmp_path / "bad.flow"
    path.write_text("protocol p {\n    thread t {\n        read\n    }\n}\n")
    code, _, err = status([str(path)])
    assert code == 2
    assert err.startswith(f"{path}:3:")
    assert "error:" in err and "^" in err


def test_missing_file_is_2() -> None:
    code, _, err = status(["no/such/file.flow"])
    assert code == 2
    assert "no/such/file.flow" in err and "error:" in err


def test_unknown_arch_is_2(in_repo: Path) -> None:
    code, _, err = status(["specs/set_bit_to_user.flow", "--arch", "vax"])
    assert code == 2
    assert "unknown arch 'vax'" in err


def test_state_limit_is_inconclusive_3(in_repo: Path) -> None:
    code, out, _ = status(["-q", "specs/set_bit_to_user.flow", "--arch", "arm_v6",
                           "--engine", "explicit", "--max-states", "5"])
    assert code == 3
    assert "INCONCLUSIVE" in out


def test_module_entry_point_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "checker", "-q", "specs/set_bit_to_user.flow", "--arch", "x86"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_closed_pipe_is_not_a_traceback() -> None:
    """`check ... | head -1`: the reader goes away; the command stops quietly (exit 141)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "checker", "specs/set_bit_to_user.flow", "--arch", "arm_v6"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait() in (0, 141)  # 0 if all the output fit in the pipe before it closed
    assert "Traceback" not in stderr


def test_a_check_out_of_time_is_inconclusive_and_the_run_goes_on(in_repo: Path) -> None:
    for engine in ("explicit", "z3"):
        code, out, _ = status(["specs/set_bit_to_user.flow", "--arch", "x86,arm_v6",
                               "--timeout", "1e-9", "--engine", engine])
        assert code == 3, engine
        assert out.count("inconclusive (") == 8  # every check reported, none called safe
        assert out.count("out of time") == 16  # the summary says why, too
        assert "8 checks: 0 as expected, 0 unexpected, 8 inconclusive" in out


def test_limits_must_be_finite_and_above_zero(in_repo: Path) -> None:
    for option, value in [("--timeout", "0"), ("--timeout", "-1"), ("--timeout", "nan"),
                          ("--timeout", "inf"), ("--max-states", "0"), ("--max-memory", "0"),
                          ("--max-states", "x")]:
        proc = subprocess.run([sys.executable, "-m", "checker", "specs/set_bit_to_user.flow",
                               option, value], cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 2, (option, value)
        assert f"argument {option}:" in proc.stderr and "Traceback" not in proc.stderr
        assert not proc.stdout


def test_a_state_limit_says_why_with_q(in_repo: Path) -> None:
    code, out, _ = status(["-q", "specs/set_bit_to_user.flow", "--arch", "arm_v6",
                           "--max-states", "5"])
    assert code == 3
    assert out.count("INCONCLUSIVE: more than 5 states (--max-states)") == 4


def test_help_shows_the_limits_and_their_defaults() -> None:
    proc = subprocess.run([sys.executable, "-m", "checker", "--help"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert "--max-states N" in text and "(default: 10000000)" in text
    assert "--max-memory MB" in text and "--timeout SECONDS" in text


def test_a_generous_timeout_changes_nothing(in_repo: Path) -> None:
    code, out, _ = status(["-q", "specs/set_bit_to_user.flow", "--arch", "arm_v6",
                           "--timeout", "60"])
    assert code == 0
    assert out.endswith("4 checks: 4 as expected, 0 unexpected, 0 inconclusive\n")


def test_list_arches_names_every_arch_with_version_and_geometry() -> None:
    code, out, err = status(["--list-arches"])
    assert code == 0 and not err
    from checker.front.load import load_files

    library = load_files([]).library
    for name, arch in library.arches.items():
        assert f"{name}  ({arch.kernel})" in out
        assert arch.kernel, f"{name} states no kernel version"
    assert "L1 VIPT 4 colours write-back; speculative fill through TLB entries" in out


def test_list_arches_includes_the_arches_of_given_files(tmp_path: Path) -> None:
    path = tmp_path / "mine.flow"
    path.write_text(WRONG_EXPECT, encoding="utf-8")
    code, out, _ = status([str(path), "--list-arches", "--arch", "vipt2"])
    assert code == 0
    assert out.splitlines()[0] == "vipt2  (kernel version not given)  [mine.flow]"
    assert "L1 VIPT 2 colours write-back" in out


def test_show_arch_quotes_inherited_functions_with_their_citations() -> None:
    code, out, _ = status(["--show-arch", "parisc"])
    assert code == 0
    assert out.startswith("arch parisc extends generic\n")
    # An override is quoted from parisc.flow with the comment that cites the kernel ...
    assert "// defined in parisc, <builtin>/parisc.flow:" in out
    assert "flush_kernel_dcache_page_addr" in out
    # ... and an inherited function from generic.flow, body and citation.
    at = out.index("// inherited from generic, <builtin>/generic.flow:")
    assert "include/linux/mm.h page_address" in out[at:]
    assert "on user_unmap(p: page) { flush_cache_range(p) }" in out


def test_show_arch_unknown_name_is_an_input_error() -> None:
    code, out, err = status(["--show-arch", "pa_risc"])
    assert code == 2 and not out
    assert "unknown arch 'pa_risc'" in err


def test_no_file_and_nothing_to_list_is_a_usage_error(capsys) -> None:
    import pytest

    with pytest.raises(SystemExit) as exit_info:
        run([])
    assert exit_info.value.code == 2
    assert "give at least one FILE" in capsys.readouterr().err


def test_show_arch_gives_every_function_of_every_builtin_arch_a_citation() -> None:
    """Every fn and hook --show-arch prints comes with the comment that cites the kernel
    (its own, or that of the group of functions written together with it)."""
    from checker.front.load import load_files
    from checker.report.arches import show_arch

    loaded = load_files([])
    for name, arch in loaded.library.arches.items():
        text = "\n".join(show_arch(loaded.library, name, loaded.sources))
        entries = text.split("\n// ")[1:]
        assert len(entries) == len(arch.functions) + len(arch.hooks)
        for entry in entries:
            body = entry.splitlines()[1:]
            assert any(row.strip().startswith("//") for row in body), f"{name}: {entry[:60]}"


def test_a_long_check_shows_its_progress_on_a_terminal_and_erases_it() -> None:
    """stderr on a pseudo-terminal: the progress line appears after about a second and is
    erased; stdout (a pipe) is exactly what it is without a terminal."""
    import os
    import pty
    import select

    # pa8800 (two levels) is the slowest arch on this protocol: 60,000 states take seconds.
    argv = [sys.executable, "-m", "checker", "-q", "bench/review.flow", "--arch", "pa8800",
            "--max-states", "60000"]
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    seen = b""
    while select.select([controller], [], [], 120)[0]:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        seen += chunk
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.wait()
    os.close(controller)
    assert b"review_memcpy_to_shared_file on pa8800: " in seen and b" states, " in seen
    assert seen.endswith(b"\r\x1b[K")  # erased at the end of the check
    piped = subprocess.run(argv, cwd=REPO, capture_output=True)
    assert out == piped.stdout and piped.stderr == b""


def _nios2_expects_safe(tmp_path: Path) -> Path:
    """The shipped spec with its nios2 expectations taken out: nios2 then expects safe."""
    text = (REPO / "specs/set_bit_to_user.flow").read_text()
    path = tmp_path / "spec.flow"
    path.write_text(text.replace("expect stale_read, lost_write on sh4, nios2",
                                 "expect stale_read, lost_write on sh4"))
    return path


def test_a_finding_made_before_a_limit_is_reported_and_fails_the_run(tmp_path: Path) -> None:
    # At 100 states the quiescent protocol on nios2 has found a stale read and a lost write
    # but not finished: the findings are shown with their traces, and they are unexpected.
    args = [str(_nios2_expects_safe(tmp_path)), "--arch", "nios2", "--max-states", "100"]
    code, out, _ = status(args)
    assert code == 1
    assert ("== set_bit_to_user_quiescent on nios2: lost_write, stale_read, then inconclusive "
            "(more than 100 states (--max-states))") in out
    assert "-- stale_read: a shortest execution" in out
    after = out.split("Not as expected:\n", 1)[1]
    summary = [" ".join(line.split()) for line in after.splitlines()
               if line.startswith("set_bit_to_user_quiescent ")]
    assert summary == ["set_bit_to_user_quiescent nios2 lost_write, stale_read, ? UNEXPECTED "
                       "(expected safe; then INCONCLUSIVE: more than 100 states (--max-states))"]
    code, out, _ = status([*args, "--format", "json"])
    assert code == 1
    document = json.loads(out)
    check = next(c for c in document["checks"] if c["protocol"] == "set_bit_to_user_quiescent")
    assert check["complete"] is False and check["status"] == "unexpected"
    assert check["found"] == ["lost_write", "stale_read"]
    assert set(check["traces"]) == {"lost_write", "stale_read"}
    assert document["summary"]["unexpected"] >= 1


def test_expected_findings_before_a_limit_leave_the_check_inconclusive(in_repo: Path) -> None:
    args = ["specs/set_bit_to_user.flow", "--arch", "nios2", "--max-states", "100",
            "--format", "json"]
    code, out, _ = status(args)
    assert code == 3
    check = next(c for c in json.loads(out)["checks"]
                 if c["protocol"] == "set_bit_to_user_quiescent")
    assert check["status"] == "inconclusive" and check["found"] == ["lost_write", "stale_read"]


def test_an_unexpected_exception_is_4_with_one_line_and_no_traceback(monkeypatch, capsys):
    from checker import cli

    def broken(argv, out=None, err=None):
        raise KeyError("a bug")

    monkeypatch.setattr(cli, "run", broken)
    monkeypatch.delenv("FLOWCHECK_DEBUG", raising=False)
    assert cli.main_status(["x.flow"]) == 4
    err = capsys.readouterr().err
    assert "check: internal error: KeyError: 'a bug'" in err
    assert "please report it" in err and "Traceback" not in err
    monkeypatch.setenv("FLOWCHECK_DEBUG", "1")
    assert cli.main_status(["x.flow"]) == 4
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.parametrize("redirect", ["> /dev/full", ">&-"])
@pytest.mark.parametrize("args", [["-q"], ["--format", "json"], ["--help"]])
def test_output_that_cannot_be_written_is_5_with_one_line(redirect, args) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    command = " ".join([sys.executable, "-m", "checker", "specs/set_bit_to_user.flow",
                        "--arch", "x86", *args])
    proc = subprocess.run(f"{command} {redirect}", shell=True, cwd=REPO, capture_output=True,
                          text=True)
    assert proc.returncode == 5, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    assert proc.stderr.startswith("check: error: ")


def test_an_absurd_timeout_is_an_input_error() -> None:
    for value in ("1e308", "1000001"):
        proc = subprocess.run([sys.executable, "-m", "checker", "specs/set_bit_to_user.flow",
                               "--timeout", value], cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 2
        assert "argument --timeout:" in proc.stderr and "Traceback" not in proc.stderr


# ---------------------------------------------------------------------------------------------
# Input errors and warnings, as a CI sees them


def test_an_empty_file_is_2(tmp_path: Path) -> None:
    path = tmp_path / "empty.flow"
    path.write_text("")
    code, out, err = status([str(path)])
    assert (code, out) == (2, "")
    message = "no protocol and no arch in this file: is it empty, or cut short?"
    assert err == f"{path}:1:1: error: {message}\n"


def test_an_input_error_in_json_is_a_json_document_too(tmp_path: Path) -> None:
    path = tmp_path / "bad.flow"
    path.write_text("protocol p {\n    thread t { read a; read b }\n}\n")
    code, out, err = status([str(path), "--format", "json"])
    assert code == 2
    assert err.count(": error: ") == 2
    document = json.loads(out)
    assert document == {
        "errors": [
            {"at": f"{path}:2:21", "message": "unknown mapping 'a'", "notes": []},
            {"at": f"{path}:2:29", "message": "unknown mapping 'b'", "notes": []},
        ],
        "errors_not_shown": 0,
        "warnings": [],
    }
    code, out, _ = status(["no/such.flow", "--format", "json"])
    assert code == 2
    assert json.loads(out)["errors"][0]["at"] is None


def test_a_call_error_on_every_arch_is_reported_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.flow"
    path.write_text("protocol p {\n    page g\n    thread t { flush_cache_mm(g); kmapp(g) }\n}\n")
    code, _, err = status([str(path), "--arch", "x86,parisc"])
    assert code == 2
    assert err.count(": error: ") == 1  # the first error of the protocol, once for both arches
    assert "'flush_cache_mm' is a kernel function that flowcheck does not model" in err


def test_warnings_go_to_stderr_and_leave_the_exit_status_alone(tmp_path: Path) -> None:
    path = tmp_path / "w.flow"
    path.write_text(
        "protocol p {\n    page g\n    mapping u = user(g) colour 6\n"
        "    thread t { read u; wait never }\n    expect deadlock on parisc, x86\n}\n"
    )
    code, out, err = status(["-q", str(path), "--arch", "parisc,x86"])
    assert code == 0
    assert "warning" not in out
    assert err.count(": warning: ") == 2  # the wait once for both arches; x86 has no colours
    assert f"{path}:4:24: warning: nothing signals 'never'" in err
    assert f"{path}:3:5: warning: colour 6 is colour 2 on arch 'parisc' (L1 has 4 colours)" in err
    code, out, _ = status([str(path), "--arch", "parisc,x86", "--format", "json"])
    assert code == 0
    assert [w["at"] for w in json.loads(out)["warnings"]] == [f"{path}:3:5", f"{path}:4:24"]
