"""`flowcheck lsp`: a language server for .flow files (docs/editors.md).

server.py wires the LSP messages to the modules that do the work: analysis.py loads a
document's text through the front end, diagnostics.py turns its errors into LSP diagnostics,
outline.py reads the names of a document however broken it is, and hover.py, definition.py
and completion.py answer those requests.
"""
