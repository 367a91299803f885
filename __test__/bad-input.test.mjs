// Bad input through the real N-API record calls: nothing throws, nothing crashes, and every call is accounted for
// in stats() by exactly one outcome counter once the queue is flushed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OUTCOMES } from './helpers/accounting.mjs';

const require = createRequire(import.meta.url);
const ct = require('../index.js');


function delta(before, after) {
  const d = {};
  for (const [k, v] of Object.entries(after)) if (typeof v === 'number' && typeof before[k] === 'number') d[k] = v - before[k];
  return d;
}

function nest(depth, wrap) {
  let v = {};
  for (let i = 0; i < depth; i++) v = wrap(v);
  return v;
}

let dir;
test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'clawtrace-bad-input-'));
  await ct.configure({ exporters: { file: { path: join(dir, 'traces.jsonl') } } });
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Each case: a label, the call, how many record calls it makes (a re-entrant toJSON makes two), and the
 * outcome counter every one of its calls must land in.
 */
function cases() {
  const cyclic = { type: 'run.started' };
  cyclic.self = cyclic;
  const cyclicArr = [];
  cyclicArr.push(cyclicArr);
  const deep10k = { type: 'run.started', deep: nest(10_000, (v) => [v]) };
  const deep10kObj = nest(10_000, (v) => ({ type: 'run.started', a: v }));
  // Deep enough for serde_json's recursion limit (128), shallow enough for V8's JSON.stringify.
  const deep500 = { type: 'run.started', deep: nest(500, (v) => ({ a: v })) };
  const huge = { type: 'run.started', runId: 'r', blob: 'x'.repeat(2 << 20) };
  const hugeName = 'a'.repeat(2 << 20);
  const throwingGetter = { type: 'run.started', get boom() { throw new Error('getter'); } };
  const throwingToJSON = { type: 'run.started', toJSON() { throw new Error('toJSON'); } };
  const undefinedToJSON = { toJSON() { return undefined; } };
  const throwingProxy = new Proxy({ type: 'run.started' }, { ownKeys() { throw new Error('ownKeys'); } });
  const throwingGetProxy = new Proxy({ type: 'run.started' }, { get() { throw new Error('get'); } });
  const unknownProxy = new Proxy({ type: 'no.such.event' }, {});
  const d = (evt, meta) => () => ct.recordDiagnostic(evt, meta);
  const a = (evt) => () => ct.recordAgent(evt);
  const h = (name, payload, ctx) => () => ct.recordHook(name, payload, ctx);
  return [
    // Non-objects with a JSON form.
    ['number', d(42), 1, 'invalidNotObject'],
    ['NaN', d(NaN), 1, 'invalidNotObject'],
    // A string is the event's JSON text (the plugin's fast path): it must parse to an object.
    ['string, not JSON', d('run.started'), 1, 'invalidMalformedJson'],
    ['string, JSON but not an object', d('"run.started"'), 1, 'invalidNotObject'],
    ['string, truncated JSON', d('{"type":"run.started"'), 1, 'invalidMalformedJson'],
    ['string, JSON event', d(JSON.stringify({ type: 'no.such.event' }), true), 1, 'skippedUnknownType'],
    ['null', d(null), 1, 'invalidNotObject'],
    ['boolean', d(true), 1, 'invalidNotObject'],
    ['array', d([{ type: 'run.started' }]), 1, 'invalidNotObject'],
    ['empty array', d([]), 1, 'invalidNotObject'],
    ['agent array', a([1, 2]), 1, 'invalidNotObject'],
    ['hook payload number', h('before_tool_call', 7), 1, 'invalidNotObject'],
    // Non-objects without a JSON form: JSON.stringify yields undefined or throws.
    ['undefined', d(undefined), 1, 'invalidUnserializable'],
    ['no argument', () => ct.recordDiagnostic(), 1, 'invalidUnserializable'],
    ['symbol', d(Symbol('evt')), 1, 'invalidUnserializable'],
    ['function', d(() => ({ type: 'run.started' })), 1, 'invalidUnserializable'],
    ['BigInt', d(10n), 1, 'invalidUnserializable'],
    ['BigInt field', d({ type: 'run.started', seq: 1n }), 1, 'invalidUnserializable'],
    ['cyclic object', d(cyclic), 1, 'invalidUnserializable'],
    ['cyclic array', a(cyclicArr), 1, 'invalidUnserializable'],
    ['throwing getter', d(throwingGetter), 1, 'invalidUnserializable'],
    ['throwing toJSON', d(throwingToJSON), 1, 'invalidUnserializable'],
    ['toJSON -> undefined', d(undefinedToJSON), 1, 'invalidUnserializable'],
    ['proxy ownKeys throws', d(throwingProxy), 1, 'invalidUnserializable'],
    ['proxy get throws', a(throwingGetProxy), 1, 'invalidUnserializable'],
    ['hook cyclic payload', h('agent_end', cyclic), 1, 'invalidUnserializable'],
    // V8's JSON.stringify itself overflows its stack at depth 10,000: a RangeError, caught and cleared.
    ['depth 10k arrays', d(deep10k), 1, 'invalidUnserializable'],
    ['depth 10k objects', d(deep10kObj), 1, 'invalidUnserializable'],
    // Stringifies fine, but serde_json refuses nesting deeper than 128.
    ['depth 500', d(deep500), 1, 'invalidMalformedJson'],
    // Objects missing their discriminator.
    ['empty object', d({}), 1, 'invalidMissingType'],
    ['no type', d({ runId: 'r', seq: 1 }), 1, 'invalidMissingType'],
    ['agent without stream', a({ type: 'run.started' }), 1, 'invalidMissingType'],
    ['type undefined', d({ type: undefined }), 1, 'invalidMissingType'],
    ['type null', d({ type: null }), 1, 'invalidMissingType'],
    // Wrong field types.
    ['type number', d({ type: 5 }), 1, 'invalidWrongFieldType'],
    ['type object', d({ type: { x: 1 } }), 1, 'invalidWrongFieldType'],
    ['runId number', d({ type: 'run.started', runId: 7 }), 1, 'invalidWrongFieldType'],
    ['usage string', d({ type: 'x', usage: 'no' }), 1, 'invalidWrongFieldType'],
    ['seq string', d({ type: 'run.started', seq: '1' }), 1, 'invalidWrongFieldType'],
    ['trace string', d({ type: 'run.started', trace: 'abc' }), 1, 'invalidWrongFieldType'],
    ['agent stream number', a({ stream: 5 }), 1, 'invalidWrongFieldType'],
    // Too large.
    ['2 MB string field', d(huge), 1, 'invalidTooLarge'],
    ['2 MB agent event', a({ stream: 'assistant', data: { text: huge.blob } }), 1, 'invalidTooLarge'],
    // Unknown event types (including through a transparent Proxy).
    ['unknown type', d({ type: 'no.such.event' }), 1, 'skippedUnknownType'],
    ['empty type', d({ type: '' }), 1, 'skippedUnknownType'],
    ['proxy unknown type', d(unknownProxy), 1, 'skippedUnknownType'],
    // Weird listener metadata: ignored, the event itself is used.
    ['meta getter throws', d({ type: 'no.such.event' }, { get trusted() { throw new Error('meta'); } }), 1, 'skippedUnknownType'],
    ['meta proxy throws', d({ type: 'no.such.event' }, new Proxy({}, { get() { throw new Error('meta'); } })), 1, 'skippedUnknownType'],
    ['meta number', d({ type: 'no.such.event' }, 5), 1, 'skippedUnknownType'],
    ['meta string', d({ type: 'no.such.event' }, 'trusted'), 1, 'skippedUnknownType'],
    ['meta symbol', d({ type: 'no.such.event' }, Symbol('m')), 1, 'skippedUnknownType'],
    ['meta function', d({ type: 'no.such.event' }, () => true), 1, 'skippedUnknownType'],
    ['meta trusted non-bool', d({ type: 'no.such.event' }, { trusted: 'yes' }), 1, 'skippedUnknownType'],
    // A toJSON that records re-entrantly: two calls, both accounted for.
    ['re-entrant toJSON', d({ toJSON() { ct.recordDiagnostic({ type: 'inner.unknown' }); return { type: 'outer.unknown' }; } }), 2, 'skippedUnknownType'],
    // Bad trace ids without a correlation id: flagged (invalidTraceContext) and then unplaceable.
    ['traceId not hex', d({ type: 'model.call.started', trace: { traceId: 'not-hex' } }), 1, 'skippedNoCorrelation'],
    ['traceId number', d({ type: 'model.call.started', trace: { traceId: 5 } }), 1, 'skippedNoCorrelation'],
    ['traceId too short', d({ type: 'model.call.started', trace: { traceId: 'abc123' } }), 1, 'skippedNoCorrelation'],
    ['spanId bad', d({ type: 'model.call.started', trace: { traceId: '9ec7be0fb910e91ed558a422cd89a402', spanId: 'zz' } }), 1, 'skippedNoCorrelation'],
    // Hook names.
    ['hook name number', h(5, {}), 1, 'invalidHookName'],
    ['hook name null', h(null, {}), 1, 'invalidHookName'],
    ['hook name undefined', h(undefined, {}), 1, 'invalidHookName'],
    ['hook name symbol', h(Symbol('agent_end'), {}), 1, 'invalidHookName'],
    ['hook name object', h({ toString: () => 'agent_end' }, {}), 1, 'invalidHookName'],
    ['hook name 65 chars', h('a'.repeat(65), {}), 1, 'invalidHookName'],
    ['hook name 2 MB', h(hugeName, {}), 1, 'invalidHookName'],
    ['hook name empty', h('', {}), 1, 'invalidHookName'],
    ['hook name uppercase', h('AgentEnd', {}), 1, 'invalidHookName'],
    ['hook name unicode', h('agent_énd', {}), 1, 'invalidHookName'],
    // Valid names, odd contexts: content capture is off, so content hooks are skipped; agent_end finds no run.
    ['hook ctx throws', h('agent_end', { success: true }, { get runId() { throw new Error('ctx'); } }), 1, 'skippedNoCorrelation'],
    ['hook ctx number', h('agent_end', {}, 5), 1, 'skippedNoCorrelation'],
    ['hook content', h('llm_input', { prompt: 'p' }, { runId: 'nope' }), 1, 'skippedContentDisabled'],
  ];
}

