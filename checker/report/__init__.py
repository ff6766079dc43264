"""What a check prints: witnesses replayed and shrunk into traces (trace.py), then text, JSON,
the arch listing and the progress line."""
