// The MLflow sink end to end against a real MLflow 3.17.2 tracking server (helpers/mlflow.mjs: the one .ci/run
// started, else one started here). Every test writes into an experiment of its own, so counts are exact; the file
// sink replayed alongside is the reference for what MLflow must hold.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { mlflowServer, uniqueName, replayInChild, recordingProxy, tokenUsage, CORPUS } from './helpers/mlflow.mjs'

const require = createRequire(import.meta.url)
const tree = require('../bin/tree.js')

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-mlflow-test-'))
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }))

let srv
before(async () => {
  srv = await mlflowServer()
})

// The corpus, per tests/corpus.rs: 19 turns; the 7 local attempts of the HTTP-500 turn and the gateway HTTP-500
// turn fail.
const TURNS = 19
const FAILED_SESSIONS = [...Array(7).fill('agent:main:explicit:local-err'), 'agent:main:e2e-err']

// What each OpenClaw span is in MLflow.
const TYPE_BY_NAME = {
  'openclaw.harness.run': 'AGENT',
  'openclaw.run': 'AGENT',
  'openclaw.message': 'AGENT',
  'chat fake-model': 'CHAT_MODEL',
  'execute_tool read': 'TOOL',
  'openclaw.context.assembled': 'CHAIN',
  'openclaw.model.usage': 'CHAIN',
}

let fileNo = 0
function reference(file) {
  const traces = tree.parseOtlpJsonLines(fs.readFileSync(file, 'utf8'))
  return traces
}
const tmpFile = () => path.join(tmp, `ref-${++fileNo}.jsonl`)
const rootOf = (spans) => spans.find((s) => !s.parentSpanId)
const spanCount = (traces) => [...traces.values()].reduce((n, ss) => n + ss.length, 0)

/** The sink's counters: everything sent was accepted, nothing dropped or failed. */
function assertAllDelivered(r, sink, spans, traces) {
  const s = r.stats.sinks[sink]
  assert.ok(r.flushed, 'flush delivered everything')
  assert.deepEqual(
    { tracesReceived: s.tracesReceived, spansExported: s.spansExported, spansRejected: s.spansRejected, spansFailed: s.spansFailed, dropped: s.spansDroppedQueueFull },
    { tracesReceived: traces, spansExported: spans, spansRejected: 0, spansFailed: 0, dropped: 0 },
  )
  assert.deepEqual(r.errors, [], 'no export error reported')
}

