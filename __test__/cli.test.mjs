// The clawtrace CLI end to end: the real corpus with --tree, a 1,000,000-event synthetic stream (bounded memory,
// counters that add up, every turn exported), and the same shape with trace context stripped.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import http from 'node:http'
import zlib from 'node:zlib'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { assertAccounted } from './helpers/accounting.cjs'

const require = createRequire(import.meta.url)
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const CLI = path.join(ROOT, 'bin', 'clawtrace.js')
const CORPUS = path.join(ROOT, 'fixtures', 'openclaw-2026.9.6-gateway.jsonl')
const LEGACY = path.join(ROOT, 'fixtures', 'openclaw-2026.3.24-scenarios.jsonl')
const { generate } = require(path.join(ROOT, 'bench', 'synth.js'))
const tree = require(path.join(ROOT, 'bin', 'tree.js'))
const HAVE_TIME = fs.existsSync('/usr/bin/time')
// Peak RSS bound for the 1M-event replay. Measured ~450-580 MB on a 2-core x64 box (see the final report).
const MAX_RSS_MB = Number(process.env.CLAWTRACE_MAX_RSS_MB || 1100)

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-cli-'))
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }))

function runCli(args, { timeVerbose = false } = {}) {
  const cmd = timeVerbose && HAVE_TIME ? '/usr/bin/time' : process.execPath
  const argv = timeVerbose && HAVE_TIME ? ['-v', process.execPath, CLI, ...args] : [CLI, ...args]
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 300_000 })
  let rssKb
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr || '')
  if (m) rssKb = Number(m[1])
  return { ...r, rssKb }
}

function sumPrefix(stats, prefix) {
  return Object.entries(stats)
    .filter(([k, v]) => k.startsWith(prefix) && typeof v === 'number')
    .reduce((a, [, v]) => a + v, 0)
}

// Every event handed in is accounted for exactly once. (A replay counts malformed lines and unknown sources as
// received but never queues them; decode-time invalid events are queued. Our inputs have neither, so both
// identities are checked in their strict form.)
function assertCountersAddUp(st) {
  const invalid = sumPrefix(st, 'invalid') - (st.invalidTraceContext || 0) // a bad trace context keeps its event
  assert.equal(sumPrefix(st, 'dropped'), 0, 'nothing dropped in a replay')
  assert.equal(invalid, 0, 'generated input is valid')
  assert.equal(st.eventsReceived, st.eventsQueued + invalid + (st.skippedUnknownSource || 0), 'received = queued + invalid')
  assertAccounted(st, 'replay')
}

test('replay of a 2026.3.24 recording, no config: the early-2026 host is detected and its model calls rebuilt', () => {
  const out = path.join(tmp, 'legacy.jsonl')
  const statsFile = path.join(tmp, 'legacy-stats.json')
  const r = runCli(['replay', LEGACY, '--out', out, '--stats-json', statsFile])
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stderr, /without trusted diagnostic events or trace context.*legacyHost/)
  const traces = [...tree.parseOtlpJsonLines(fs.readFileSync(out, 'utf8')).values()]
  const session = (sk) => traces.filter((spans) => spans.some((s) => s.attributes['session.id'] === sk))
  const names = (spans) => spans.map((s) => s.name).sort()
  const [toolTurn] = session('agent:main:e2e-tool')
  assert.deepEqual(names(toolTurn), ['chat fake-model', 'chat fake-model', 'execute_tool read', 'invoke_agent main',
    'openclaw.harness.run', 'openclaw.model.usage', 'openclaw.run'], 'two model calls around the tool')
  const [failed] = session('agent:main:e2e-retry')
  const chats = failed.filter((s) => s.name === 'chat fake-model')
  assert.equal(chats.length, 4, 'one failed call per attempt')
  assert.ok(chats.every((s) => s.status.code === 2 && s.attributes['http.response.status_code'] === 500))
  assert.equal(failed.find((s) => !s.parentSpanId).status.code, 2, 'the turn OpenClaw called completed failed')
  assert.equal(session('agent:main:e2e-burst').length, 4, 'one trace per queued message')
  const st = JSON.parse(fs.readFileSync(statsFile, 'utf8'))
  assert.ok(st.eventsTranslated > 0, 'the legacy adapter ran')
  assertAccounted(st, 'replay')

  // A config that says otherwise wins.
  const cfgFile = path.join(tmp, 'not-legacy.json')
  fs.writeFileSync(cfgFile, JSON.stringify({ legacyHost: false }))
  const off = runCli(['replay', LEGACY, '--config', cfgFile, '--out', out])
  assert.equal(off.status, 0, off.stderr)
  assert.doesNotMatch(off.stderr, /legacyHost/)
  assert.ok(!fs.readFileSync(out, 'utf8').includes('chat fake-model'), 'no runs rebuilt')
})

