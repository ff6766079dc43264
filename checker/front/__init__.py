"""The front end: source text -> syntax tree -> the semantic model. Every input error is raised
here, with its location. The way in is `load.load` (files and the built-in arch library, parsed
once and cached on disk by cache.py)."""
