// The Langfuse sink through the real addon: configure({exporters: {langfuse}}) → replay(corpus) → flush → stats,
// against a strict in-test Langfuse receiver (helpers/langfuse-receiver.mjs). Each run happens in a child process:
// the pipeline is process-global and remembers exported trace ids, so replaying the same corpus twice in one
// process would turn the second replay into stragglers.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { start, TRACES_PATH, sessionOf, userOf } from './helpers/langfuse-receiver.mjs'
import { replayInChild } from './helpers/replay.mjs'
import { createRequire } from 'node:module'

const tree = createRequire(import.meta.url)('../bin/tree.js')

const root = fileURLToPath(new URL('..', import.meta.url))
const corpus = path.join(root, 'fixtures', 'openclaw-2026.9.6-gateway.jsonl')
const CORPUS_TRACES = 19 // crates/core/tests/corpus.rs

const PK = 'pk-lf-0f1e2d3c-test'
const SK = 'sk-lf-9a8b7c6d-very-secret'

/** A replay of the corpus in a child process (helpers/replay.mjs), configure() errors returned, not thrown. */
function runClawtrace(config, env = {}) {
  return replayInChild(config, { file: corpus, env, salt: false, configureError: true })
}

/** The spans of an OTLP/JSON file written by the file sink (bin/tree.js reads it). */
function fileSpans(file) {
  return [...tree.parseOtlpJsonLines(fs.readFileSync(file, 'utf8')).values()].flat()
}

const langfuseCfg = (lf, extra = {}) => ({ baseUrl: lf.url, publicKey: PK, secretKey: SK, ...extra })

function assertNoSecret(where, value) {
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  assert.ok(!text.includes(SK), `${where} contains the secret key`)
  assert.ok(!text.includes(Buffer.from(`${PK}:${SK}`).toString('base64')), `${where} contains the Authorization header`)
}

/** Everything every accepted request and span must satisfy for a clean export of the corpus. */
function assertCleanDelivery(lf, out, { encoding, gzip }) {
  assert.deepEqual(lf.violations, [], 'the receiver refused nothing')
  assert.deepEqual(lf.problems(), [], 'every parent arrived, one root per trace')
  assert.ok(lf.requests.length > 0)
  for (const r of lf.requests) {
    assert.equal(r.method, 'POST')
    assert.equal(r.path, TRACES_PATH, 'only the OTLP route (never /api/public/ingestion)')
    assert.equal(r.auth, 'ok')
    assert.equal(r.ingestionVersion, '4')
    assert.equal(r.sdkName, 'clawtrace')
    assert.equal(r.encoding, encoding)
    assert.equal(r.contentEncoding, gzip ? 'gzip' : null)
    assert.equal(r.status, 200)
  }
  const sink = out.stats.sinks.langfuse
  assert.equal(lf.traces().size, CORPUS_TRACES)
  assert.equal(sink.tracesReceived, CORPUS_TRACES)
  assert.equal(sink.spansExported, lf.spans().length)
  assert.equal(sink.spansRejected + sink.spansFailed + sink.spansDroppedQueueFull, 0)
  assert.deepEqual(out.errors, [])
  assert.equal(out.flushed, true)
}

