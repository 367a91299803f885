// Nothing lost while a backend is down: batches that outlive the retry deadline are parked on disk, survive a
// reconfiguration (as they would a gateway restart), and are delivered once the backend answers again.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import fs from 'node:fs'
import http from 'node:http'
import { spawn } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const CORPUS = path.join(ROOT, 'fixtures', 'openclaw-2026.9.6-gateway.jsonl')
const FEEDER = path.join(ROOT, '__test__', 'helpers', 'feeder-child.cjs')
const ct = require(ROOT)

/** An OTLP/JSON receiver that answers 503 while `down`, and records every span it accepts. */
async function receiver() {
  const r = { down: true, refused: 0, spans: [] }
  r.server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      if (r.down) {
        r.refused++
        return res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"maintenance"}')
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) r.spans.push(...ss.spans)
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise((ok) => r.server.listen(0, '127.0.0.1', ok))
  r.url = `http://127.0.0.1:${r.server.address().port}`
  return r
}

async function until(what, cond, limitMs = 60_000) {
  const end = Date.now() + limitMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

test('a down backend: spooled, kept across reconfiguration, delivered when it is back', { timeout: 120_000 }, async () => {
  const rx = await receiver()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-spool-'))
  try {
    const cfg = {
      exporters: { otlp: { endpoint: rx.url, protocol: 'http/json' } },
      spool: { dir },
      batch: { retryDeadlineMs: 300, maxDelayMs: 50 },
    }
    await ct.configure(cfg)
    const before = ct.stats()
    const sum = await ct.replay(CORPUS)
    assert.equal(sum.flushed, false, 'a parked span is not a delivered one: the replay says so')
    assert.equal(await ct.flush(5_000), false, 'and so does flush(), while the backend is down')
    let st = ct.stats()
    assert.ok(rx.refused > 0, 'the backend was tried')
    assert.equal(st.sinks.otlp.spansSpooled, 118, 'every span parked')
    assert.equal(st.sinks.otlp.spansFailed, 0)
    assert.equal(st.sinks.otlp.spansExported, 0)
    assert.equal(st.spansSpooled - before.spansSpooled, 118)
    const files = fs.readdirSync(path.join(dir, 'otlp')).filter((f) => f.endsWith('.batch'))
    assert.ok(files.length >= 1, 'batches are on disk')

    // A new configuration (as after a gateway restart) opens the same spool: the backlog is still there.
    await ct.configure(cfg)
    rx.down = false
    await until('the backlog to drain', () => ct.stats().sinks.otlp.spansUnspooled === 118)
    assert.equal(await ct.flush(5_000), true, 'flush() is true once the backlog is delivered')
    assert.equal(rx.spans.length, 118)
    assert.equal(new Set(rx.spans.map((s) => s.spanId)).size, 118, 'every span delivered exactly once')
    assert.deepEqual(fs.readdirSync(path.join(dir, 'otlp')).filter((f) => !f.startsWith('.')), [], 'the spool is empty again')
  } finally {
    rx.server.close()
    await ct.configure({ exporters: { file: { path: path.join(dir, 'after.jsonl') } } })
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('a spool that is full drops with a counter instead of growing', { timeout: 120_000 }, async () => {
  const rx = await receiver()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-spool-'))
  try {
    await ct.configure({
      exporters: { otlp: { endpoint: rx.url, protocol: 'http/json' } },
      spool: { dir, maxBytes: 20_000 },
      batch: { retryDeadlineMs: 100, maxDelayMs: 50, maxSpans: 8 },
    })
    const before = ct.stats()
    await ct.replay(CORPUS)
    const st = ct.stats()
    const s = st.sinks.otlp
    assert.ok(s.spansFailed > 0, 'some batches did not fit')
    assert.ok(s.spansSpooled > 0, 'what fits is parked')
    assert.ok(s.spansReceived >= 118)
    assert.equal(s.spansSpooled + s.spansFailed, s.spansReceived, 'every span is either parked or counted as lost')
    assert.equal(st.spoolFullDropped - before.spoolFullDropped, s.spansFailed)
    const bytes = fs.readdirSync(path.join(dir, 'otlp')).reduce((n, f) => n + fs.statSync(path.join(dir, 'otlp', f)).size, 0)
    assert.ok(bytes <= 20_000, `spool stays within its bound (${bytes} bytes)`)
  } finally {
    rx.server.close()
    await ct.configure({ exporters: { file: { path: path.join(dir, 'after.jsonl') } } })
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

/** Runs `node feeder-child.cjs` with no events of its own: it configures, flushes (draining the spool) and exits. */
function drainer(cfg, workDir) {
  const child = spawn(process.execPath, [FEEDER, JSON.stringify(cfg), JSON.stringify({ chunks: 0, workDir, flushMs: 60_000 })], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, err, last: JSON.parse(out.trim().split('\n').pop() || 'null') })))
}

test('two processes draining one spool deliver every parked batch exactly once', { timeout: 120_000 }, async () => {
  const rx = await receiver()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-spool-'))
  try {
    const cfg = {
      exporters: { otlp: { endpoint: rx.url, protocol: 'http/json' } },
      spool: { dir },
      batch: { retryDeadlineMs: 100, maxDelayMs: 50, maxSpans: 4 },
    }
    await ct.configure(cfg)
    await ct.replay(CORPUS)
    const parked = fs.readdirSync(path.join(dir, 'otlp')).filter((f) => f.endsWith('.batch'))
    assert.ok(parked.length >= 10, `many batches parked (${parked.length})`)
    await ct.configure({ exporters: { file: { path: path.join(dir, 'after.jsonl') } } })
    rx.down = false
    const [a, b] = await Promise.all([drainer(cfg, dir), drainer(cfg, dir)])
    assert.equal(a.code, 0, a.err)
    assert.equal(b.code, 0, b.err)
    const unspooled = [a, b].map((r) => r.last.stats.sinks.otlp.spansUnspooled)
    assert.equal(unspooled[0] + unspooled[1], 118, `the two processes shared the work (${unspooled})`)
    assert.equal(rx.spans.length, 118, 'every parked span delivered')
    assert.equal(new Set(rx.spans.map((s) => s.spanId)).size, 118, 'none twice')
    assert.ok(a.last.flushed && b.last.flushed, 'both flushes report everything delivered')
  } finally {
    rx.server.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('corrupt spool files are removed and each one counted', { timeout: 60_000 }, async () => {
  const rx = await receiver()
  rx.down = false
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-spool-'))
  try {
    fs.mkdirSync(path.join(dir, 'otlp'))
    const bad = ['000000000000001-0000000001-00000001.batch', '000000000000001-0000000001-00000002.batch', '000000000000001-0000000001-00000003.batch', '000000000000001-0000000001-00000004.batch']
    fs.writeFileSync(path.join(dir, 'otlp', bad[0]), 'not a batch')
    fs.writeFileSync(path.join(dir, 'otlp', bad[1]), '')
    fs.writeFileSync(path.join(dir, 'otlp', bad[2]), 'clawtrace-spool/1 {"spans":1}\nxx')
    fs.writeFileSync(path.join(dir, 'otlp', bad[3]), 'clawtrace-spool/1 {"spans":1,"traces":1,"content_type":"application/json"}\n')
    const errors = []
    ct.onError((e) => errors.push(e))
    const before = ct.stats().spoolCorruptBatches
    await ct.configure({ exporters: { otlp: { endpoint: rx.url, protocol: 'http/json' } }, spool: { dir } })
    assert.equal(await ct.flush(10_000), true)
    const st = ct.stats()
    assert.equal(st.spoolCorruptBatches - before, 4, 'every corrupt file counted')
    assert.equal(st.sinks.otlp.spoolCorruptBatches, 4)
    assert.deepEqual(fs.readdirSync(path.join(dir, 'otlp')), [], 'and removed, no temporary file left')
    await new Promise((r) => setTimeout(r, 50))
    assert.ok(errors.some((e) => e.sink === 'otlp' && e.kind === 'spool' && /unreadable batch/.test(e.message)), 'and reported')
  } finally {
    rx.server.close()
    await ct.configure({ exporters: { file: { path: path.join(dir, 'after.jsonl') } } })
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('configure() rejects an unusable spool directory with a clear error', async () => {
  assert.throws(() => ct.configure({ exporters: { otlp: { endpoint: 'http://127.0.0.1:9' } }, spool: { dir: '' } }), /spool\.dir must be a non-empty string/)
  await assert.rejects(ct.configure({ exporters: { otlp: { endpoint: 'http://127.0.0.1:9' } }, spool: { dir: '/proc/clawtrace-cannot' } }), /spool: cannot create/)
})
