// Nothing lost, nothing twice, against a real MLflow that goes away: killed (SIGKILL) for 20 s and for 60 s while a
// gateway stand-in keeps feeding turns, and a clawtrace process SIGKILLed with a spool full of parked batches and
// started again. Deliveries are counted at a proxy in front of MLflow, span id by span id (MLflow upserts, so what
// it stores could hide a duplicate).
//
// With a spool every span is delivered exactly once. Without one every span is delivered at most once and each one
// that is not is counted (spansFailed / spansRejected).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { countingProxy } from './helpers/counting-proxy.mjs'
import { decodeRequest } from './helpers/langfuse-receiver.mjs'
import { uniqueName } from './helpers/mlflow.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SCRIPT = path.join(ROOT, 'scripts', 'mlflow-server.sh')
const FEEDER = path.join(ROOT, '__test__', 'helpers', 'feeder-child.cjs')

/** A dedicated MLflow (this file kills it; the shared one of the other suites must stay up). */
let mlflow
function mlflowCtl(cmd) {
  const r = spawnSync('bash', [SCRIPT, cmd, mlflow.dir], { encoding: 'utf8' })
  assert.equal(r.status, 0, `mlflow-server.sh ${cmd}: ${r.stderr}`)
}

before(async () => {
  const r = spawnSync('bash', [SCRIPT, 'start'], { encoding: 'utf8' })
  assert.equal(r.status, 0, `could not start MLflow: ${r.stderr}`)
  mlflow = {
    uri: /CLAWTRACE_TEST_MLFLOW_URI=(\S+)/.exec(r.stdout)[1],
    dir: /CLAWTRACE_TEST_MLFLOW_DIR=(\S+)/.exec(r.stdout)[1],
  }
})

after(() => {
  if (mlflow) spawnSync('bash', [SCRIPT, 'stop', mlflow.dir])
})

function feeder(config, options) {
  const child = spawn(process.execPath, [FEEDER, JSON.stringify(config), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] })
  const f = { child, lines: [], stderr: '' }
  let buf = ''
  child.stdout.on('data', (d) => {
    buf += d
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      f.lines.push(JSON.parse(buf.slice(0, i)))
      buf = buf.slice(i + 1)
    }
  })
  child.stderr.on('data', (d) => (f.stderr += d))
  f.exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })))
  f.last = () => f.lines[f.lines.length - 1]
  return f
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function until(what, cond, limitMs = 120_000) {
  const end = Date.now() + limitMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`)
    await sleep(100)
  }
}

function mlflowConfig(px, extra = {}) {
  return {
    exporters: { mlflow: { trackingUri: px.url, experimentName: uniqueName('outage') } },
    batch: { retryDeadlineMs: 2_000, maxDelayMs: 200 },
    ...extra,
  }
}

/** The spans parked in a spool directory, decoded from the files as they are on disk. */
function spooledSpanIds(dir) {
  const ids = []
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.batch'))) {
    const raw = fs.readFileSync(path.join(dir, f))
    const nl = raw.indexOf(10)
    const meta = JSON.parse(raw.subarray(0, nl).toString('utf8').replace(/^clawtrace-spool\/1 /, ''))
    const { spans } = decodeRequest(raw.subarray(nl + 1), meta.content_type, meta.content_encoding)
    assert.equal(spans.length, meta.spans, `${f}: the header counts the spans of its request`)
    ids.push(...spans.map((s) => s.spanId))
  }
  return ids
}

async function outage({ downMs, spool }) {
  const px = await countingProxy(mlflow.uri)
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-outage-'))
  try {
    const cfg = mlflowConfig(px, spool ? { spool: { dir: path.join(work, 'spool') } } : {})
    const chunks = Math.ceil((downMs + 20_000) / 1_000)
    const backUp = path.join(work, 'backend-is-back')
    const f = feeder(cfg, { chunks, eventsPerChunk: 150, pauseMs: 700, workDir: work, seed: downMs, flushWhenExists: backUp })
    await until('the first deliveries', () => px.accepted > 0 || f.last()?.done)
    mlflowCtl('kill')
    const downAt = Date.now()
    await sleep(downMs)
    mlflowCtl('resume')
    const outageMs = Date.now() - downAt
    fs.writeFileSync(backUp, '')
    const { code } = await f.exited
    assert.equal(code, 0, f.stderr)
    const end = f.last()
    assert.ok(end.done, 'the feeder finished')
    const s = end.stats.sinks.mlflow
    assert.ok(s.spansReceived > 1_000, `a real load went through (${s.spansReceived} spans)`)
    console.log(
      `# outage ${outageMs} ms, spool ${spool}: ${s.spansReceived} spans received, ${px.deliveries.size} delivered at the proxy ` +
        `(${px.duplicates().length} twice), exported ${s.spansExported}, spooled ${s.spansSpooled}, unspooled ${s.spansUnspooled}, ` +
        `failed ${s.spansFailed}, ${px.requests} requests`,
    )
    assert.deepEqual(px.duplicates(), [], 'no span delivered twice')
    return { px, s, end, outageMs, work }
  } finally {
    await px.close()
    fs.rmSync(work, { recursive: true, force: true })
  }
}

