// The gateway-thread hot path (plugin/hotpath.mjs): only the fields assembly reads cross, many events per call, in
// typed arrays and one string; infra-only event types are counted, not serialised; the traces are the same as when
// every event crosses whole (odd strings and numbers too);
// what the batch holds crosses before a flush; hostile values are counted, never thrown; queueCapacity holds from
// the configure() call on.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { BATCH_EVENTS, diagnosticRecorder } from '../plugin/hotpath.mjs'
import { assertAccounted } from './helpers/accounting.cjs'
import { corpus, corpusCopy } from '../bench/lib.mjs'

const require = createRequire(import.meta.url)
const HERE = path.dirname(fileURLToPath(import.meta.url))
const ct = require('../index.js')
const tree = require(path.join(HERE, '..', 'bin', 'tree.js'))
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-hotpath-'))
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }))

const base = corpus()
let copies = 0

/** `ct` with every record call counted by name. */
function counting() {
  const calls = { recordDiagnostic: 0, recordDiagnosticBatch: 0, recordInfra: 0, batched: 0 }
  const b = { ...ct }
  for (const k of ['recordDiagnostic', 'recordDiagnosticBatch', 'recordInfra']) b[k] = (...a) => (calls[k]++, ct[k](...a))
  b.recordDiagnosticBatch = (...a) => (calls.recordDiagnosticBatch++, (calls.batched += a.at(-1)), ct.recordDiagnosticBatch(...a))
  return { b, calls }
}

/** A span as compared across runs: copies of the corpus differ only in their ids' `~tag` and in time. */
function shape(s, byId) {
  const untag = (v) => (typeof v === 'string' ? v.replace(/~[0-9a-f]{8}/g, '') : v)
  const attrs = Object.entries(s.attributes ?? {}).map(([k, v]) => `${k}=${JSON.stringify(untag(v))}`).sort().join(' ')
  const events = (s.events ?? []).map((e) => e.name).join(',')
  return `${s.name} < ${byId.get(s.parentSpanId)?.name ?? '-'} ${s.status.code ?? 0} ${untag(s.status.message ?? '')} [${attrs}] {${events}}`
}

/**
 * Records a copy of the corpus (its own ids, bench/lib.mjs) with `record` into its own file; returns the shape of
 * its spans (name, parent's name, status, attributes, span events) and the counters it moved.
 */
async function run(name, record, { stripTrace = false, mutate } = {}) {
  const file = path.join(tmp, `${name}.jsonl`)
  await ct.configure({ exporters: { file: { path: file } }, graceMs: 50 })
  const before = ct.stats()
  const events = corpusCopy(base, ++copies, 1_000_000 * copies, Date.now())
  if (stripTrace) for (const r of events) delete r.evt.trace
  events.forEach((r, i) => mutate?.(r.evt, i))
  for (const r of events) record(r.evt, r.meta)
  record.drain?.()
  assert.equal(await ct.shutdown(10_000), true)
  const after = ct.stats()
  const spans = [...(await tree.readTraces(file)).values()].flatMap((ss) => {
    const byId = new Map(ss.map((s) => [s.spanId, s]))
    return ss.map((s) => shape(s, byId))
  })
  spans.sort()
  const d = (k) => after[k] - before[k]
  return { spans, after, received: d('eventsReceived'), infra: d('skippedInfraEvent'), inSpans: d('eventsInSpans'), unknown: d('skippedUnknownType') }
}

