// All sinks at once: one replay of the real corpus delivers the same traces — same trace ids, same span ids,
// same parents — to a real MLflow server, the strict Langfuse receiver and the file sink, each with its own
// counters showing nothing lost.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { mlflowServer, uniqueName, replayInChild } from './helpers/mlflow.mjs'
import { start as startLangfuse } from './helpers/langfuse-receiver.mjs'

const require = createRequire(import.meta.url)
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const tree = require(path.join(ROOT, 'bin', 'tree.js'))
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-fanout-'))
const TURNS = 19

let mlflow
let langfuse
before(async () => {
  mlflow = await mlflowServer()
  langfuse = await startLangfuse({ publicKey: 'pk-lf-fanout', secretKey: 'sk-lf-fanout-secret', environment: 'ci', release: 'r1' })
})
after(async () => {
  await langfuse?.close()
  fs.rmSync(tmp, { recursive: true, force: true })
})

/** `traceId → sorted "spanId<parentId:name"` lines: the tree, comparable across backends. */
function shapes(entries) {
  const out = new Map()
  for (const [id, spans] of entries) out.set(id, spans.map((s) => `${s.spanId}<${s.parentSpanId || '-'}:${s.name}`).sort())
  return out
}

test('one replay, three backends: the same traces everywhere, nothing lost', async () => {
  const file = path.join(tmp, 'traces.jsonl')
  const experimentName = uniqueName('fanout')
  const r = await replayInChild({
    exporters: {
      file: { path: file },
      mlflow: { trackingUri: mlflow.uri, experimentName },
      langfuse: { baseUrl: langfuse.url, publicKey: 'pk-lf-fanout', secretKey: 'sk-lf-fanout-secret', environment: 'ci', release: 'r1' },
    },
  })
  assert.ok(r.flushed, 'flush delivered everything')
  assert.deepEqual(r.errors, [], 'no export error')
  for (const sink of ['file', 'mlflow', 'langfuse']) {
    const s = r.stats.sinks[sink]
    assert.ok(s, `${sink} ran`)
    assert.equal(s.tracesReceived, TURNS, `${sink}: every trace`)
    assert.equal(s.spansExported, s.spansReceived, `${sink}: every span exported`)
    assert.equal(s.spansRejected + s.spansFailed + s.spansDroppedQueueFull + s.spansSpooled, 0, `${sink}: nothing lost or parked`)
  }
  assert.equal(r.stats.sinks.mlflow.spansExported, r.stats.sinks.file.spansExported)
  assert.equal(r.stats.sinks.langfuse.spansExported, r.stats.sinks.file.spansExported)

  const want = shapes(tree.parseOtlpJsonLines(fs.readFileSync(file, 'utf8')))
  assert.equal(want.size, TURNS)

  const exp = await mlflow.client.experimentByName(experimentName)
  assert.ok(exp, 'the MLflow experiment was created')
  const inMlflow = await mlflow.client.tracesWithSpans(exp.experiment_id)
  assert.deepEqual(shapes([...inMlflow].map(([id, t]) => [id, t.spans])), want, 'MLflow holds the same trees')
  assert.equal([...inMlflow.values()].filter((t) => t.info.state === 'IN_PROGRESS').length, 0)

  assert.deepEqual(langfuse.violations, [], 'the Langfuse contract held')
  assert.deepEqual(langfuse.problems(), [])
  assert.deepEqual(shapes(langfuse.traces()), want, 'Langfuse received the same trees')
})
