'use strict';
// A stand-in for the `vscode` module, enough to run editors/vscode/extension.js under plain
// node (tests/test_editors.py): it records what the extension registers and shows, and lets
// the test open and change documents.

function event() {
  const listeners = [];
  const on = (listener) => { listeners.push(listener); return { dispose() {} }; };
  on.fire = (value) => listeners.forEach((listener) => listener(value));
  return on;
}

class Position { constructor(line, character) { this.line = line; this.character = character; } }
class Range {
  constructor(a, b, c, d) { this.start = new Position(a, b); this.end = new Position(c, d); }
}
class Uri {
  constructor(text) { this.text = text; }
  toString() { return this.text; }
  static parse(text) { return new Uri(text); }
}
class Location { constructor(uri, range) { this.uri = uri; this.range = range; } }
class MarkdownString { constructor(value) { this.value = value; } }
class Hover { constructor(contents, range) { this.contents = contents; this.range = range; } }
class Diagnostic {
  constructor(range, message, severity) { this.range = range; this.message = message; this.severity = severity; }
}
class DiagnosticRelatedInformation {
  constructor(location, message) { this.location = location; this.message = message; }
}
class CompletionItem { constructor(label, kind) { this.label = label; this.kind = kind; } }

const fake = {
  providers: {},
  diagnostics: new Map(),
  log: [],
  errors: [],
  config: {},
  changed: () => {},
  document(uri, text, version) {
    return { uri: Uri.parse(uri), languageId: 'flow', version, getText: () => text };
  },
};
const disposable = { dispose() {} };

module.exports = {
  Position, Range, Uri, Location, MarkdownString, Hover, Diagnostic,
  DiagnosticRelatedInformation, CompletionItem, fake,
  window: {
    createOutputChannel: () => ({ appendLine: (line) => fake.log.push(line), dispose() {} }),
    showErrorMessage: (message) => fake.errors.push(message),
  },
  languages: {
    createDiagnosticCollection: () => ({
      set(uri, found) { fake.diagnostics.set(uri.toString(), found); fake.changed(); },
      delete(uri) { fake.diagnostics.delete(uri.toString()); },
      dispose() {},
    }),
    registerHoverProvider(selector, provider) { fake.providers.hover = provider; return disposable; },
    registerDefinitionProvider(selector, provider) { fake.providers.definition = provider; return disposable; },
    registerCompletionItemProvider(selector, provider) { fake.providers.completion = provider; return disposable; },
  },
  workspace: {
    textDocuments: [],
    getConfiguration: () => ({ get: (key) => fake.config[key] }),
    onDidOpenTextDocument: event(),
    onDidChangeTextDocument: event(),
    onDidCloseTextDocument: event(),
    onDidChangeConfiguration: event(),
  },
};
