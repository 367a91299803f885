// The record option (`record: {path, maxBytes}`): what crosses is written in the record format, and replaying that
// file gives the same traces as the events it recorded. Driven through replay (the events cross the same queue as
// live ones), in a child process per run so counters start at zero.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { replayInChild } from './helpers/replay.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SCENARIOS = path.join(ROOT, 'fixtures', 'openclaw-2026.9.6-scenarios.jsonl')

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-record-'))
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }))

const lines = (file) => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)

/** Every span as `trace span parent name status attributes`, sorted: what two exports must share. */
function spans(file) {
  const out = []
  for (const line of lines(file)) {
    for (const rs of JSON.parse(line).resourceSpans ?? []) {
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) out.push(`${s.traceId} ${s.spanId} ${s.parentSpanId ?? ''} ${s.name} ${s.status?.code ?? 0} ${JSON.stringify(s.attributes)}`)
      }
    }
  }
  return out.sort()
}

test('a recorded session replays to the same traces, and the recorder never exceeds its bound', { timeout: 180_000 }, async () => {
  const record = path.join(tmp, 'rec', 'events.jsonl')
  const first = path.join(tmp, 'first.jsonl')
  const a = await replayInChild(
    { captureContent: true, record: { path: record, maxBytes: 64 << 20 }, exporters: { file: { path: first } } },
    { file: SCENARIOS, salt: false },
  )
  const events = lines(SCENARIOS).filter((l) => !l.includes('"src":"marker"')).length
  assert.equal(a.stats.recorderEventsWritten, events, 'every event that crossed was written')
  assert.equal(a.stats.recorderEventsLost, 0)
  const recorded = lines(record)
  assert.equal(recorded.length, events)
  for (const l of recorded.slice(0, 50)) {
    const r = JSON.parse(l)
    assert.ok(['diagnostic', 'agent', 'hook'].includes(r.src) && typeof r.pid === 'number' && typeof r.rt === 'number' && r.evt)
  }

  const second = path.join(tmp, 'second.jsonl')
  const b = await replayInChild({ captureContent: true, exporters: { file: { path: second } } }, { file: record, salt: false })
  assert.equal(b.stats.eventsReceived, events)
  assert.equal(b.stats.eventsInSpans, a.stats.eventsInSpans, 'every event is used as it was the first time')
  assert.ok(spans(second).some((s) => s.includes('gen_ai.input.messages')), 'content came through')
  assert.ok(spans(first).length > 100)
  assert.deepEqual(spans(second), spans(first), 'the recording replays to the same traces')

  // Bounded: a small maxBytes rotates to <path>.1, and neither file grows past it.
  const small = path.join(tmp, 'small', 'events.jsonl')
  const c = await replayInChild(
    { captureContent: true, record: { path: small, maxBytes: 256 << 10 }, exporters: { file: { path: path.join(tmp, 'third.jsonl') } } },
    { file: SCENARIOS, salt: false },
  )
  assert.equal(c.stats.recorderEventsWritten + c.stats.recorderEventsLost, events)
  for (const f of [small, `${small}.1`]) assert.ok(fs.statSync(f).size <= 256 << 10, `${f} within maxBytes`)
})
