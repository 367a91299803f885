// One process-global registry: every way of loading the addon in one process reaches the same counters and queue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const indexPath = fileURLToPath(new URL('../index.js', import.meta.url));

/** Every cached module of the addon: the generated loader and the native binding it required. */
function uncache() {
  const dropped = [];
  for (const key of Object.keys(require.cache)) {
    if (key === indexPath || key.endsWith('.node')) {
      delete require.cache[key];
      dropped.push(key);
    }
  }
  return dropped;
}

const event = (i) => ({ type: 'no.such.event', n: i });

let dir;
let first;
test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'clawtrace-registry-'));
  first = require('../index.js');
  await first.configure({ exporters: { file: { path: join(dir, 'traces.jsonl') } } });
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a cleared require cache loads a fresh module object over the same counters', async () => {
  const s0 = first.stats();
  for (let i = 0; i < 10; i++) assert.equal(first.recordDiagnostic(event(i)), true);
  const s1 = first.stats();
  assert.equal(s1.eventsReceived - s0.eventsReceived, 10);
  assert.equal(s1.eventsQueued - s0.eventsQueued, 10);

  const dropped = uncache();
  assert.ok(dropped.includes(indexPath), 'index.js was cached');
  assert.ok(dropped.some((k) => k.endsWith('.node')), `the .node binding was cached: ${dropped}`);
  const second = require('../index.js');
  assert.notEqual(second, first, 'a new module object');

  // Not reset: the second load starts where the first one left off.
  const s2 = second.stats();
  assert.equal(s2.eventsReceived, s1.eventsReceived);
  assert.equal(s2.eventsQueued, s1.eventsQueued);
  for (let i = 0; i < 7; i++) assert.equal(second.recordDiagnostic(event(i)), true);
  // Both handles see the sum.
  for (const m of [first, second]) {
    const s = m.stats();
    assert.equal(s.eventsReceived - s0.eventsReceived, 17);
    assert.equal(s.eventsQueued - s0.eventsQueued, 17);
  }
  // One queue: a flush through either handle drains what the other recorded.
  assert.equal(await second.flush(), true);
  const s3 = first.stats();
  assert.equal(s3.queueLength, 0);
  assert.equal(s3.skippedUnknownType - s0.skippedUnknownType, 17);
});

test('ESM import (CJS interop) and createRequire share the counters', async () => {
  const esm = await import('../index.js');
  const cjs = require('../index.js');
  assert.equal(typeof esm.recordDiagnostic, 'function', 'named export through CJS interop');
  assert.equal(typeof esm.default.recordDiagnostic, 'function', 'default export through CJS interop');
  const s0 = cjs.stats();
  for (let i = 0; i < 5; i++) esm.recordDiagnostic(event(i));
  for (let i = 0; i < 3; i++) esm.default.recordAgent({ stream: 'no_such_stream' });
  for (let i = 0; i < 4; i++) cjs.recordDiagnostic(event(i));
  const viaEsm = esm.stats();
  const viaCjs = cjs.stats();
  assert.equal(viaEsm.eventsReceived - s0.eventsReceived, 12);
  assert.equal(viaCjs.eventsReceived - s0.eventsReceived, 12);
  assert.equal(viaCjs.eventsQueued - s0.eventsQueued, 12);
  assert.equal(await esm.flush(), true);
  assert.equal(cjs.stats().queueLength, 0);
});

test('a worker thread records into the main thread\'s registry', async () => {
  const main = require('../index.js');
  const s0 = main.stats();
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    const ct = require(workerData.indexPath);
    const before = ct.stats();
    let queued = 0;
    for (let i = 0; i < workerData.n; i++) queued += ct.recordDiagnostic({ type: 'no.such.event', worker: i }) ? 1 : 0;
    ct.recordDiagnostic(Symbol('not serialisable'));
    ct.recordHook(42, {});
    parentPort.postMessage({ before: before.eventsReceived, queued, after: ct.stats().eventsReceived });
    `,
    { eval: true, workerData: { indexPath, n: 250 } },
  );
  const [msg] = await Promise.all([
    new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    }),
    new Promise((resolve) => worker.once('exit', resolve)),
  ]);
  assert.equal(msg.queued, 250);
  // The worker saw the main thread's counters when it started (not a fresh registry) ...
  assert.equal(msg.before, s0.eventsReceived, 'the worker started from the main thread\'s counters');
  assert.equal(msg.after - msg.before, 252);
  // ... and the main thread sees the worker's events, even after the worker exited.
  const s1 = main.stats();
  assert.equal(s1.eventsReceived - s0.eventsReceived, 252);
  assert.equal(s1.eventsQueued - s0.eventsQueued, 250);
  assert.equal(s1.invalidUnserializable - s0.invalidUnserializable, 1);
  assert.equal(s1.invalidHookName - s0.invalidHookName, 1);
  assert.equal(await main.flush(), true);
  const s2 = main.stats();
  assert.equal(s2.skippedUnknownType - s0.skippedUnknownType, 250);
  // The main thread's calls still work after the worker's env is gone.
  assert.equal(main.recordDiagnostic(event(0)), true);
  assert.equal(main.stats().eventsReceived - s0.eventsReceived, 253);
});

test('after shutdown(), events recorded right after configure() (before it resolves) are kept', async () => {
  const ct = require('../index.js');
  assert.equal(await ct.shutdown(5000), true);
  const s0 = ct.stats();
  assert.equal(ct.recordDiagnostic({ type: 'no.such.event' }), false, 'refused while shut down');
  const path = join(dir, 'restart.jsonl');
  const applied = ct.configure({ exporters: { file: { path } } });
  // Same tick as configure(): the host subscribes and events flow before the promise resolves.
  const traceId = 'b0b0c0ffee4b1d9b0d6c3a2e1f0a1122';
  const t0 = Date.now();
  const run = { runId: 'restart-run', sessionKey: 'agent:main:restart', trace: { traceId, spanId: '2222222222222222' } };
  assert.equal(ct.recordDiagnostic({ type: 'harness.run.started', seq: 1, ts: t0, ...run }, { trusted: true }), true);
  assert.equal(ct.recordDiagnostic({ type: 'harness.run.completed', seq: 2, ts: t0 + 1, outcome: 'completed', ...run }, { trusted: true }), true);
  await applied;
  assert.equal(await ct.shutdown(5000), true);
  const s1 = ct.stats();
  assert.equal(s1.droppedAfterShutdown - s0.droppedAfterShutdown, 1, 'only the event before configure() was refused');
  const { readFileSync } = await import('node:fs');
  const traces = require('../bin/tree.js').parseOtlpJsonLines(readFileSync(path, 'utf8'));
  assert.equal(traces.get(traceId)?.length, 1, 'the run recorded before configure() resolved was exported');
  await ct.configure({ exporters: { file: { path: join(dir, 'traces.jsonl') } } });
});
