"""The engines: explicit/ (the default breadth-first search), smt/ (the Z3 engine, imported only
when asked for) and reference.py (a plain search over the reference interpreter: the oracle the
tests hold the others to)."""