test('protobuf (default): every corpus trace and span arrives once, with the Langfuse attributes on every span', async () => {
  const lf = await start({ publicKey: PK, secretKey: SK, environment: 'production', release: 'gw-2026.9.6' })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-langfuse-file-'))
  try {
    const file = path.join(dir, 'traces.jsonl')
    const out = await runClawtrace({
      exporters: { file: { path: file }, langfuse: langfuseCfg(lf, { environment: 'production', release: 'gw-2026.9.6' }) },
    })
    assertCleanDelivery(lf, out, { encoding: 'protobuf', gzip: false })
    assert.equal(lf.requests[0].contentType, 'application/x-protobuf')

    // Exactly the spans the pipeline produced (the file sink saw the same traces), each once.
    const produced = fileSpans(file)
    const got = lf.spans()
    assert.equal(got.length, produced.length)
    assert.deepEqual(new Set(got.map((s) => s.spanId)), new Set(produced.map((s) => s.spanId)))
    assert.equal(out.stats.sinks.file.spansExported, got.length)

    const users = new Set()
    for (const [traceId, spans] of lf.traces()) {
      const rootSpan = spans.find((s) => !s.parentSpanId)
      assert.match(rootSpan.name, /^invoke_agent /)
      const tags = rootSpan.attributes['langfuse.trace.tags']
      assert.ok(tags.includes('agent:main'), `agent tag on ${traceId}: ${tags}`)
      assert.equal(tags.includes('outcome:error'), rootSpan.status.code === 2, `outcome tag follows the turn's status: ${tags}`)
      for (const s of spans) {
        const a = s.attributes
        // Trace-level attributes on every span (v4), identical across the trace.
        assert.equal(a['langfuse.trace.name'], rootSpan.name)
        assert.equal(a['langfuse.session.id'], a['session.id'])
        assert.equal(sessionOf(a), sessionOf(rootSpan.attributes))
        assert.equal(userOf(a), userOf(rootSpan.attributes))
        assert.deepEqual(a['langfuse.trace.tags'], tags)
        assert.equal(a['langfuse.environment'], 'production')
        assert.equal(a['langfuse.release'], 'gw-2026.9.6')
        // Observation types.
        const type = a['langfuse.observation.type']
        if (!s.parentSpanId) assert.equal(type, 'agent')
        else if (s.name.startsWith('chat ')) assert.equal(type, 'generation')
        else if (s.name.startsWith('execute_tool ')) assert.equal(type, 'tool')
        else if (s.name === 'openclaw.harness.run' || s.name === 'openclaw.run') assert.equal(type, 'agent')
        else assert.equal(type, 'span', s.name)
        if (type === 'generation') {
          assert.equal(a['langfuse.observation.model.name'], 'fake-model')
          if (s.status.code !== 2) {
            const usage = JSON.parse(a['langfuse.observation.usage_details'])
            const cached = (usage.input_cached_tokens ?? 0) + (usage.input_cache_creation ?? 0)
            assert.equal(usage.input + cached, a['gen_ai.usage.input_tokens'], 'Langfuse input excludes the cache tokens')
            assert.equal(usage.output, a['gen_ai.usage.output_tokens'])
            assert.equal(usage.total, a['gen_ai.usage.input_tokens'] + a['gen_ai.usage.output_tokens'])
            assert.ok(!Number.isNaN(Date.parse(a['langfuse.observation.completion_start_time'])))
          } else {
            assert.equal(a['langfuse.observation.level'], 'ERROR')
          }
          // The fake model's cost is unknown to OpenClaw: Langfuse prices it (or not) itself.
          assert.equal(a['langfuse.observation.cost_details'], undefined)
        } else {
          assert.equal(a['langfuse.observation.usage_details'], undefined, `usage only on generations (${s.name})`)
        }
        if (userOf(a)) users.add(userOf(a))
      }
    }
    assert.deepEqual([...users].sort(), ['alice', 'bob'], 'users from openai-user session keys')
    // The resource still says who sent it.
    assert.equal(got[0].resource['service.name'], 'openclaw')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
    await lf.close()
  }
})

