"""Fix synthesis: `check --fix` (synthesis.py) over the candidate calls (candidates.py)."""
