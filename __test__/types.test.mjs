// The TypeScript declarations users get (index.d.ts + config.d.ts): a typed usage example must compile under
// `tsc --noEmit` (and its deliberate misuses must not), every runtime export must be declared and every declared
// function must exist, and the declared shapes of what the addon returns must match what it returns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);
const ts = require('typescript');
const clawtrace = require(root);

/** Exported names of the declaration file, and the property names of each exported interface. */
function declarations() {
  const names = new Set();
  const interfaces = new Map();
  const collect = (file) => {
    const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    for (const node of src.statements) {
      const exported = node.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
      if (!exported) continue;
      if (ts.isFunctionDeclaration(node)) names.add(node.name.text);
      if (ts.isVariableStatement(node)) for (const d of node.declarationList.declarations) names.add(d.name.text);
      if (ts.isInterfaceDeclaration(node)) {
        interfaces.set(node.name.text, node.members.filter((m) => m.name && ts.isIdentifier(m.name)).map((m) => m.name.text));
      }
    }
  };
  collect(join(root, 'index.d.ts'));
  collect(join(root, 'config.d.ts'));
  return { names, interfaces };
}

test('the typed usage example compiles with tsc --noEmit, and its misuses are rejected', () => {
  const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(root, '__test__', 'types', 'tsconfig.json')], { encoding: 'utf8' });
  } catch (err) {
    assert.fail(`tsc --noEmit failed:\n${err.stdout}${err.stderr}`);
  }
});

test('every runtime export is declared in index.d.ts, and every declared export exists', () => {
  const { names } = declarations();
  const runtime = Object.keys(clawtrace).sort();
  assert.deepEqual(runtime.filter((n) => !names.has(n)), [], 'exported but not declared');
  assert.deepEqual([...names].filter((n) => !(n in clawtrace)).sort(), [], 'declared but not exported');
  for (const n of names) if (n !== '__napiBindingTarget') assert.equal(typeof clawtrace[n], 'function', n);
});

test('replay(), stats() and the per-sink stats carry every field their declarations name', async () => {
  const { interfaces } = declarations();
  const dir = mkdtempSync(join(tmpdir(), 'clawtrace-types-'));
  try {
    await clawtrace.configure({ exporters: { file: { path: join(dir, 'traces.jsonl') } } });
    const summary = await clawtrace.replay(join(root, 'fixtures', 'openclaw-2026.9.6-gateway.jsonl'));
    const stats = clawtrace.stats();
    await clawtrace.shutdown(10_000);
    const missing = (declared, value) => declared.filter((k) => !(k in value));
    assert.deepEqual(missing(interfaces.get('ReplaySummary'), summary), [], 'ReplaySummary');
    assert.deepEqual(missing(interfaces.get('ClawtraceStats'), stats), [], 'ClawtraceStats');
    assert.ok(stats.sinks.file, 'stats().sinks.file');
    assert.deepEqual(missing(interfaces.get('SinkStats'), stats.sinks.file), [], 'SinkStats');
    for (const k of interfaces.get('SinkStats')) assert.equal(typeof stats.sinks.file[k], 'number', `sinks.file.${k}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