/** Every trace of the reference is in the experiment, complete, as MLflow should show it. */
async function assertExperimentMatches(experimentId, ref) {
  const got = await srv.client.tracesWithSpans(experimentId)
  assert.deepEqual([...got.keys()].sort(), [...ref.keys()].sort(), 'one MLflow trace per turn, with OpenClaw trace ids')
  let spans = 0
  for (const [id, want] of ref) {
    const { info, spans: have } = got.get(id)
    const root = rootOf(want)
    const label = `trace ${id} (${root.attributes['session.id']})`
    spans += have.length
    // The tree: same spans, same parents, same names.
    const shape = (ss) => ss.map((s) => `${s.spanId}<${s.parentSpanId || '-'}:${s.name}`).sort()
    assert.deepEqual(shape(have), shape(want), `span tree of ${label}`)
    // Types: the root is the agent; every other span by what it is.
    for (const s of have) {
      const expected = s.parentSpanId ? TYPE_BY_NAME[s.name] : 'AGENT'
      assert.ok(expected, `unexpected span ${s.name} in ${label}`)
      assert.equal(s.type, expected, `type of ${s.name} in ${label}`)
      const w = want.find((x) => x.spanId === s.spanId)
      assert.equal(s.status, { 0: 'UNSET', 1: 'OK', 2: 'ERROR' }[w.status.code || 0], `status of ${s.name} in ${label}`)
    }
    // State: finished (the root arrived), ERROR exactly when the turn failed.
    assert.equal(info.state, root.status.code === 2 ? 'ERROR' : 'OK', `state of ${label}`)
    // Session and user at ingestion.
    assert.equal(info.trace_metadata['mlflow.trace.session'], root.attributes['session.id'], `session of ${label}`)
    assert.equal(info.trace_metadata['mlflow.trace.user'], root.attributes['user.id'], `user of ${label}`)
    // Token usage: MLflow's sum over the tree equals the turn totals clawtrace computed.
    const a = root.attributes
    const hasUsage = want.some((s) => 'gen_ai.usage.input_tokens' in s.attributes)
    const usage = tokenUsage(info)
    if (hasUsage) {
      const [i, o] = [a['openclaw.usage.total.input_tokens'], a['openclaw.usage.total.output_tokens']]
      assert.deepEqual(usage, { input_tokens: i, output_tokens: o, total_tokens: i + o }, `token usage of ${label}`)
    } else {
      assert.equal(usage, null, `no usage in ${label}`)
    }
    const llm = have.find((s) => s.type === 'CHAT_MODEL' && s.status !== 'ERROR')
    if (llm) {
      assert.deepEqual(llm.attrs['mlflow.chat.tokenUsage'], { input_tokens: 123, output_tokens: 7, total_tokens: 130 })
      assert.equal(llm.attrs['mlflow.llm.model'], 'fake-model')
    }
    // Name and tags on the root.
    const tags = info.tags
    assert.equal(tags['mlflow.traceName'], 'invoke_agent main')
    assert.equal(tags.agent, 'main')
    assert.equal(tags.outcome, root.status.code === 2 ? 'error' : a['openclaw.outcome'] || 'completed', `outcome of ${label}`)
    // The turn's channel: the root's, else the first span that names one.
    const channel = a['openclaw.channel'] ?? want.find((x) => x.attributes['openclaw.channel'])?.attributes['openclaw.channel']
    assert.equal(tags.channel, channel, `channel of ${label}`)
    assert.equal(tags['service.name'], 'openclaw')
  }
  assert.equal(spans, spanCount(ref), 'MLflow holds every span')
  return got
}

test('the corpus into MLflow: one complete trace per turn, errors, sessions, users, usage, tags', async () => {
  const name = uniqueName('corpus')
  assert.equal(await srv.client.experimentByName(name), null, 'the experiment does not exist yet')
  const file = tmpFile()
  const r = await replayInChild({ exporters: { file: { path: file }, mlflow: { trackingUri: srv.uri, experimentName: name } } })
  const ref = reference(file)
  assert.equal(ref.size, TURNS)

  const exp = await srv.client.experimentByName(name)
  assert.ok(exp, 'the sink created the experiment by name')
  assertAllDelivered(r, 'mlflow', spanCount(ref), TURNS)
  assert.equal(r.stats.sinks.mlflow.spansExported, r.stats.sinks.file.spansExported, 'both sinks sent the same spans')
  const got = await assertExperimentMatches(exp.experiment_id, ref)

  const infos = [...got.values()].map((t) => t.info)
  assert.equal(infos.filter((i) => i.state === 'IN_PROGRESS').length, 0, 'no trace left IN_PROGRESS')
  const failed = infos.filter((i) => i.state === 'ERROR').map((i) => i.trace_metadata['mlflow.trace.session'])
  assert.deepEqual(failed.sort(), [...FAILED_SESSIONS].sort(), 'the failed turns, and only they, are ERROR')
  const users = infos.map((i) => i.trace_metadata['mlflow.trace.user']).filter(Boolean).sort()
  assert.deepEqual(users, ['alice', 'bob'])
  // The gateway HTTP-500 turn: 8 failed attempts, each an ERROR span in MLflow.
  const err = [...got.values()].find((t) => t.info.trace_metadata['mlflow.trace.session'] === 'agent:main:e2e-err')
  assert.equal(err.spans.filter((s) => s.name === 'openclaw.harness.run' && s.status === 'ERROR').length, 8)
  // MLflow's search filters see the tags.
  const webchat = await srv.client.searchTraces(exp.experiment_id, "tags.channel = 'webchat'")
  assert.equal(webchat.length, [...ref.values()].filter((ss) => ss.some((s) => s.attributes['openclaw.channel'] === 'webchat')).length)
  assert.ok(webchat.length > 0)
})