test('MLflow killed for 20 s under load, with a spool: every span delivered exactly once', { timeout: 300_000 }, async () => {
  const { px, s, end, outageMs } = await outage({ downMs: 20_000, spool: true })
  assert.ok(s.spansSpooled > 0, 'the outage was long enough to spool')
  assert.equal(s.spansFailed, 0, 'nothing lost')
  assert.equal(s.spansRejected, 0)
  assert.equal(px.deliveries.size, s.spansReceived, `every span delivered (outage ${outageMs} ms)`)
  assert.equal(end.flushed, true, 'flush tells the truth: everything was delivered')
  assert.equal(s.spansExported + s.spansUnspooled, s.spansReceived, 'the counters say the same')
})

test('MLflow killed for 60 s under load, without a spool: at most once, and every missing span counted', { timeout: 400_000 }, async () => {
  const { px, s, outageMs } = await outage({ downMs: 60_000, spool: false })
  assert.ok(s.spansFailed > 0, `the outage (${outageMs} ms) outlived the retry deadline`)
  assert.equal(px.deliveries.size + s.spansFailed + s.spansRejected + s.spansDroppedQueueFull, s.spansReceived, 'delivered + counted = received')
})

test('SIGKILL with a full spool, then a new process: every parked span delivered exactly once', { timeout: 300_000 }, async () => {
  const px = await countingProxy(mlflow.uri)
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-sigkill-'))
  const spoolDir = path.join(work, 'spool')
  try {
    mlflowCtl('kill')
    const cfg = mlflowConfig(px, { spool: { dir: spoolDir } })
    const first = feeder(cfg, { chunks: 6, pauseMs: 200, workDir: work, seed: 77, stopAfterChunks: true })
    const mlflowStats = () => first.last()?.fed && first.last().stats.sinks.mlflow
    await until('the first process to park everything it received', () => mlflowStats() && mlflowStats().spansReceived > 0 && mlflowStats().spansSpooled === mlflowStats().spansReceived, 200_000)
    const parked = spooledSpanIds(path.join(spoolDir, 'mlflow'))
    assert.ok(parked.length > 0, 'batches are on disk')
    first.child.kill('SIGKILL')
    await first.exited
    mlflowCtl('resume')
    const second = feeder(cfg, { chunks: 0, workDir: work })
    const { code } = await second.exited
    assert.equal(code, 0, second.stderr)
    const end = second.last()
    assert.equal(end.flushed, true, 'the new process drained the spool')
    assert.ok(end.stats.sinks.mlflow.spansUnspooled >= parked.length, 'what was on disk at the kill, and what the dying process parked after it')
    console.log(`# SIGKILL: ${parked.length} spans on disk at the kill, ${end.stats.sinks.mlflow.spansUnspooled} delivered by the next process`)
    for (const id of parked) assert.equal(px.deliveries.get(id), 1, `span ${id} delivered exactly once`)
    assert.deepEqual(px.duplicates(), [])
    assert.deepEqual(spooledSpanIds(path.join(spoolDir, 'mlflow')), [], 'the spool is empty')
  } finally {
    await px.close()
    fs.rmSync(work, { recursive: true, force: true })
  }
})
