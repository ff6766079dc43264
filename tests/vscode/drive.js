'use strict';
// Runs editors/vscode/extension.js under node with tests/vscode/vscode.js as the `vscode`
// module (tests/test_editors.py): opens a broken document, waits for its diagnostics, fixes
// it, waits for them to clear, then asks for hover, definition and completion at one place,
// and prints what the extension made of the answers as JSON.
const vscode = require('vscode'); // NODE_PATH: the stand-in
const { fake } = vscode;
const [extension, python, uri, broken, fixed, line, column] = JSON.parse(process.argv[2]);
fake.config['server.command'] = [python, '-m', 'checker', 'lsp'];
const ext = require(extension);
const until = (test) => new Promise((resolve) => {
  fake.changed = () => { if (test()) resolve(); };
  if (test()) resolve();
});
(async () => {
  const timer = setTimeout(() => { console.log(JSON.stringify({ timeout: fake.log })); process.exit(1); }, 20000);
  ext.activate({ subscriptions: [] });
  vscode.workspace.onDidOpenTextDocument.fire(fake.document(uri, broken, 1));
  await until(() => (fake.diagnostics.get(uri) || []).length > 0);
  const first = fake.diagnostics.get(uri);
  const document = fake.document(uri, fixed, 2);
  vscode.workspace.onDidChangeTextDocument.fire({ document });
  await until(() => (fake.diagnostics.get(uri) || [null]).length === 0);
  const at = new vscode.Position(line, column);
  const hover = await fake.providers.hover.provideHover(document, at);
  const definition = await fake.providers.definition.provideDefinition(document, at);
  const completion = await fake.providers.completion.provideCompletionItems(document, at);
  await ext.deactivate();
  clearTimeout(timer);
  console.log(JSON.stringify({ first, hover, definition, completion: completion.map((i) => i.label), errors: fake.errors }));
  process.exit(0);
})();
