// Bad input through the real N-API record calls: nothing throws, nothing crashes, and every call is accounted for
// in stats() by exactly one outcome counter once the queue is flushed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertAccounted } from './helpers/accounting.cjs';

const require = createRequire(import.meta.url);
const ct = require('../index.js');

/** Counters where a record call ends up: exactly one per call. (`invalidTraceContext` is a flag on an event that
 *  is still used, so it is not an outcome; `eventsQueued` is an intermediate state.) */

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
    // A lone surrogate (text cut mid-emoji) is repaired on the background, not refused as malformed JSON.
    ['lone surrogate in a field', d({ type: 'no.such.event', text: 'cut \ud83d' }), 1, 'skippedUnknownType'],
    ['lone surrogate in a key', d({ type: 'no.such.event', ['k\udc00']: 1 }), 1, 'skippedUnknownType'],
    ['lone surrogate in JSON text', d('{"type":"no.such.event","t":"\\ud83d"}'), 1, 'skippedUnknownType'],
    ['lone surrogate in hook ctx', h('agent_end', { success: true }, { runId: 'nope\ud83d' }), 1, 'skippedNoCorrelation'],
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
  assertAccounted(d, 'bad input');
  assertAccounted(ct.stats(), 'the whole process');
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
  assertAccounted(ct.stats(), 'after the bad input');
});

test('configure() names the field and the expected type, refuses nonsensical values, and echoes no value', () => {
  const cases = [
    [{ graceMs: NaN }, /graceMs: expected a finite number, got NaN/],
    [{ traceTtlMs: -1 }, /traceTtlMs must be a non-negative number/],
    [{ queueCapacity: 1.5 }, /queueCapacity: expected usize, got a fractional number/],
    [{ batch: { exportTimeoutMs: 0 } }, /batch\.exportTimeoutMs must be at least 1/],
    [{ batch: { maxSpans: -5 } }, /batch\.maxSpans: expected usize, got a negative number/],
    [{ exporters: new Map() }, /exporters: expected a plain object, got a Map/],
    [{ exporters: { otlp: { headers: new Map([['authorization', 'Bearer map-secret-1']]) } } }, /exporters\.otlp\.headers: expected a plain object, got a Map/],
    [{ spool: new Date() }, /spool: expected a plain value or object, got a Date/],
    [{ exporters: [] }, /exporters: expected a single value or an object, got an array/],
    [{ sampling: () => 1 }, /sampling: expected a plain value or object, got a function/],
    [{ queueCapacity: 10n }, /queueCapacity: expected a plain value or object, got a BigInt/],
    [{ get graceMs() { throw new Error('getter'); } }, /graceMs: could not be read/],
    [{ exporters: { otlp: { endpoint: '' } } }, /exporters\.otlp\.endpoint must be an http/],
    [{ exporters: { mlflow: { trackingUri: 'not a url' } } }, /exporters\.mlflow\.trackingUri must be an http/],
    [{ exporters: { otlp: { headers: 'authorization=Bearer str-secret-2' } } }, /exporters\.otlp\.headers: expected a map, got a string/],
    [{ exporters: { langfuse: { publicKey: 'pk', secretKey: 123456789 } } }, /exporters\.langfuse\.secretKey: expected a string, got a number/],
    [{ exporters: { mlflow: { password: 987654321 } } }, /exporters\.mlflow\.password: expected a string, got a number/],
    [{ exporters: { file: { path: '' } } }, /exporters\.file\.path must be a non-empty string/],
    [5, /the configuration: expected struct Config, got a number/],
  ];
  for (const [cfg, want] of cases) {
    let msg = null;
    try {
      ct.configure(cfg);
    } catch (e) {
      msg = e.message;
    }
    assert.ok(msg !== null, `${want} was accepted`);
    assert.match(msg, /^invalid clawtrace config: /);
    assert.match(msg, want);
    for (const secret of ['map-secret-1', 'str-secret-2', '123456789', '987654321']) assert.ok(!msg.includes(secret), `${msg} echoes a value`);
  }
});

test('replay: long, non-UTF-8, malformed and surrogate-cut lines are skipped or repaired and counted by line; devices are refused', async () => {
  await assert.rejects(ct.replay('/dev/zero'), /not a regular file or pipe/);
  const file = join(dir, 'bad-lines.jsonl');
  const good = (i) => JSON.stringify({ src: 'diagnostic', pid: 1, rt: 1795760000000 + i, evt: { type: 'no.such.event', seq: i } });
  const lines = [];
  for (let i = 1; i <= 700; i++) lines.push(Buffer.from(good(i)));
  lines[9] = Buffer.from('x'.repeat(16 << 20)); // line 10: a 16 MB line, never held in memory
  lines[600] = Buffer.concat([Buffer.from(good(601).slice(0, 40)), Buffer.from([0xff, 0xfe]), Buffer.from(good(601).slice(40))]); // line 601
  lines[619] = Buffer.from('{"src":"diagnostic","evt":'); // line 620
  lines[629] = Buffer.from(JSON.stringify({ src: 'diagnostic', pid: 1, evt: { type: 'no.such.event', t: 'cut \ud83d' } })); // repaired
  writeFileSync(file, Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));
  const rss0 = process.memoryUsage().rss;
  const sum = await ct.replay(file);
  const grown = process.memoryUsage().rss - rss0;
  assert.equal(sum.tooLongLines, 1);
  assert.equal(sum.invalidUtf8Lines, 1);
  assert.equal(sum.malformedLines, 1);
  assert.equal(sum.events, 697, 'every other line, the surrogate-cut one included, is an event');
  assert.deepEqual(sum.badLines, [
    { line: 10, reason: 'too long' },
    { line: 601, reason: 'invalid UTF-8' },
    { line: 620, reason: 'malformed JSON' },
  ]);
  assert.ok(grown < 12 << 20, `the 16 MB line was not buffered (RSS grew ${grown} bytes)`);
});

test('configure() takes a plain object from another realm (a vm context) as a plain object', async () => {
  const { runInNewContext } = await import('node:vm');
  const cfg = runInNewContext('({ exporters: { file: { path: P } }, graceMs: 2000 })', { P: join(dir, 'traces.jsonl') });
  await ct.configure(cfg);
});