test('captured content becomes MLflow inputs, outputs and request/response previews', async () => {
  const name = uniqueName('content')
  const file = tmpFile()
  const r = await replayInChild({ captureContent: true, exporters: { file: { path: file }, mlflow: { trackingUri: srv.uri, experimentName: name } } })
  const ref = reference(file)
  assertAllDelivered(r, 'mlflow', spanCount(ref), TURNS)
  const exp = await srv.client.experimentByName(name)
  const infos = await srv.client.searchTraces(exp.experiment_id)
  const chat = infos.find((i) => i.trace_metadata['mlflow.trace.session'] === 'agent:main:e2e-chat')
  // The turn's reply is the trace's response (MLflow reads it out of the root's chat-shaped outputs).
  assert.equal(chat.response_preview, 'Hello from the fake LLM.')
  const { spans } = await srv.client.getTrace(chat.trace_id)
  const call = spans.find((s) => s.type === 'CHAT_MODEL')
  // Model calls keep the GenAI message shape (MLflow's chat view reads it).
  assert.equal(call.attrs['mlflow.spanOutputs'][0].role, 'assistant')
  assert.equal(call.attrs['mlflow.spanOutputs'][0].parts[0].content, 'Hello from the fake LLM.')
  // A failed turn's empty reply is no response at all (not a JSON skeleton).
  for (const i of infos.filter((x) => x.state === 'ERROR')) assert.ok(!String(i.response_preview ?? '').includes('"messages"'), i.response_preview)
})

test('experiment by id, an existing experiment by name, and the MLFLOW_* environment', async () => {
  const byIdName = uniqueName('by-id')
  const id = await srv.client.createExperiment(byIdName)
  let file = tmpFile()
  let r = await replayInChild({ exporters: { file: { path: file }, mlflow: { trackingUri: srv.uri, experimentId: id } } })
  let ref = reference(file)
  assertAllDelivered(r, 'mlflow', spanCount(ref), TURNS)
  await assertExperimentMatches(id, ref)

  // A name that exists is used, not created again.
  const existing = uniqueName('existing')
  const existingId = await srv.client.createExperiment(existing)
  file = tmpFile()
  r = await replayInChild({ exporters: { file: { path: file }, mlflow: { trackingUri: srv.uri, experimentName: existing } } })
  assertAllDelivered(r, 'mlflow', spanCount(reference(file)), TURNS)
  assert.equal((await srv.client.searchTraces(existingId)).length, TURNS)

  // Nothing configured: MLFLOW_TRACKING_URI + MLFLOW_EXPERIMENT_NAME choose the sink and its experiment.
  const fromEnv = uniqueName('env')
  r = await replayInChild({}, { env: { MLFLOW_TRACKING_URI: srv.uri, MLFLOW_EXPERIMENT_NAME: fromEnv } })
  assert.deepEqual(Object.keys(r.stats.sinks), ['mlflow'], 'the environment enabled exactly the MLflow sink')
  assert.equal(r.stats.sinks.mlflow.spansRejected + r.stats.sinks.mlflow.spansFailed, 0)
  const envExp = await srv.client.experimentByName(fromEnv)
  assert.ok(envExp)
  assert.equal((await srv.client.searchTraces(envExp.experiment_id)).length, TURNS)
})

