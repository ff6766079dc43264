"""The Z3 engine: the machine encoded as a bounded unrolling (unroll.py, step.py,
environment.py, shape.py) and solved (solve.py). The exceptions live here, apart from z3, so
that the explicit engine and the CLI can name them without importing z3."""

from __future__ import annotations


class Unsupported(Exception):
    """The Z3 engine does not model this arch (the explicit engine does)."""


class DecodeError(Exception):
    """A model that does not decode into an execution of the machine: an engine bug."""
