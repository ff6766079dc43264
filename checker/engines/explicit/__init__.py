"""The explicit engine (the default): a breadth-first search (search.py) over flat states
(flat.py, steps.py), with symmetry (symmetry.py) and dead-line (dead.py) reductions."""
