'use strict';
// flowcheck's VS Code client: starts `flowcheck lsp` and speaks the Language Server Protocol
// to it over stdin/stdout, with nothing but node's own library and the vscode API, so the
// folder works as it is (no npm install, no build step). It asks the server for what the
// extension shows: diagnostics, hover, go to definition and completion (docs/editors.md).

const vscode = require('vscode');
const { spawn } = require('child_process');

// One server process and the JSON-RPC messages over its pipes (LSP's base protocol: a
// Content-Length header, a blank line, the JSON body).
class Connection {
  constructor(command, args, log) {
    this.log = log;
    this.nextId = 1;
    this.pending = new Map();
    this.handlers = new Map();
    this.buffer = Buffer.alloc(0);
    this.closed = false;
    this.process = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.process.stdout.on('data', (chunk) => this.receive(chunk));
    this.process.stderr.on('data', (chunk) => log(chunk.toString().trimEnd()));
    this.process.on('error', (error) => this.close(error));
    this.process.on('exit', (code) => this.close(new Error(`the server exited (${code})`)));
    this.process.stdin.on('error', () => {}); // reported by 'exit'
  }

  send(message) {
    if (this.closed) return;
    const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...message }), 'utf8');
    this.process.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.process.stdin.write(body);
  }

  request(method, params) {
    if (this.closed) return Promise.reject(this.error || new Error('no server'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ id, method, params });
    });
  }

  notify(method, params) {
    this.send({ method, params });
  }

  on(method, handler) {
    this.handlers.set(method, handler);
  }

  receive(chunk) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const header = this.buffer.subarray(0, end).toString('ascii');
      const length = Number((/Content-Length: *(\d+)/i.exec(header) || [])[1]);
      if (!(length >= 0)) { // a header without a length: nothing after it can be framed
        this.close(new Error(`bad message header from the server: ${header}`));
        return;
      }
      if (this.buffer.length < end + 4 + length) return;
      const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
      this.buffer = this.buffer.subarray(end + 4 + length);
      let message;
      try {
        message = JSON.parse(body);
      } catch (error) {
        this.log(`unreadable message from the server: ${error}`);
        continue;
      }
      this.dispatch(message);
    }
  }

  dispatch(message) {
    if (message.id !== undefined && message.method === undefined) { // a response
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id);
      if (message.error) waiting.reject(new Error(message.error.message));
      else waiting.resolve(message.result);
      return;
    }
    const handler = this.handlers.get(message.method);
    let result = null;
    try {
      if (handler) result = handler(message.params);
    } catch (error) {
      this.log(`${message.method}: ${error}`);
    }
    if (message.id !== undefined) this.send({ id: message.id, result: result ?? null });
  }

  close(error) {
    if (this.closed) return;
    this.closed = true;
    this.error = error;
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
    if (this.onClose) this.onClose(error);
  }

  async stop() {
    if (this.closed) return;
    try {
      await Promise.race([this.request('shutdown', null),
        new Promise((resolve) => setTimeout(resolve, 2000))]);
      this.notify('exit', null);
    } catch (error) {
      // the server is gone already
    }
    setTimeout(() => { if (!this.closed) this.process.kill(); }, 2000).unref();
  }
}

let connection;

function settings() {
  const config = vscode.workspace.getConfiguration('flowcheck');
  return { command: config.get('server.command'), arches: config.get('arches') };
}

const position = (p) => ({ line: p.line, character: p.character });
const range = (r) => new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
const at = (document, p) => ({
  textDocument: { uri: document.uri.toString() }, position: position(p),
});

function diagnostic(d) {
  // LSP severities are 1-4 (error first), vscode's 0-3.
  const result = new vscode.Diagnostic(range(d.range), d.message, (d.severity || 1) - 1);
  result.source = d.source;
  if (d.relatedInformation) {
    result.relatedInformation = d.relatedInformation.map((r) => new vscode.DiagnosticRelatedInformation(
      new vscode.Location(vscode.Uri.parse(r.location.uri), range(r.location.range)), r.message));
  }
  return result;
}

function completionItem(item) {
  // LSP's CompletionItemKind counts from 1, vscode's from 0.
  const result = new vscode.CompletionItem(item.label, (item.kind || 1) - 1);
  result.detail = item.detail;
  result.sortText = item.sortText;
  if (item.documentation) {
    const text = typeof item.documentation === 'string' ? item.documentation : item.documentation.value;
    result.documentation = new vscode.MarkdownString(text);
  }
  return result;
}