test('replay of the real corpus with --tree', () => {
  const out = path.join(tmp, 'corpus.jsonl')
  const r = runCli(['replay', CORPUS, '--out', out, '--tree'])
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout, /\b19 traces\b/)
  assert.match(r.stdout, /file\s+19 traces, 118 spans exported →/)
  const lines = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean)
  const traces = tree.parseOtlpJsonLines(lines.join('\n'))
  assert.equal(lines.length, traces.size, 'one line per trace')
  assert.equal(lines.length, 19)
  // The tool trace, under its session header.
  const blocks = r.stdout.split(/\n(?=trace [0-9a-f]{32})/)
  const tool = blocks.find((b) => /^trace [0-9a-f]{32}\s+session\.id=agent:main:e2e-tool\b/.test(b) && b.includes('execute_tool read'))
  assert.ok(tool, `no e2e-tool trace with execute_tool read in:\n${r.stdout}`)
  assert.match(tool, /chat fake-model\s+\d+ms\s+tokens 123→7/)
  assert.match(r.stdout, /ERROR\(model call failed/)
})

test('CLI errors are clear and non-zero', () => {
  let r = runCli(['replay', path.join(tmp, 'missing.jsonl'), '--out', path.join(tmp, 'x.jsonl')])
  assert.notEqual(r.status, 0)
  assert.match(r.stderr, /cannot read .*missing\.jsonl: no such file/)
  r = runCli(['replay', CORPUS, '--exporter', 'file', '--mlflow-uri', 'http://127.0.0.1:1', '--out', path.join(tmp, 'x.jsonl')])
  assert.equal(r.status, 2)
  assert.match(r.stderr, /--mlflow-uri needs --exporter mlflow/)
  r = spawnSync(process.execPath, [CLI, 'replay', CORPUS, '--exporter', 'otlp'], {
    encoding: 'utf8',
    env: { ...process.env, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
  })
  assert.equal(r.status, 1)
  assert.match(r.stderr, /unsupported OTLP protocol "grpc"/)
  r = runCli(['replay', CORPUS, '--exporter', 'zipkin'])
  assert.equal(r.status, 2)
  assert.match(r.stderr, /unknown exporter 'zipkin'/)
  r = runCli(['--help'])
  assert.equal(r.status, 0)
  assert.match(r.stdout, /clawtrace replay FILE/)
})

test('1,000,000 synthetic events: bounded memory, counters add up, every turn exported', { timeout: 400_000 }, async () => {
  const input = path.join(tmp, 'synth-1m.jsonl')
  const out = path.join(tmp, 'synth-1m-out.jsonl')
  const statsFile = path.join(tmp, 'synth-1m-stats.json')
  const expected = await generate({ out: input, events: 1_000_000, sessions: 2000, seed: 1 })
  assert.ok(expected.events >= 1_000_000)
  const t0 = Date.now()
  const r = runCli(['replay', input, '--out', out, '--stats-json', statsFile], { timeVerbose: true })
  const ms = Date.now() - t0
  assert.equal(r.status, 0, r.stderr)
  fs.rmSync(input, { force: true })
  const st = JSON.parse(fs.readFileSync(statsFile, 'utf8'))
  const rssMb = (r.rssKb ?? st.maxRssKb) / 1024
  console.log(`# 1M replay: ${expected.events} events, ${(ms / 1000).toFixed(1)}s, peak RSS ${rssMb.toFixed(0)} MB`)
  assert.ok(rssMb < MAX_RSS_MB, `peak RSS ${rssMb.toFixed(0)} MB >= ${MAX_RSS_MB} MB`)
  assert.equal(st.replay.events, expected.events)
  assert.equal(st.eventsReceived, expected.events)
  assertCountersAddUp(st)
  assert.equal(st.spansDroppedSinkQueueFull, 0)
  assert.equal(st.tracesExported, expected.turns)
  assert.equal(st.spansExported, expected.spans)
  const { summary } = await tree.summarizeFile(out)
  assert.equal(summary.traces, expected.turns)
  assert.equal(summary.errorTraces, expected.failedTurns)
  assert.equal(summary.inputTokens, expected.inputTokens)
  fs.rmSync(out, { force: true })
})

test('trace context stripped: same traces and model-call spans, by correlation', { timeout: 120_000 }, async () => {
  const count = async (strip) => {
    const input = path.join(tmp, `synth-50k-${strip}.jsonl`)
    const out = path.join(tmp, `synth-50k-${strip}-out.jsonl`)
    const statsFile = path.join(tmp, `synth-50k-${strip}-stats.json`)
    const expected = await generate({ out: input, events: 50_000, sessions: 500, seed: 3, stripTrace: strip })
    if (strip) assert.ok(!fs.readFileSync(input, 'utf8').includes('"trace"'))
    const r = runCli(['replay', input, '--out', out, '--stats-json', statsFile])
    assert.equal(r.status, 0, r.stderr)
    const st = JSON.parse(fs.readFileSync(statsFile, 'utf8'))
    assertCountersAddUp(st)
    const traces = await tree.readTraces(out)
    let modelCalls = 0
    for (const [, spans] of traces) modelCalls += spans.filter((s) => s.attributes['gen_ai.operation.name'] === 'chat').length
    return { expected, st, traces: traces.size, modelCalls }
  }
  const withTrace = await count(false)
  const stripped = await count(true)
  assert.equal(withTrace.traces, withTrace.expected.turns)
  assert.equal(withTrace.modelCalls, withTrace.expected.modelCalls)
  assert.equal(stripped.expected.turns, withTrace.expected.turns, 'same stream shape')
  assert.equal(stripped.st.tracesExported, stripped.expected.turns)
  assert.equal(stripped.traces, withTrace.traces)
  assert.equal(stripped.modelCalls, withTrace.modelCalls)
})

/** Runs the CLI without blocking this process's event loop (an in-process receiver must keep answering). */
function runCliAsync(args, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

test('replay --exporter file --exporter otlp: both sinks get every span, once', async () => {
  const requests = []
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      let body = Buffer.concat(chunks)
      if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body)
      requests.push({ url: req.url, headers: req.headers, body: JSON.parse(body.toString('utf8')) })
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  try {
    const out = path.join(tmp, 'fanout.jsonl')
    const r = await runCliAsync(['replay', CORPUS, '--exporter', 'file,otlp', '--otlp-endpoint', `http://127.0.0.1:${server.address().port}/`, '--out', out], {
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=k%3D1',
      OTEL_SERVICE_NAME: 'gw-under-test',
    })
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /otlp\s+19 traces, 118 spans exported\n/)
    assert.match(r.stdout, /file\s+19 traces, 118 spans exported →/)
    assert.ok(requests.length >= 1)
    const spans = []
    for (const q of requests) {
      assert.equal(q.url, '/v1/traces')
      assert.equal(q.headers['content-type'], 'application/json')
      assert.equal(q.headers['x-api-key'], 'k=1')
      const rs = q.body.resourceSpans[0]
      const service = rs.resource.attributes.find((a) => a.key === 'service.name')
      assert.equal(service.value.stringValue, 'gw-under-test')
      for (const s of rs.scopeSpans[0].spans) spans.push(s)
    }
    assert.equal(spans.length, 118)
    assert.equal(new Set(spans.map((s) => s.spanId)).size, 118, 'every span exactly once')
    const fileTraces = await tree.readTraces(out)
    assert.equal(fileTraces.size, 19)
    assert.equal([...fileTraces.values()].reduce((n, t) => n + t.length, 0), 118)
  } finally {
    server.close()
  }
})

