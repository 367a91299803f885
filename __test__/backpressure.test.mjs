// Nothing stalled, nothing lost uncounted: a backend that accepts and never answers, a flood far past what the
// background can take, and a shutdown deadline against a hanging backend. Each scenario runs in a child process
// (helpers/load-child.cjs) so its counters are its own. Timeouts here are safety nets, not performance targets:
// each bound is many times what the design needs (flush and shutdown return at their deadline, configure() waits at
// most 2 s for the previous sinks).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { eventsAccounted, fates } from './helpers/accounting.cjs'

const require = createRequire(import.meta.url)
const HERE = path.dirname(fileURLToPath(import.meta.url))
const tree = require(path.join(HERE, '..', 'bin', 'tree.js'))
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-backpressure-'))
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }))

/** Generous: a call that should return at its deadline D must return before D + SLACK_MS. */
const SLACK_MS = 8000
/** Peak RSS of the whole flooded process (addon, Node, the event pool): queue bounded to 16 MiB, 10,000 open traces. */
const MAX_RSS_MB = 768

function runChild(scenario, opts, timeoutMs = 240_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(HERE, 'helpers', 'load-child.cjs'), scenario, JSON.stringify(opts)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      if (code !== 0) return reject(new Error(`load-child ${scenario} exited ${code}: ${err}`))
      resolve(JSON.parse(out))
    })
  })
}

/** Spans in a file sink's output, streamed (an overload run writes more than one string can hold). */
async function spansInFile(file) {
  let n = 0
  // Keeps no trace: only counts them.
  await tree.readTraces(file, (_, spans) => {
    n += spans.length
    return false
  })
  return n
}

function assertEventsAddUp(st) {
  assert.equal(st.eventsReceived, eventsAccounted(st) + st.queueLength, `eventsReceived = ${Object.keys(fates(st)).join(' + ')} + still queued`)
}

test('a hanging backend stalls nothing: intake, the healthy sink, flush(deadline) and configure() all keep going', { timeout: 300_000 }, async () => {
  const file = path.join(tmp, 'hang.jsonl')
  const r = await runChild('hang', { file, events: 20_000, rate: 4000, flushMs: 1000 })
  console.log(`# hang: flush(1000) ${r.flush.ms} ms → ${r.flush.value}, configure() ${r.configure.ms} ms, flush again ${r.flushAfter.ms} ms; ${r.recorded} events`)
  // Intake: every record call was taken, none dropped for lack of queue space.
  assert.equal(r.recorded, r.counts.events)
  assert.equal(r.refused, 0)
  assert.equal(r.stats.droppedQueueFull, 0)
  // The calls a host makes return by their deadline although a backend never answers.
  assert.equal(r.flush.value, false, 'the hanging sink did not deliver')
  assert.ok(r.flush.ms < 1000 + SLACK_MS, `flush(1000) took ${r.flush.ms} ms`)
  assert.ok(r.flushAfter.ms < 1000 + SLACK_MS, `the next flush(1000) took ${r.flushAfter.ms} ms`)
  assert.ok(r.configure.ms < SLACK_MS, `configure() took ${r.configure.ms} ms`)
  assert.ok(r.hangingConnections > 0, 'the hanging backend was tried')
  // The healthy sink kept up: every span of every turn is in the file, once.
  assert.equal(r.stats.spansExported, r.counts.spans, 'every span exported (by the file sink; the other hangs)')
  assert.equal(await spansInFile(file), r.counts.spans)
  assert.equal(r.stats.sinks.file.spansDroppedQueueFull, 0)
  assert.equal(r.stats.sinks.file.spansExported, r.stats.sinks.file.spansReceived)
  assertEventsAddUp(r.stats)
})

