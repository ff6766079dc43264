"""The size limits (checker/machine/limits.py): the start-state bound is a bound, and the step count
follows repeats, calls and hooks. The messages are golden (tests/golden/errors/limit_*)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from strategies import arches, protocols

from checker.front import model
from checker.front.source import Span
from checker.machine.limits import _steps, cache_line_count, log10_start_states
from checker.machine.lower import lower
from checker.machine.semantics import Semantics
from checker.machine.state import Layout


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(protocol=protocols(max_words=4), arch=arches(max_levels=2))
def test_start_state_bound_holds(protocol, arch):
    program = lower(protocol, arch)
    bound = 10 ** log10_start_states(program)
    declared = [i for i, h in enumerate(program.handles) if h.declared]
    # Start states differ also by where each thread's first steps settle (an `either` at
    # the top of a thread); the bound is on the colours and cache contents.
    starts = {(tuple(s.hcol[i] for i in declared), s.cache)
              for s in Semantics(program).initial_states()}
    assert len(starts) <= bound * (1 + 1e-9)
    # The cache-line limit counts what the layout would hold, without building it.
    assert cache_line_count(program) == len(Layout(program).slots)


def test_steps_multiply_through_repeats_and_inline_calls():
    s = Span("t.flow", 1, 1)
    fn = model.Function("f", (), False, (model.Signal("e", s),) * 3, "a", s)
    arch = model.Arch("a", "", "", (), "no", True, {"f": fn}, {}, None, False, s)
    body = (model.Repeat(10, (model.Call("f", (), None, s), model.Signal("e", s)), s),)
    # repeat (1) + 10 x (call 1 + its 3 steps + signal 1)
    assert _steps(body, arch, 10**9) == 1 + 10 * 5