test('credentials and the experiment header reach the server; secrets never appear', async () => {
  const proxy = await recordingProxy(srv.uri)
  try {
    const name = uniqueName('auth')
    const password = 'pw-Very-Secret-42'
    const r = await replayInChild({ exporters: { mlflow: { trackingUri: proxy.url, experimentName: name, username: 'clawtrace', password } } })
    assert.equal(r.stats.sinks.mlflow.spansExported, 118)
    const basic = `Basic ${Buffer.from(`clawtrace:${password}`).toString('base64')}`
    assert.ok(proxy.requests.length >= 3, 'lookup, create, ingest')
    // Compared, never printed: a failure names the request, not the credential.
    for (const q of proxy.requests) assert.ok(q.headers.authorization === basic, `${q.method} ${q.url}: missing or wrong basic credentials`)
    const exp = await srv.client.experimentByName(name)
    const ingests = proxy.requests.filter((q) => q.url === '/v1/traces')
    assert.ok(ingests.length >= 1)
    for (const q of ingests) {
      assert.equal(q.headers['x-mlflow-experiment-id'], exp.experiment_id)
      assert.equal(q.headers['content-type'], 'application/x-protobuf')
    }
    assert.equal((await srv.client.searchTraces(exp.experiment_id)).length, TURNS)
    const printed = JSON.stringify(r)
    assert.ok(!printed.includes(password) && !printed.includes(basic.slice(6)), 'no secret in stats, errors or output')

    // From the environment: basic from MLFLOW_TRACKING_USERNAME/PASSWORD, else bearer from MLFLOW_TRACKING_TOKEN.
    proxy.requests.length = 0
    await replayInChild({}, { env: { MLFLOW_TRACKING_URI: proxy.url, MLFLOW_EXPERIMENT_ID: exp.experiment_id, MLFLOW_TRACKING_TOKEN: 'tok-Secret-7' } })
    assert.ok(proxy.requests.length >= 2)
    for (const q of proxy.requests) assert.ok(q.headers.authorization === 'Bearer tok-Secret-7', `${q.method} ${q.url}: missing or wrong bearer token`)
  } finally {
    await proxy.close()
  }
})

test('unknown experiment id: a clear, counted error, and no crash', async () => {
  const r = await replayInChild({ exporters: { mlflow: { trackingUri: srv.uri, experimentId: '987654321' } } })
  const s = r.stats.sinks.mlflow
  assert.equal(r.replay.lines > 0, true, 'the replay completed')
  assert.equal(s.spansExported, 0)
  assert.equal(s.spansRejected, 118, 'every span counted as refused')
  assert.equal(s.spansFailed + s.spansDroppedQueueFull, 0)
  assert.equal(r.stats.spansRejectedByBackend, 118)
  assert.equal(r.errors.length, 1, JSON.stringify(r.errors))
  assert.equal(r.errors[0].sink, 'mlflow')
  assert.equal(r.errors[0].kind, 'refused')
  assert.match(r.errors[0].message, /experiment id 987654321 does not exist/)

  // A configuration MLflow cannot take fails configure() itself, with a message.
  await assert.rejects(replayInChild({ exporters: { mlflow: { trackingUri: srv.uri, experimentId: 'agents' } } }), /experiment id must be numeric/)
})

test('MLflow not reachable yet: batches are retried, then delivered', async () => {
  // The first attempts find no server (connection dropped); the sink retries with backoff and delivers.
  const proxy = await recordingProxy(srv.uri, { failFirst: 3 })
  try {
    const name = uniqueName('late-start')
    const r = await replayInChild({ exporters: { mlflow: { trackingUri: proxy.url, experimentName: name } } })
    const s = r.stats.sinks.mlflow
    assert.ok(s.retries >= 1, JSON.stringify(s))
    assert.equal(s.spansExported, 118)
    assert.equal(s.spansFailed + s.spansRejected, 0)
    const exp = await srv.client.experimentByName(name)
    assert.equal((await srv.client.searchTraces(exp.experiment_id)).length, TURNS)
  } finally {
    await proxy.close()
  }
})