for (const spool of [false, true]) {
  test(`shutdown(deadline) against a hanging backend ${spool ? 'with' : 'without'} a spool: exported + spooled + lost = accepted`, { timeout: 300_000 }, async () => {
    const dir = spool ? fs.mkdtempSync(path.join(tmp, 'spool-')) : undefined
    const r = await runChild('shutdown', { events: 6000, shutdownMs: 3000, spool: dir })
    const s = r.stats.sinks.otlp
    console.log(`# shutdown(3000): ${r.shutdown.ms} ms → ${r.shutdown.value}; otlp received ${s.spansReceived}, spooled ${s.spansSpooled}, lost ${s.spansLostShutdown}`)
    assert.equal(r.shutdown.value, false, 'nothing was delivered, and shutdown says so')
    assert.ok(r.shutdown.ms < 3000 + SLACK_MS, `shutdown(3000) took ${r.shutdown.ms} ms`)
    assert.equal(r.refused, 0)
    // Accepted: every span of every turn reached the sink (the burst fits its queue and the shutdown's hand-over).
    assert.equal(s.spansReceived + s.spansDroppedQueueFull, r.counts.spans)
    assert.equal(s.spansExported + s.spansSpooled + s.spansLostShutdown, s.spansReceived, 'exported + spooled + lost = accepted')
    assert.equal(s.spansRejected + s.spansFailed, 0)
    if (spool) {
      assert.equal(s.spansSpooled, s.spansReceived, 'with a spool, all of it waits there')
      assert.ok(fs.readdirSync(path.join(dir, 'otlp')).some((f) => f.endsWith('.batch')), 'the parked batches are on disk')
    } else {
      assert.equal(s.spansLostShutdown, s.spansReceived, 'without one, all of it is counted lost')
      assert.equal(r.stats.spansLostShutdown, s.spansLostShutdown)
    }
    assertEventsAddUp(r.stats)
  })
}

test('overload: spans keep leaving while the excess is shed at intake, counted, in bounded memory', { timeout: 300_000 }, async () => {
  const file = path.join(tmp, 'overload.jsonl')
  const seconds = 15
  const r = await runChild('overload', { file, events: 60_000, seconds, queueMaxBytes: 16 << 20 })
  const st = r.stats
  const processed = r.afterLoad.eventsReceived - r.afterLoad.droppedQueueFull - r.afterLoad.queueLength
  console.log(
    `# overload: offered ${r.offered} events in ${r.loadMs} ms (${Math.round(r.offered / (r.loadMs / 1000))}/s), ` +
      `taken ${processed} (${(r.offered / Math.max(1, processed)).toFixed(1)}x what the background took), ` +
      `dropped at intake ${r.afterLoad.droppedQueueFull}, spans exported during the load ${r.afterLoad.spansExported}, ` +
      `peak RSS ${(r.maxRss / 2 ** 20).toFixed(0)} MB`,
  )
  // It was an overload: the excess was shed at intake, and counted.
  assert.ok(r.afterLoad.droppedQueueFull > 0, 'the flood exceeded what the background takes')
  // Spans kept leaving during the load: in each third of it (after the first 2 s), spansExported grew.
  const during = r.samples.filter((s) => s.t >= 2000)
  const third = Math.floor((during.length - 1) / 3)
  for (const i of [0, third, 2 * third]) {
    const [a, b] = [during[i], during[i + third]]
    assert.ok(b.exported > a.exported, `nothing exported between ${a.t} and ${b.t} ms of the load`)
  }
  assert.ok(r.afterLoad.spansExported > 0)
  // Every drop counted by reason; the identity holds; every span that left is in the file.
  assertEventsAddUp(st)
  assert.equal(st.queueLength, 0)
  const f = st.sinks.file
  assert.equal(f.spansExported + f.spansFailed + f.spansLostShutdown, f.spansReceived, 'every span the sink took is accounted for')
  assert.equal(st.spansDroppedSinkQueueFull, f.spansDroppedQueueFull)
  assert.equal(await spansInFile(file), st.spansExported)
  assert.ok(r.maxRss < MAX_RSS_MB * 2 ** 20, `peak RSS ${(r.maxRss / 2 ** 20).toFixed(0)} MB >= ${MAX_RSS_MB} MB`)
})

test('queueCapacity from configure() applies to the queue already running', async () => {
  const ct = require('../index.js')
  // The first configure() starts the pipeline; its queue bound is the configured one, not the default 65,536.
  await ct.configure({ queueCapacity: 10, exporters: { file: { path: path.join(tmp, 'capacity.jsonl') } } })
  const before = ct.stats()
  let taken = 0
  for (let i = 0; i < 5000; i++) if (ct.recordDiagnostic('{"type":"no.such.event"}')) taken++
  const dropped = ct.stats().droppedQueueFull - before.droppedQueueFull
  assert.ok(dropped > 0, 'a 10-event queue cannot take 5,000 events recorded back to back')
  assert.equal(taken + dropped, 5000, 'every refused call is counted')
  assert.equal(await ct.shutdown(5000), true)
})