function activate(context) {
  const output = vscode.window.createOutputChannel('flowcheck');
  const log = (line) => output.appendLine(line);
  const { command, arches } = settings();
  const argv = Array.isArray(command) && command.length ? command : ['flowcheck', 'lsp'];
  const diagnostics = vscode.languages.createDiagnosticCollection('flowcheck');
  connection = new Connection(argv[0], argv.slice(1), log);
  connection.onClose = (error) => {
    log(`flowcheck lsp stopped: ${error && error.message}`);
    if (error && error.code === 'ENOENT') {
      vscode.window.showErrorMessage(`flowcheck: cannot start '${argv.join(' ')}': install flowcheck `
        + '(pip install flowcheck) or set flowcheck.server.command');
    }
  };
  connection.on('textDocument/publishDiagnostics', (params) => {
    diagnostics.set(vscode.Uri.parse(params.uri), params.diagnostics.map(diagnostic));
  });
  connection.on('window/logMessage', (params) => log(params.message));
  connection.on('window/showMessage', (params) => log(params.message));

  const isFlow = (document) => document.languageId === 'flow';
  const opened = (document) => {
    if (!isFlow(document)) return;
    connection.notify('textDocument/didOpen', { textDocument: {
      uri: document.uri.toString(), languageId: 'flow', version: document.version,
      text: document.getText() } });
  };
  const ready = connection.request('initialize', {
    processId: process.pid,
    rootUri: null,
    capabilities: {
      general: { positionEncodings: ['utf-16'] },
      textDocument: { hover: { contentFormat: ['markdown'] }, publishDiagnostics: { relatedInformation: true } },
    },
    initializationOptions: { arches: arches || null },
  }).then(() => {
    connection.notify('initialized', {});
    vscode.workspace.textDocuments.forEach(opened);
  }, (error) => log(`flowcheck lsp did not start: ${error.message}`));

  const selector = { language: 'flow' };
  const ask = async (method, params) => {
    await ready;
    try {
      return await connection.request(method, params);
    } catch (error) {
      log(`${method}: ${error.message}`);
      return null;
    }
  };
  context.subscriptions.push(
    output,
    diagnostics,
    vscode.workspace.onDidOpenTextDocument((document) => ready.then(() => opened(document))),
    vscode.workspace.onDidChangeTextDocument((event) => {
      if (!isFlow(event.document)) return;
      ready.then(() => connection.notify('textDocument/didChange', {
        textDocument: { uri: event.document.uri.toString(), version: event.document.version },
        contentChanges: [{ text: event.document.getText() }] }));
    }),
    vscode.workspace.onDidCloseTextDocument((document) => {
      if (!isFlow(document)) return;
      diagnostics.delete(document.uri);
      ready.then(() => connection.notify('textDocument/didClose', {
        textDocument: { uri: document.uri.toString() } }));
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (!event.affectsConfiguration('flowcheck.arches')) return;
      ready.then(() => connection.notify('workspace/didChangeConfiguration', {
        settings: { flowcheck: { arches: settings().arches || null } } }));
    }),
    vscode.languages.registerHoverProvider(selector, {
      async provideHover(document, p) {
        const found = await ask('textDocument/hover', at(document, p));
        if (!found) return null;
        const value = typeof found.contents === 'string' ? found.contents : found.contents.value;
        return new vscode.Hover(new vscode.MarkdownString(value), found.range && range(found.range));
      },
    }),
    vscode.languages.registerDefinitionProvider(selector, {
      async provideDefinition(document, p) {
        const found = await ask('textDocument/definition', at(document, p));
        if (!found) return null;
        return [].concat(found).map((l) => new vscode.Location(vscode.Uri.parse(l.uri), range(l.range)));
      },
    }),
    vscode.languages.registerCompletionItemProvider(selector, {
      async provideCompletionItems(document, p) {
        const found = await ask('textDocument/completion', at(document, p));
        if (!found) return null;
        return (Array.isArray(found) ? found : found.items).map(completionItem);
      },
    }, '(', ',', ' '),
  );
}

function deactivate() {
  return connection ? connection.stop() : undefined;
}

module.exports = { activate, deactivate, Connection };