test('projected, batched events make the same spans, attributes and statuses as whole events', async () => {
  const infra = new Set(ct.infraEventTypes())
  assert.ok(infra.has('gateway.event_loop.sample') && infra.has('diagnostic.gc') && !infra.has('run.started'))
  const whole = await run('whole', (evt, meta) => ct.recordDiagnostic(JSON.stringify(evt), meta?.trusted === true))
  const { b, calls } = counting()
  const batched = await run('batched', diagnosticRecorder(b))

  assert.equal(calls.recordDiagnostic + calls.recordInfra, 0, 'no event crossed alone')
  assert.equal(calls.batched, base.length, 'every event crossed in a batch')
  assert.ok(calls.recordDiagnosticBatch <= Math.ceil(base.length / BATCH_EVENTS) + 1, `${calls.recordDiagnosticBatch} crossings`)
  assert.equal(batched.received, base.length)
  assert.ok(batched.infra > 100, 'the corpus has infra events')
  assert.equal(batched.infra, whole.infra, 'the same infra events counted')
  assert.equal(batched.unknown, whole.unknown, 'unknown types still arrive, counted as before')
  assert.equal(batched.inSpans, whole.inSpans)
  assert.ok(whole.spans.length > 0)
  assert.ok(whole.spans.some((s) => s.includes('error.type=')), 'failure details are compared')
  assert.deepEqual(batched.spans, whole.spans)
  assertAccounted(batched.after)
})

test('without trace context (correlation by ids and log text), projected events make the same spans', async () => {
  const whole = await run('whole-stripped', (evt, meta) => ct.recordDiagnostic(JSON.stringify(evt), meta?.trusted === true), { stripTrace: true })
  const batched = await run('batched-stripped', diagnosticRecorder(ct), { stripTrace: true })
  assert.ok(whole.spans.some((s) => s.includes('error.type=')), 'failure details are compared')
  assert.deepEqual(batched.spans, whole.spans)
})

test('strings beyond ASCII, split surrogate pairs and odd numbers make the same spans batched as whole', async () => {
  // Every id ends in a high surrogate and the next string crossing after it may start with a low one: the batch's
  // strings sit back to back, so a pair split across two values must not be joined again. NaN and the infinities
  // are null in JSON.
  const mutate = (evt, i) => {
    for (const k of ['runId', 'sessionKey', 'sessionId', 'callId', 'toolCallId']) if (typeof evt[k] === 'string') evt[k] += 'é😀\ud83d'
    for (const k of ['channel', 'provider', 'model', 'toolName']) if (typeof evt[k] === 'string') evt[k] = `\ude00${evt[k]}中`
    if (typeof evt.durationMs === 'number' && i % 3 === 0) evt.durationMs = [NaN, Infinity, -0][i % 9 / 3]
  }
  const whole = await run('whole-odd', (evt, meta) => ct.recordDiagnostic(JSON.stringify(evt), meta?.trusted === true), { mutate })
  const batched = await run('batched-odd', diagnosticRecorder(ct), { mutate })
  assert.ok(whole.spans.some((s) => s.includes('\ufffdé😀\ufffd') || s.includes('é😀')), 'the odd strings reach the spans')
  assert.ok(whole.spans.some((s) => s.includes('中')))
  assert.deepEqual(batched.spans, whole.spans)
  assert.equal(batched.inSpans, whole.inSpans)
})

test('a string longer than an event may be is not copied: its event is counted too large, the others kept', async () => {
  await ct.configure({ exporters: { file: { path: path.join(tmp, 'huge.jsonl') } } })
  await ct.flush(5000)
  const s0 = ct.stats()
  const { b, calls } = counting()
  let crossed = 0
  const inner = b.recordDiagnosticBatch
  b.recordDiagnosticBatch = (text, ...rest) => ((crossed += text.length), inner(text, ...rest))
  const record = diagnosticRecorder(b)
  record({ type: 'run.started', runId: 'r-huge', error: 'x'.repeat(2 ** 20 + 1) }, { trusted: true })
  record({ type: 'no.such.event', seq: 1, runId: 'r-small' }, { trusted: true })
  record.drain()
  assert.equal(await ct.flush(5000), true)
  const s1 = ct.stats()
  const d = (k) => s1[k] - s0[k]
  assert.equal(calls.batched, 2, 'both crossed in the batch')
  assert.ok(crossed < 100, `${crossed} string units crossed`)
  assert.equal(d('eventsReceived'), 2)
  assert.equal(d('invalidTooLarge'), 1)
  assert.equal(d('skippedUnknownType'), 1, 'the other event decoded on its own')
  assert.equal(await ct.shutdown(5000), true)
  assertAccounted(ct.stats())
})