/** Refused by the N-API layer itself (never queued): no JSON form, or a hook name that is not a string of at most
 *  64 bytes. Other bad hook names (empty, uppercase, non-ASCII) are queued and refused by the decoder. */
function refusedOnCallingThread(label, outcome) {
  if (outcome === 'invalidUnserializable') return true;
  return outcome === 'invalidHookName' && !/empty|uppercase|unicode/.test(label);
}

test('thousands of bad values: no throw, no crash, every call accounted for', async () => {
  await ct.flush();
  const before = ct.stats();
  const expected = {};
  let calls = 0;
  let refused = 0;
  const all = cases();
  // Cheap cases are repeated; the 2 MB and depth-10k ones a few times only (each queued 2 MB string is memory).
  const heavy = /2 MB|depth/;
  for (let round = 0; round < 120; round++) {
    for (const [label, call, n, outcome] of all) {
      if (heavy.test(label) && round % 40 !== 0) continue;
      let threw = null;
      try {
        const r = call();
        assert.equal(typeof r, 'boolean', `${label}: returns a boolean`);
      } catch (e) {
        threw = e;
      }
      assert.equal(threw, null, `${label}: must not throw`);
      calls += n;
      expected[outcome] = (expected[outcome] ?? 0) + n;
      if (refusedOnCallingThread(label, outcome)) refused += n;
    }
  }
  assert.ok(calls >= 5000, `made ${calls} calls`);
  assert.equal(await ct.flush(), true);
  const d = delta(before, ct.stats());

  assert.equal(d.eventsReceived, calls, 'eventsReceived counts every call');
  const outcomes = OUTCOMES.reduce((s, k) => s + d[k], 0);
  assert.equal(outcomes, calls, `outcomes ${JSON.stringify(Object.fromEntries(OUTCOMES.map((k) => [k, d[k]])))}`);
  for (const [k, n] of Object.entries(expected)) assert.equal(d[k], n, `${k}`);
  // Whatever was not refused on the calling thread was queued, and nothing was dropped.
  assert.equal(d.eventsQueued, calls - refused);
  assert.equal(d.droppedQueueFull, 0);
  assert.equal(d.droppedAfterShutdown, 0);
  // The four bad trace contexts were flagged, and the events still went on (to skippedNoCorrelation).
  assert.equal(d.invalidTraceContext, 4 * 120);
  assert.equal(ct.stats().queueLength, 0);
});

test('the addon still works after the bad input', async () => {
  await ct.flush();
  const before = ct.stats();
  assert.equal(ct.recordDiagnostic({ type: 'run.started', runId: 'after-bad-input', sessionKey: 's' }), true);
  assert.equal(await ct.flush(), true);
  const d = delta(before, ct.stats());
  assert.equal(d.eventsReceived, 1);
  assert.equal(d.eventsQueued, 1);
  assert.equal(d.eventsInSpans, 1);
});