test('replay names the lines it skipped (too long, not UTF-8, not JSON) and goes on', () => {
  const file = path.join(tmp, 'bad-lines.jsonl')
  const good = fs.readFileSync(CORPUS, 'utf8').split('\n').slice(0, 20)
  const lines = good.map((l) => Buffer.from(l))
  lines[2] = Buffer.from('x'.repeat(3 << 20)) // line 3
  lines[4] = Buffer.concat([lines[4].subarray(0, 30), Buffer.from([0xc3, 0x28]), lines[4].subarray(30)]) // line 5
  lines[6] = Buffer.from('{"src":') // line 7
  fs.writeFileSync(file, Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])))
  const r = runCli(['replay', file, '--out', path.join(tmp, 'bad-lines-out.jsonl')])
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout, /skipped 3 bad lines: line 3 \(too long\), line 5 \(invalid UTF-8\), line 7 \(malformed JSON\)/)
})

test('replay into a down backend with a spool: parked spans are not reported as exported, exit status 3', { timeout: 120_000 }, async () => {
  const down = http.createServer((req, res) => req.resume().on('end', () => res.writeHead(503).end()))
  await new Promise((ok) => down.listen(0, '127.0.0.1', ok))
  const dir = fs.mkdtempSync(path.join(tmp, 'spool-'))
  const cfgFile = path.join(dir, 'config.json')
  const spool = path.join(dir, 'spool')
  fs.writeFileSync(cfgFile, JSON.stringify({
    exporters: { otlp: { endpoint: `http://127.0.0.1:${down.address().port}` } },
    spool: { dir: spool },
    batch: { retryDeadlineMs: 200 },
  }))
  try {
    const r = await new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, 'replay', CORPUS, '--config', cfgFile, '--timeout-ms', '20000'], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d) => (stdout += d))
      child.stderr.on('data', (d) => (stderr += d))
      child.on('close', (status) => resolve({ status, stdout, stderr }))
    })
    assert.equal(r.status, 3, r.stdout + r.stderr)
    assert.match(r.stdout, /otlp +19 traces, 0 spans exported, 118 parked in the spool \(not delivered\)/)
    assert.match(r.stderr, /118 spans wait in the spool/)
    assert.ok(fs.readdirSync(path.join(spool, 'otlp')).some((f) => f.endsWith('.batch')), 'and they are on disk')
  } finally {
    down.close()
  }
})
