"""The machine: one protocol on one arch lowered into a Program (lower.py), its size judged
(limits.py), its states (state.py) and the reference interpreter of the language's semantics
(semantics.py), which every engine is tested against and every trace is replayed on."""
