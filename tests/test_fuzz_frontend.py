"""The front end on generated and broken text: every input ends in a result or a located
error, never another exception or a hang (bench/fuzz_frontend.py runs the same strategies on
many more inputs; this is the fast profile). The hand-made hostile inputs of
bench/fuzz_frontend.py run here too: each once, and 2,000 of them mutated in a subprocess
under a memory limit and a per-input alarm."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from flowtext import arch_text, protocol_text
from hypothesis import HealthCheck, given, settings
from strategies import arches, protocols
from text_strategies import flow_texts, front_end, garbage, mutated_texts, token_soups

from checker.front import model
from checker.front.load import load_files
from checker.front.source import Span

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
import fuzz_frontend  # noqa: E402  (bench/, put on the path just above)

FAST = settings(max_examples=40, deadline=5_000, derandomize=True,
                suppress_health_check=list(HealthCheck))


def _without_spans(value):
    """`value` with every Span replaced by None (the generated models have made-up spans)."""
    if isinstance(value, Span):
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return type(value)(**{f.name: _without_spans(getattr(value, f.name))
                              for f in dataclasses.fields(value)})
    if isinstance(value, tuple):
        return tuple(_without_spans(v) for v in value)
    if isinstance(value, dict):
        return {k: _without_spans(v) for k, v in value.items()}
    return value


@FAST
@given(protocol=protocols(max_words=4), arch=arches(max_levels=2))
def test_generated_models_round_trip_through_text(tmp_path_factory, protocol, arch):
    """Printed as text and read back, a random protocol and arch give the same model: the
    parser and resolver keep every construct the generators make."""
    path = tmp_path_factory.mktemp("rt") / "r.flow"
    path.write_text(arch_text(arch) + protocol_text(protocol), encoding="utf-8")
    library = load_files([str(path)], builtins=[]).library
    (read_protocol,) = library.protocols
    read_arch = library.arches[arch.name]
    assert _without_spans(read_protocol) == _without_spans(protocol)
    expected_arch = dataclasses.replace(arch, span=read_arch.span)
    assert _without_spans(read_arch) == _without_spans(expected_arch)


@FAST
@given(text=flow_texts())
def test_generated_text_loads(tmp_path_factory, text):
    assert front_end(tmp_path_factory.mktemp("g") / "g.flow", text) == "ok"


@FAST
@given(text=mutated_texts())
def test_mutated_text_gives_a_result_or_a_located_error(tmp_path_factory, text):
    front_end(tmp_path_factory.mktemp("m") / "m.flow", text)


@FAST
@given(text=token_soups)
def test_token_soup_gives_a_result_or_a_located_error(tmp_path_factory, text):
    front_end(tmp_path_factory.mktemp("t") / "t.flow", text)


@FAST
@given(data=garbage)
def test_bytes_give_a_result_or_a_located_error(tmp_path_factory, data):
    front_end(tmp_path_factory.mktemp("b") / "b.bin", data)


def test_generated_arch_prints_every_setting() -> None:
    arch = model.Arch("a", "d", "v1", (), "tlb", False, {}, {}, None, False, Span("x", 1, 1))
    assert "speculative_fill tlb" in arch_text(arch) and "dma_coherent no" in arch_text(arch)


def test_empty_file_and_directory(tmp_path: Path) -> None:
    assert front_end(tmp_path / "empty.flow", "") == "error"  # nothing to check: an error
    (tmp_path / "dir.flow").mkdir()
    from checker.errors import FlowError

    try:
        load_files([str(tmp_path / "dir.flow")], builtins=[])
    except FlowError as error:
        assert "is a directory" in error.render()
    else:
        raise AssertionError("a directory loaded")


@pytest.mark.parametrize(
    "name, data", fuzz_frontend.hostile_cases(scale=2_000), ids=lambda value: str(value)[:40]
)
def test_hostile_case_gives_a_result_or_a_located_error(tmp_path: Path, name, data) -> None:
    assert front_end(tmp_path / "h.flow", data) in ("ok", "error"), name


def test_hostile_mutants_under_a_memory_limit() -> None:
    """2,000 mutants of the hand-made cases, in a process limited to 1 GB of address space,
    each input under a 5 s alarm (a few seconds in all)."""
    argv = [sys.executable, str(REPO / "bench" / "fuzz_frontend.py"), "--hostile-only",
            "--count", "2000", "--scale", "300", "--memory-mb", "1024", "--deadline", "5",
            "--no-write"]
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| hand-made hostile input, then mutated | 2,000 |" in proc.stdout