test('the whole-event path (while recording) counts infra types without crossing them as JSON', async () => {
  const whole = await run('whole-json', (evt, meta) => ct.recordDiagnostic(JSON.stringify(evt), meta?.trusted === true))
  const { b, calls } = counting()
  const skipping = await run('skipping', diagnosticRecorder(b, { full: true }))
  const infra = new Set(ct.infraEventTypes())
  const infraInCorpus = base.filter((r) => infra.has(r.evt.type)).length
  assert.equal(calls.recordDiagnosticBatch, 0)
  assert.equal(calls.recordDiagnostic, base.length - infraInCorpus, 'infra events never reach recordDiagnostic')
  assert.equal(calls.recordInfra, infraInCorpus)
  assert.equal(skipping.infra, whole.infra)
  assert.deepEqual(skipping.spans, whole.spans)
  assertAccounted(skipping.after)
})

test('the batch crosses at the end of the task, when full, and on drain(); before a flush nothing is left behind', async () => {
  await ct.configure({ exporters: { file: { path: path.join(tmp, 'drain.jsonl') } } })
  const record = diagnosticRecorder(ct)
  const received = () => ct.stats().eventsReceived
  const r0 = received()
  for (let i = 0; i < 3; i++) record({ type: 'no.such.event', seq: i + 1 })
  assert.equal(received(), r0, 'held on this thread while the task runs')
  record.drain()
  assert.equal(received(), r0 + 3, 'drain() hands them over at once')
  record({ type: 'no.such.event' })
  await null
  assert.equal(received(), r0 + 4, 'a microtask hands them over when the task ends')
  for (let i = 0; i < BATCH_EVENTS; i++) record({ type: 'no.such.event' })
  assert.equal(received(), r0 + 4 + BATCH_EVENTS, 'a full batch crosses at once')
  record({ type: 'no.such.event' })
  const flushed = ct.flush(5000)
  assert.equal(received(), r0 + 5 + BATCH_EVENTS, 'flush() takes what the hot path holds before it starts')
  assert.equal(await flushed, true)
  record({ type: 'no.such.event' })
  const shut = ct.shutdown(5000)
  assert.equal(received(), r0 + 6 + BATCH_EVENTS, 'and so does shutdown()')
  assert.equal(await shut, true)
  assertAccounted(ct.stats())
})

test('hostile values through the batched path are counted, never thrown, and spoil no other event', async () => {
  await ct.configure({ exporters: { file: { path: path.join(tmp, 'hostile-batch.jsonl') } } })
  await ct.flush(5000)
  const s0 = ct.stats()
  const record = diagnosticRecorder(ct)
  const cyclic = { input: 1 }
  cyclic.self = cyclic
  const hostile = [
    { type: 'run.started', get runId() { throw new Error('getter') } },
    new Proxy({ type: 'run.started' }, { get() { throw new Error('get') } }),
    (() => { const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); return proxy })(),
    { type: 'run.started', runId: 'r', durationMs: 10n },
    { type: 'model.call.completed', runId: 'r', usage: { input: 1n } },
  ]
  const good = (i) => ({ type: 'no.such.event', seq: 100 + i, runId: { nested: cyclic }, usage: cyclic, note: 10n })
  for (const [i, evt] of hostile.entries()) {
    assert.doesNotThrow(() => record(good(i), { trusted: true }))
    assert.doesNotThrow(() => record(evt, { trusted: true }))
  }
  assert.doesNotThrow(() => record('{"type":"x"}', {}))
  assert.doesNotThrow(() => record(null, null))
  record.drain()
  assert.equal(await ct.flush(5000), true)
  const s1 = ct.stats()
  const d = (k) => s1[k] - s0[k]
  assert.equal(d('eventsReceived'), 2 * hostile.length + 2, 'each call counted once')
  assert.equal(d('invalidUnserializable'), hostile.length, 'unreadable and BigInt-bearing events')
  assert.equal(d('invalidNotObject'), 2, 'a string and null are no events')
  // Objects where strings and objects where scalars belong: the same wrong types as whole (a cycle or a BigInt
  // the tracer never reads spoils nothing).
  assert.equal(d('invalidWrongFieldType'), hostile.length, 'the events around them decoded on their own')
  assert.equal(await ct.shutdown(5000), true)
  assertAccounted(ct.stats())
})

