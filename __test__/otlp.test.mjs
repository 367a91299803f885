// The generic OTLP sink against a real OTLP/HTTP receiver: MLflow's `/v1/traces` (the experiment given as the
// `x-mlflow-experiment-id` header through `exporters.otlp.headers`), in both encodings, with and without gzip. MLflow
// reads only the GenAI semantic conventions here (no MLflow keys), so this also shows what any OTLP backend gets.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { mlflowServer, uniqueName, replayInChild, recordingProxy, tokenUsage } from './helpers/mlflow.mjs'

const require = createRequire(import.meta.url)
const tree = require('../bin/tree.js')

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-otlp-test-'))
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }))

let srv
before(async () => {
  srv = await mlflowServer()
})

const TURNS = 19
const FAILED = 8
// The span type MLflow gives each GenAI operation: it reads OpenInference's span kind first (the OTLP sink sends
// it next to the GenAI keys: a model call is LLM there).
const TYPE_BY_OPERATION = { invoke_agent: 'AGENT', chat: 'LLM', execute_tool: 'TOOL' }

for (const [protocol, compression] of [
  ['http/protobuf', 'none'],
  ['http/json', 'none'],
  ['http/protobuf', 'gzip'],
  ['http/json', 'gzip'],
]) {
  test(`OTLP ${protocol}${compression === 'gzip' ? ' + gzip' : ''} into MLflow's /v1/traces`, async () => {
    const experimentId = await srv.client.createExperiment(uniqueName(`otlp-${protocol.replace('/', '-')}-${compression}`))
    const proxy = await recordingProxy(srv.uri)
    const file = path.join(tmp, `ref-${protocol.replace('/', '-')}-${compression}.jsonl`)
    let r
    try {
      r = await replayInChild({
        exporters: {
          file: { path: file },
          otlp: { endpoint: proxy.url, headers: { 'x-mlflow-experiment-id': experimentId }, protocol, compression },
        },
      })
    } finally {
      await proxy.close()
    }
    // What went over the wire.
    assert.ok(proxy.requests.length >= 1)
    for (const q of proxy.requests) {
      assert.equal(q.url, '/v1/traces')
      assert.equal(q.headers['content-type'], protocol === 'http/json' ? 'application/json' : 'application/x-protobuf')
      assert.equal(q.headers['content-encoding'], compression === 'gzip' ? 'gzip' : undefined)
      assert.equal(q.headers['x-mlflow-experiment-id'], experimentId)
    }

    const ref = tree.parseOtlpJsonLines(fs.readFileSync(file, 'utf8'))
    const spans = [...ref.values()].reduce((n, ss) => n + ss.length, 0)
    assert.equal(ref.size, TURNS)
    const s = r.stats.sinks.otlp
    assert.deepEqual(
      { received: s.tracesReceived, exported: s.spansExported, rejected: s.spansRejected, failed: s.spansFailed, dropped: s.spansDroppedQueueFull },
      { received: TURNS, exported: spans, rejected: 0, failed: 0, dropped: 0 },
    )
    assert.deepEqual(r.errors, [])

    // What MLflow made of it, through its search API.
    const got = await srv.client.tracesWithSpans(experimentId)
    assert.deepEqual([...got.keys()].sort(), [...ref.keys()].sort())
    let failed = 0
    for (const [id, want] of ref) {
      const { info, spans: have } = got.get(id)
      const root = want.find((x) => !x.parentSpanId)
      const a = root.attributes
      const label = `trace ${id} (${a['session.id']})`
      assert.deepEqual(
        have.map((x) => `${x.spanId}<${x.parentSpanId || '-'}:${x.name}`).sort(),
        want.map((x) => `${x.spanId}<${x.parentSpanId || '-'}:${x.name}`).sort(),
        `span tree of ${label}`,
      )
      for (const x of have) {
        // Typed from the span kind; MLflow guesses the rest from other keys.
        const op = want.find((w) => w.spanId === x.spanId).attributes['gen_ai.operation.name']
        if (TYPE_BY_OPERATION[op]) assert.equal(x.type, TYPE_BY_OPERATION[op], `type of ${x.name} in ${label}`)
      }
      assert.equal(info.state, root.status.code === 2 ? 'ERROR' : 'OK', `state of ${label}`)
      if (info.state === 'ERROR') failed++
      assert.equal(info.trace_metadata['mlflow.trace.session'], a['session.id'], `session of ${label}`)
      assert.equal(info.trace_metadata['mlflow.trace.user'], a['user.id'], `user of ${label}`)
      if (want.some((x) => 'gen_ai.usage.input_tokens' in x.attributes)) {
        const [i, o] = [a['openclaw.usage.total.input_tokens'], a['openclaw.usage.total.output_tokens']]
        const u = tokenUsage(info)
        assert.deepEqual(
          { input_tokens: u.input_tokens, output_tokens: u.output_tokens, total_tokens: u.total_tokens },
          { input_tokens: i, output_tokens: o, total_tokens: i + o },
          `token usage of ${label}`,
        )
      }
      assert.equal(info.tags['service.name'], 'openclaw')
    }
    assert.equal(failed, FAILED, 'the failed turns are ERROR')
    assert.equal([...got.values()].filter((t) => t.info.state === 'IN_PROGRESS').length, 0)
  })
}