test("Langfuse's own mapping rules, through the Langfuse and the generic OTLP sink: one generation per model call, agents, tools, trace input/output, user, session, tags, errors, cost", async () => {
  const PRICE = { input: 3, output: 15 } // USD per million tokens, for the recorded fake model
  const lf = await start({ publicKey: PK, secretKey: SK })
  const otlp = await start({ generic: true })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-langfuse-rules-'))
  try {
    const file = path.join(dir, 'traces.jsonl')
    const out = await runClawtrace({
      captureContent: true,
      pricing: { 'fake-model': PRICE },
      exporters: { file: { path: file }, langfuse: langfuseCfg(lf), otlp: { endpoint: otlp.url } },
    })
    assertCleanDelivery(lf, out, { encoding: 'protobuf', gzip: false })
    assert.deepEqual(otlp.violations, [])
    const produced = fileSpans(file)
    const op = (s) => s.attributes['gen_ai.operation.name']
    const calls = produced.filter((s) => op(s) === 'chat')
    const tools = produced.filter((s) => op(s) === 'execute_tool')
    const roots = produced.filter((s) => !s.parentSpanId)
    const agents = produced.filter((s) => !s.parentSpanId || s.name === 'openclaw.harness.run' || s.name === 'openclaw.run')
    assert.ok(calls.length >= 20 && tools.length > 0 && roots.length === CORPUS_TRACES)
    const failedCalls = calls.filter((s) => s.status.code === 2)
    assert.ok(failedCalls.length > 0, 'the corpus has failed model calls')
    for (const [label, rx] of [
      ['Langfuse sink', lf],
      ['generic OTLP sink', otlp],
    ]) {
      const obs = new Map(rx.observations().map((o) => [o.id, o]))
      assert.equal(obs.size, produced.length, `${label}: every span`)
      const ids = (type) => [...obs.values()].filter((o) => o.type === type).map((o) => o.id).sort()
      const idsOf = (spans) => spans.map((s) => s.spanId).sort()
      assert.deepEqual(ids('GENERATION'), idsOf(calls), `${label}: exactly one generation per model call`)
      assert.deepEqual(ids('TOOL'), idsOf(tools), `${label}: tools`)
      assert.deepEqual(ids('AGENT'), idsOf(agents), `${label}: the turn and its runs are agents`)
      for (const c of calls) {
        const o = obs.get(c.spanId)
        const a = c.attributes
        assert.equal(o.model, 'fake-model', `${label}: model of ${c.spanId}`)
        if (c.status.code === 2) {
          assert.equal(o.level, 'ERROR', `${label}: a failed call is an error`)
          assert.match(o.statusMessage, /HTTP 500|500/, `${label}: the cause is in the status message: ${o.statusMessage}`)
          continue
        }
        const uncached = a['gen_ai.usage.input_tokens'] - a['gen_ai.usage.cache_read.input_tokens'] - a['gen_ai.usage.cache_creation.input_tokens']
        assert.equal(o.usage.input, uncached, `${label}: usage input`)
        assert.equal(o.usage.output, a['gen_ai.usage.output_tokens'], `${label}: usage output`)
        const want = (uncached * PRICE.input + a['gen_ai.usage.output_tokens'] * PRICE.output) / 1e6
        assert.ok(Math.abs(o.cost.total - want) < 1e-12, `${label}: the configured pricing is the generation's cost (${o.cost.total} vs ${want})`)
      }
      for (const r of roots) {
        const o = obs.get(r.spanId)
        const a = r.attributes
        assert.equal(o.sessionId, a['session.id'], `${label}: session of ${r.traceId}`)
        assert.equal(o.userId, a['user.id'] ?? null, `${label}: user of ${r.traceId}`)
        assert.equal(o.input, a['openclaw.content.input'] ?? null, `${label}: trace input of ${r.traceId}`)
        assert.equal(o.output, a['openclaw.content.output'] ?? null, `${label}: trace output of ${r.traceId}`)
        assert.notEqual(o.output, '', `${label}: no empty output`)
        if (r.status.code === 2) {
          assert.equal(o.level, 'ERROR')
          assert.ok(o.statusMessage, `${label}: a failed turn says why`)
        }
        if (label === 'Langfuse sink') {
          assert.ok(o.tags.includes('agent:main'), `tags ${o.tags}`)
          assert.equal(o.tags.includes('outcome:error'), r.status.code === 2, `tags ${o.tags}`)
          if (r.attributes['openclaw.channel']) assert.ok(o.tags.includes(`channel:${r.attributes['openclaw.channel']}`))
        }
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
    await lf.close()
    await otlp.close()
  }
})

for (const [protocol, compression] of [
  ['http/json', 'none'],
  ['http/json', 'gzip'],
  ['http/protobuf', 'gzip'],
]) {
  test(`${protocol} ${compression}: decodable, complete, nothing refused`, async () => {
    const lf = await start({ publicKey: PK, secretKey: SK })
    try {
      const out = await runClawtrace({ exporters: { langfuse: langfuseCfg(lf, { protocol, compression }) } })
      assertCleanDelivery(lf, out, { encoding: protocol === 'http/json' ? 'json' : 'protobuf', gzip: compression === 'gzip' })
      if (compression === 'gzip') assert.ok(lf.requests.every((r) => r.decodedBytes > r.bytes * 3), 'gzip actually compresses')
      assert.equal(lf.requests[0].contentType, protocol === 'http/json' ? 'application/json' : 'application/x-protobuf')
    } finally {
      await lf.close()
    }
  })
}

test('the environment alone configures the sink (LANGFUSE_* variables, no exporters configured)', async () => {
  const lf = await start({ publicKey: PK, secretKey: SK, environment: 'staging', release: 'r-42' })
  try {
    const out = await runClawtrace(
      {},
      { LANGFUSE_BASE_URL: lf.url, LANGFUSE_PUBLIC_KEY: PK, LANGFUSE_SECRET_KEY: SK, LANGFUSE_TRACING_ENVIRONMENT: 'staging', LANGFUSE_RELEASE: 'r-42' },
    )
    assertCleanDelivery(lf, out, { encoding: 'protobuf', gzip: false })
    assert.deepEqual(Object.keys(out.stats.sinks), ['langfuse'], 'keys in the environment choose Langfuse instead of the default file')
    // Configured values win over the environment.
    lf.reset()
    const lf2 = await start({ publicKey: PK, secretKey: SK, environment: 'production' })
    try {
      const out2 = await runClawtrace(
        { exporters: { langfuse: { baseUrl: lf2.url, environment: 'production' } } },
        { LANGFUSE_BASE_URL: lf.url, LANGFUSE_PUBLIC_KEY: PK, LANGFUSE_SECRET_KEY: SK, LANGFUSE_TRACING_ENVIRONMENT: 'staging' },
      )
      assertCleanDelivery(lf2, out2, { encoding: 'protobuf', gzip: false })
      assert.equal(lf.requests.length, 0, 'the configured base URL won')
    } finally {
      await lf2.close()
    }
  } finally {
    await lf.close()
  }
})

test('content capture: captured text becomes langfuse.observation.input/output, moved not copied', async () => {
  const lf = await start({ publicKey: PK, secretKey: SK })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-langfuse-file-'))
  try {
    const file = path.join(dir, 'traces.jsonl')
    const out = await runClawtrace({ captureContent: true, exporters: { file: { path: file }, langfuse: langfuseCfg(lf) } })
    assertCleanDelivery(lf, out, { encoding: 'protobuf', gzip: false })
    const received = new Map(lf.spans().map((s) => [s.spanId, s.attributes]))
    let moved = 0
    for (const s of fileSpans(file)) {
      const a = received.get(s.spanId)
      for (const [from, to] of [
        ['openclaw.content.input', 'langfuse.observation.input'],
        ['openclaw.content.output', 'langfuse.observation.output'],
      ]) {
        const text = s.attributes[from]
        assert.equal(a[from], undefined, `${from} is not sent twice`)
        assert.equal(a[to], text, `${s.name}: ${to}`)
        if (text) moved++
      }
    }
    const roots = lf.spans().filter((s) => !s.parentSpanId)
    const replies = roots.filter((s) => s.attributes['langfuse.observation.output'])
    assert.ok(moved >= replies.length && replies.length >= 9, `roots with the turn's reply: ${replies.length}`)
    assert.ok(replies.some((s) => s.attributes['langfuse.observation.output'].includes('fake')))
    // Model calls keep their GenAI messages, which Langfuse reads itself.
    for (const s of lf.spans().filter((s) => s.attributes['gen_ai.output.messages'])) assert.equal(s.attributes['langfuse.observation.type'], 'generation')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
    await lf.close()
  }
})

test('429 with Retry-After is retried and everything is delivered', async () => {
  const lf = await start({ publicKey: PK, secretKey: SK })
  try {
    const limited = lf.fail({ status: 429, times: 2, retryAfter: 1 })
    const out = await runClawtrace({ exporters: { langfuse: langfuseCfg(lf) } })
    assert.equal(limited.hits, 2)
    assert.deepEqual(
      lf.requests.slice(0, 2).map((r) => r.status),
      [429, 429],
    )
    const sink = out.stats.sinks.langfuse
    assert.ok(sink.retries >= 2, `retries counted: ${sink.retries}`)
    assert.equal(sink.batchesSent, lf.requests.length, 'every attempt reached the receiver')
    assert.equal(sink.spansFailed + sink.spansRejected, 0, 'nothing lost')
    assert.equal(lf.traces().size, CORPUS_TRACES)
    assert.equal(sink.spansExported, lf.spans().length)
    assert.deepEqual(lf.violations, [])
    assert.deepEqual(out.errors, [], 'a retry that succeeds is not an error')
  } finally {
    await lf.close()
  }
})

test('503 once is retried too, and nothing is lost', async () => {
  const lf = await start({ publicKey: PK, secretKey: SK })
  try {
    lf.fail({ status: 503, times: 1 })
    const out = await runClawtrace({ exporters: { langfuse: langfuseCfg(lf) } })
    const sink = out.stats.sinks.langfuse
    assert.equal(lf.requests[0].status, 503)
    assert.ok(sink.retries >= 1)
    assert.equal(lf.traces().size, CORPUS_TRACES)
    assert.equal(sink.spansFailed + sink.spansRejected, 0)
  } finally {
    await lf.close()
  }
})

test('400 for a batch: the bad trace is isolated and counted as rejected, reported once, the rest delivered', async () => {
  const lf = await start({ publicKey: PK, secretKey: SK })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-langfuse-file-'))
  try {
    const bad = 'agent:main:e2e-chat'
    const refusing = lf.fail({ status: 400, match: (s) => s.attributes['langfuse.session.id'] === bad, message: 'Invalid request data' })
    const file = path.join(dir, 'traces.jsonl')
    const out = await runClawtrace({ exporters: { file: { path: file }, langfuse: langfuseCfg(lf) } })
    const produced = fileSpans(file)
    const badSpans = produced.filter((s) => s.attributes['session.id'] === bad)
    assert.ok(badSpans.length > 0)
    const sink = out.stats.sinks.langfuse
    assert.equal(sink.spansRejected, badSpans.length, 'exactly the bad trace is rejected')
    assert.equal(sink.spansExported, produced.length - badSpans.length)
    assert.equal(sink.retries, 0, '400 is never retried')
    assert.ok(refusing.hits >= 1)
    assert.equal(lf.spans().length, produced.length - badSpans.length)
    assert.ok(lf.spans().every((s) => s.attributes['langfuse.session.id'] !== bad))
    assert.equal(out.stats.spansRejectedByBackend, badSpans.length)
    assert.equal(out.errors.length, 1, `one report: ${JSON.stringify(out.errors)}`)
    assert.equal(out.errors[0].sink, 'langfuse')
    assert.equal(out.errors[0].kind, 'rejected')
    assert.match(out.errors[0].message, /400/)
    assert.match(out.errors[0].message, /Invalid request data/, "Langfuse's error body is shown")
    assertNoSecret('the error report', out.errors)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
    await lf.close()
  }
})

test('401 (wrong secret key): counted, reported once, never retried, no secret anywhere', async () => {
  const lf = await start({ publicKey: PK, secretKey: 'sk-lf-the-right-one' })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-langfuse-file-'))
  try {
    // Small batches: many requests, each refused once.
    const file = path.join(dir, 'traces.jsonl')
    const out = await runClawtrace({ batch: { maxSpans: 10 }, exporters: { file: { path: file }, langfuse: langfuseCfg(lf) } })
    const sink = out.stats.sinks.langfuse
    assert.ok(lf.requests.length > 1, 'several batches')
    assert.ok(lf.requests.every((r) => r.status === 401 && r.auth === 'wrong'))
    assert.equal(sink.batchesSent, lf.requests.length, 'one request per batch: no retry loop')
    assert.equal(sink.retries, 0)
    assert.equal(sink.spansExported, 0)
    assert.ok(sink.spansRejected > 0)
    assert.equal(sink.spansRejected, fileSpans(file).length, 'every span counted as rejected')
    assert.equal(out.errors.length, 1, `reported once: ${JSON.stringify(out.errors)}`)
    assert.deepEqual([out.errors[0].sink, out.errors[0].kind], ['langfuse', 'refused'])
    assert.match(out.errors[0].message, /401/)
    assertNoSecret('the error report', out.errors)
    assertNoSecret('stats()', out.stats)
    assertNoSecret('the child output', out.stdout + out.stderr)
    assert.equal(out.flushed, true, 'flush resolves (nothing left to retry)')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
    await lf.close()
  }
})

test('configuration errors are clear and never echo the secret key', async () => {
  let out = await runClawtrace({ exporters: { langfuse: { secretKey: SK } } })
  assert.match(out.configureError, /publicKey/)
  assert.match(out.configureError, /LANGFUSE_PUBLIC_KEY/)
  assertNoSecret('the configure() error', out.configureError)
  out = await runClawtrace({ exporters: { langfuse: { publicKey: PK } } })
  assert.match(out.configureError, /secretKey/)
  out = await runClawtrace({ exporters: { langfuse: { publicKey: SK, secretKey: PK } } })
  assert.match(out.configureError, /swapped/)
  assertNoSecret('the configure() error', out.configureError)
  out = await runClawtrace({ exporters: { langfuse: { publicKey: PK, secretKey: SK, environment: 'Prod' } } })
  assert.match(out.configureError, /environment/)
  assertNoSecret('the configure() error', out.configureError)
  out = await runClawtrace({ exporters: { langfuse: { publicKey: PK, secretKey: SK, baseUrl: 'ftp://x' } } })
  assert.match(out.configureError, /langfuse/)
  assertNoSecret('the configure() error', out.configureError)
})

test('the receiver itself is strict: it refuses what Langfuse would and what breaks the v4 rules', async () => {
  const lf = await start({ publicKey: PK, secretKey: SK })
  const auth = 'Basic ' + Buffer.from(`${PK}:${SK}`).toString('base64')
  const post = (body, headers = {}) =>
    fetch(lf.tracesUrl, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json', 'x-langfuse-ingestion-version': '4', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })
  const span = (over = {}) => ({
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    name: 'invoke_agent main',
    kind: 1,
    startTimeUnixNano: '1795760008686000000',
    endTimeUnixNano: '1795760012037000000',
    attributes: [
      { key: 'langfuse.trace.name', value: { stringValue: 'invoke_agent main' } },
      { key: 'session.id', value: { stringValue: 's1' } },
      { key: 'langfuse.observation.type', value: { stringValue: 'agent' } },
    ],
    ...over,
  })
  const req = (...spans) => ({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ scope: { name: 't' }, spans }] }] })
  try {
    let r = await post(req(span()), { authorization: 'Basic ' + Buffer.from(`${PK}:nope`).toString('base64') })
    assert.equal(r.status, 401)
    r = await post(req(span()), { 'x-langfuse-ingestion-version': '5' })
    assert.equal(r.status, 400)
    assert.ok((await r.json()).error)
    r = await post(req(span()), { 'content-type': 'text/plain' })
    assert.equal(r.status, 400)
    r = await post(req(span({ spanId: '0000000000000000' })))
    assert.equal(r.status, 400)
    r = await post(req(span({ traceId: 'CvdlGRbNQ92ESOshHIAxnA==' })))
    assert.equal(r.status, 400, 'base64 ids are not OTLP/JSON')
    r = await post(req(span({ attributes: { 'langfuse.trace.name': 'x' } })))
    assert.equal(r.status, 400, 'attributes must be an array')
    r = await post(req(span({ attributes: span().attributes.filter((kv) => kv.key !== 'langfuse.observation.type') })))
    assert.equal(r.status, 400)
    r = await post(req(span({ attributes: [...span().attributes.filter((kv) => kv.key !== 'langfuse.observation.type'), { key: 'langfuse.observation.type', value: { stringValue: 'generation' } }] })))
    assert.equal(r.status, 400, 'a generation needs a model and usage')
    r = await fetch(lf.url + '/api/public/ingestion', { method: 'POST', headers: { authorization: auth }, body: '{}' })
    assert.equal(r.status, 404, 'the deprecated batch endpoint does not exist here')
    r = await post(req(span()))
    assert.equal(r.status, 200)
    assert.deepEqual(await r.json(), {})
    r = await post(req(span()))
    assert.equal(r.status, 400, 'the same span id twice')
    r = await post(req(span({ spanId: 'b7ad6b7169203332', parentSpanId: 'b7ad6b7169203331', attributes: span().attributes.map((kv) => (kv.key === 'langfuse.trace.name' ? { key: kv.key, value: { stringValue: 'other' } } : kv)) })))
    assert.equal(r.status, 400, 'trace-level attributes must agree across a trace')
    lf.fail({ status: 429, retryAfter: 7 })
    r = await post(req(span({ spanId: 'b7ad6b7169203333' })))
    assert.equal(r.status, 429)
    assert.equal(r.headers.get('retry-after'), '7')
    assert.equal(lf.spans().length, 1)
    assert.equal(lf.violations.length, 9)
  } finally {
    await lf.close()
  }
})
