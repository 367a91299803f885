// The gateway-thread hot path (plugin/hotpath.mjs): infra-only event types are counted, not serialised, and the
// traces are the same as when every event crosses whole; queueCapacity holds from the configure() call on.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { diagnosticRecorder, json, trusted } from '../plugin/hotpath.mjs'
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

/**
 * Records a copy of the corpus (its own ids, bench/lib.mjs) with `record` into its own file; returns the shape of
 * its spans (name, parent's name, status) and the counters it moved.
 */
async function run(name, record) {
  const file = path.join(tmp, `${name}.jsonl`)
  await ct.configure({ exporters: { file: { path: file } }, graceMs: 50 })
  const before = ct.stats()
  const events = corpusCopy(base, ++copies, 1_000_000 * copies, Date.now())
  for (const r of events) record(r.evt, r.meta)
  assert.equal(await ct.shutdown(10_000), true)
  const after = ct.stats()
  const spans = [...(await tree.readTraces(file)).values()].flatMap((ss) => {
    const byId = new Map(ss.map((s) => [s.spanId, s]))
    return ss.map((s) => `${s.name} < ${byId.get(s.parentSpanId)?.name ?? '-'} ${s.status.code ?? 0}`)
  })
  spans.sort()
  const d = (k) => after[k] - before[k]
  return { spans, after, received: d('eventsReceived'), infra: d('skippedInfraEvent'), inSpans: d('eventsInSpans') }
}

test('infra-only types are counted without crossing as JSON, and the traces do not change', async () => {
  const infra = new Set(ct.infraEventTypes())
  assert.ok(infra.has('gateway.event_loop.sample') && infra.has('diagnostic.gc') && !infra.has('run.started'))
  const whole = await run('whole', (evt, meta) => ct.recordDiagnostic(json(evt), trusted(meta)))
  let crossedAsJson = 0
  const counting = { ...ct, recordDiagnostic: (...a) => (crossedAsJson++, ct.recordDiagnostic(...a)) }
  const skipping = await run('skipping', diagnosticRecorder(counting))

  const infraInCorpus = base.filter((r) => infra.has(r.evt.type)).length
  assert.ok(infraInCorpus > 100, 'the corpus has infra events')
  assert.equal(crossedAsJson, base.length - infraInCorpus, 'infra events never reach recordDiagnostic')
  assert.equal(skipping.received, base.length)
  assert.equal(skipping.infra, whole.infra, 'the same infra events counted')
  assert.equal(skipping.inSpans, whole.inSpans)
  assert.ok(whole.spans.length > 0)
  assert.deepEqual(skipping.spans, whole.spans)
  assertAccounted(skipping.after)
})

test('an infra event with a hostile type getter is still counted, never thrown', async () => {
  await ct.configure({ exporters: { file: { path: path.join(tmp, 'hostile.jsonl') } } })
  const record = diagnosticRecorder(ct)
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