test('an event that throws half-way through its fields leaves nothing behind in the batch', async () => {
  await ct.configure({ exporters: { file: { path: path.join(tmp, 'half-way.jsonl') } } })
  await ct.flush(5000)
  const s0 = ct.stats()
  const record = diagnosticRecorder(ct)
  // First in its batch: its type (a name the table does not know: its text) and trace are written before the
  // getter throws.
  record({ type: 'no.such.first', trace: { traceId: 'a'.repeat(32) }, get runId() { throw new Error('getter') } }, { trusted: true })
  record({ type: 'diagnostic.heartbeat', seq: 7 })
  record({ type: 'no.such.event', runId: 'r', trace: { traceId: 'b'.repeat(32), spanId: 'c'.repeat(16) } })
  record.drain()
  assert.equal(await ct.flush(5000), true)
  const s1 = ct.stats()
  const d = (k) => s1[k] - s0[k]
  assert.equal(d('eventsReceived'), 3)
  assert.equal(d('invalidUnserializable'), 1, 'the throwing event, whole')
  assert.equal(d('skippedInfraEvent'), 1, 'the events after it read as written')
  assert.equal(d('skippedUnknownType'), 1)
  assert.equal(d('invalidTraceContext'), 0, 'its strings read as written')
  assert.equal(await ct.shutdown(5000), true)
  assertAccounted(ct.stats())
})

test('a batch the addon cannot read is counted as its events, never thrown', async () => {
  await ct.configure({ exporters: { file: { path: path.join(tmp, 'bad-batch.jsonl') } } })
  await ct.flush(5000)
  const s0 = ct.stats()
  const f64 = new Float64Array(8)
  const u16 = new Uint16Array(8)
  const bad = [
    [42, f64, u16, 2, 3],
    ['', [1, 2], u16, 2, 3],
    ['', f64, new Uint8Array(8), 2, 3],
    ['', f64, u16, 9, 3],
    ['', new Float64Array(new ArrayBuffer(24), 8, 1), u16, 2, 3],
  ]
  for (const args of bad) assert.equal(ct.recordDiagnosticBatch(...args), false)
  // Readable, but not what the plugin writes: every event it claims is counted malformed.
  assert.equal(ct.recordDiagnosticBatch('', f64, u16, 0, 2), true)
  assert.equal(await ct.flush(5000), true)
  const s1 = ct.stats()
  const d = (k) => s1[k] - s0[k]
  assert.equal(d('eventsReceived'), 3 * bad.length + 2)
  assert.equal(d('invalidUnserializable'), 3 * bad.length)
  assert.equal(d('invalidMalformedJson'), 2)
  assert.equal(await ct.shutdown(5000), true)
  assertAccounted(ct.stats())
})

test('an infra event with a hostile type getter is still counted, never thrown', async () => {
  await ct.configure({ exporters: { file: { path: path.join(tmp, 'hostile.jsonl') } } })
  const record = diagnosticRecorder(ct, { full: true })
  const before = ct.stats().eventsReceived
  const evt = {
    get type() {
      throw new Error('no')
    },
  }
  assert.doesNotThrow(() => record(evt, { trusted: false }))
  assert.equal(ct.stats().eventsReceived, before + 1)
  assert.equal(await ct.shutdown(5000), true)
  assertAccounted(ct.stats())
})

test('queueCapacity applies to events recorded right after configure(), before it resolves', async () => {
  const configured = ct.configure({ queueCapacity: 10, exporters: { file: { path: path.join(tmp, 'capacity.jsonl') } } })
  const before = ct.stats()
  let taken = 0
  for (let i = 0; i < 5000; i++) if (ct.recordDiagnostic('{"type":"no.such.event"}')) taken++
  await configured
  const dropped = ct.stats().droppedQueueFull - before.droppedQueueFull
  assert.ok(dropped > 0, 'a 10-event queue cannot take 5,000 events recorded back to back')
  assert.equal(taken + dropped, 5000)
  assert.equal(await ct.shutdown(5000), true)
})