test('values MLflow would reject are fixed: a 300-character session key and user', async () => {
  // The gateway HTTP scenario (alice and bob), with alice's key made longer than MLflow's 250-character limit.
  const lines = fs.readFileSync(CORPUS, 'utf8').split('\n')
  const start = lines.findIndex((l) => l.includes('gateway HTTP /v1/chat/completions'))
  const end = lines.findIndex((l, i) => i > start && l.includes('"src":"marker"'))
  const longUser = 'u'.repeat(300)
  const slice = path.join(tmp, 'long-session.jsonl')
  fs.writeFileSync(slice, lines.slice(start + 1, end).join('\n').replaceAll('openai-user:alice', `openai-user:${longUser}`) + '\n')

  const name = uniqueName('long-ids')
  const file = tmpFile()
  const r = await replayInChild({ exporters: { file: { path: file }, mlflow: { trackingUri: srv.uri, experimentName: name } } }, { file: slice })
  const ref = reference(file)
  assert.equal(ref.size, 2)
  assertAllDelivered(r, 'mlflow', spanCount(ref), 2)
  const exp = await srv.client.experimentByName(name)
  const infos = await srv.client.searchTraces(exp.experiment_id)
  assert.equal(infos.length, 2, 'the long-key trace was not lost')
  const long = infos.find((i) => i.trace_metadata['mlflow.trace.session'] !== 'agent:main:openai-user:bob')
  const session = long.trace_metadata['mlflow.trace.session']
  assert.equal(session.length, 250)
  assert.ok(session.startsWith('agent:main:openai-user:uuuu'), session)
  assert.match(session, /~[0-9a-f]{16}$/, 'a prefix plus a hash of the whole key')
  assert.equal(long.trace_metadata['mlflow.trace.user'].length, 250)
  assert.equal(infos.find((i) => i !== long).trace_metadata['mlflow.trace.user'], 'bob')

  // The same input through the generic OTLP sink: MLflow refuses the long-key trace (400); the runner isolates it.
  const exp2 = await srv.client.createExperiment(uniqueName('long-ids-otlp'))
  const o = await replayInChild(
    { exporters: { otlp: { tracesEndpoint: `${srv.uri}/v1/traces`, headers: { 'x-mlflow-experiment-id': exp2 } } } },
    { file: slice },
  )
  const bob = ref.get([...ref.keys()].find((k) => rootOf(ref.get(k)).attributes['user.id'] === 'bob'))
  assert.equal(o.stats.sinks.otlp.spansExported, bob.length)
  assert.equal(o.stats.sinks.otlp.spansRejected, spanCount(ref) - bob.length)
  assert.equal(o.errors[0]?.kind, 'rejected')
  assert.equal((await srv.client.searchTraces(exp2)).length, 1)
})

test('a configured pricing is the cost MLflow shows, per model call and per trace; a failed call names its cause', async () => {
  const name = uniqueName('cost')
  const file = tmpFile()
  const PRICE = { input: 2, output: 8 } // USD per million tokens for the recorded fake model
  const r = await replayInChild({ pricing: { 'fake-model': PRICE }, exporters: { file: { path: file }, mlflow: { trackingUri: srv.uri, experimentName: name } } })
  const ref = reference(file)
  assertAllDelivered(r, 'mlflow', spanCount(ref), TURNS)
  const exp = await srv.client.experimentByName(name)
  const got = await srv.client.tracesWithSpans(exp.experiment_id)
  let priced = 0
  let failedCalls = 0
  for (const [id, want] of ref) {
    const root = rootOf(want)
    const total = root.attributes['openclaw.cost.total_usd']
    const { info, spans } = got.get(id)
    const cost = info.trace_metadata['mlflow.trace.cost'] ? JSON.parse(info.trace_metadata['mlflow.trace.cost']) : null
    if (total > 0) {
      priced++
      assert.ok(Math.abs(cost.total_cost - total) < 1e-12, `cost of ${id}: MLflow ${JSON.stringify(cost)}, clawtrace ${total}`)
    }
    for (const s of spans.filter((x) => x.type === 'CHAT_MODEL')) {
      const w = want.find((x) => x.spanId === s.spanId).attributes
      if (w['openclaw.cost_usd'] > 0) {
        const c = s.attrs['mlflow.llm.cost']
        assert.ok(Math.abs(c.total_cost - w['openclaw.cost_usd']) < 1e-12 && Math.abs(c.input_cost + c.output_cost - c.total_cost) < 1e-12, JSON.stringify(c))
      }
      if (s.status === 'ERROR') {
        failedCalls++
        assert.match(s.statusMessage, /\b500\b/, `the cause of ${s.spanId}: ${s.statusMessage}`)
        assert.ok(s.attrs['error.type'] && s.attrs['error.type'] !== 'Error', `error.type ${s.attrs['error.type']}`)
        assert.equal(s.attrs['http.response.status_code'], 500)
      }
    }
  }
  assert.ok(priced >= 5, `turns with a cost: ${priced}`)
  assert.ok(failedCalls >= 8, `failed calls: ${failedCalls}`)
})
