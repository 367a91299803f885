// `clawtrace replay` and where its traces go: only the exporters asked for, within --timeout-ms as a whole, and never
// a report of an export that created nothing (MLflow keeps a trace in the experiment it was first sent to;
// --fresh-ids makes a copy elsewhere, idempotently).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import http from 'node:http'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { mlflowServer, uniqueName, saltTraceIds, CORPUS } from './helpers/mlflow.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const CLI = path.join(ROOT, 'bin', 'clawtrace.js')
const TURNS = 19

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-dest-'))
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }))

/** Runs the CLI in `cwd` with an environment cleared of exporter variables; resolves {status, stdout, stderr, ms}. */
function cli(args, { cwd = tmp, env = {} } = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(MLFLOW_|OTEL_|LANGFUSE_|CLAWTRACE_)/.test(k)))
  const t0 = Date.now()
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr, ms: Date.now() - t0 })))
}

/** An OTLP receiver: answers 200 to everything, or (hang) never answers. */
async function receiver({ hang = false } = {}) {
  const sockets = new Set()
  let requests = 0
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      requests++
      if (!hang) res.end('{}')
    })
  })
  server.on('connection', (s) => sockets.add(s))
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests: () => requests,
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise((r) => server.close(r))
    },
  }
}

test('--config naming one exporter writes no ./clawtrace-traces.jsonl', async () => {
  const rx = await receiver()
  const cwd = fs.mkdtempSync(path.join(tmp, 'cwd-'))
  try {
    const config = path.join(cwd, 'clawtrace.json')
    fs.writeFileSync(config, JSON.stringify({ exporters: { otlp: { endpoint: rx.url } } }))
    const r = await cli(['replay', CORPUS, '--config', config], { cwd })
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /otlp\s+19 traces/)
    assert.doesNotMatch(r.stdout, /\bfile\b/, 'no file sink line')
    assert.ok(rx.requests() > 0)
    assert.deepEqual(fs.readdirSync(cwd), ['clawtrace.json'], 'nothing written to the working directory')
    // Nothing named anywhere: the default file, as before.
    const r2 = await cli(['replay', CORPUS], { cwd })
    assert.equal(r2.status, 0, r2.stderr)
    assert.ok(fs.existsSync(path.join(cwd, 'clawtrace-traces.jsonl')))
  } finally {
    await rx.close()
  }
})

test('--timeout-ms: a backend that never answers is given up on once, not twice', { timeout: 60_000 }, async () => {
  const rx = await receiver({ hang: true })
  try {
    const timeoutMs = 4000
    const r = await cli(['replay', CORPUS, '--exporter', 'otlp', '--otlp-endpoint', rx.url, '--timeout-ms', String(timeoutMs)])
    assert.equal(r.status, 1, 'not delivered: non-zero')
    assert.ok(rx.requests() > 0, 'the backend was tried')
    assert.match(r.stderr, /not delivered|did not finish within 4000 ms/)
    // The export is waited for once (before: the flush's wait, then the shutdown's, each --timeout-ms).
    assert.ok(r.ms < timeoutMs * 1.6, `gave up after ${r.ms} ms for --timeout-ms ${timeoutMs}`)
  } finally {
    await rx.close()
  }
})

test('replay into MLflow: the CLI counts the traces the experiment holds; --fresh-ids copies, idempotently', { timeout: 300_000 }, async () => {
  const srv = await mlflowServer()
  const file = saltTraceIds(CORPUS) // ids no earlier run stored
  const [a, b] = [uniqueName('dest-a'), uniqueName('dest-b')]
  const into = (name, ...extra) => cli(['replay', file, '--exporter', 'mlflow', '--mlflow-uri', srv.uri, '--mlflow-experiment', name, ...extra])
  const count = async (name) => (await srv.client.searchTraces((await srv.client.experimentByName(name)).experiment_id)).length

  const first = await into(a)
  assert.equal(first.status, 0, first.stderr)
  assert.match(first.stdout, new RegExp(`experiment \\d+ holds the ${TURNS} traces`))
  assert.equal(await count(a), TURNS)

  // The same ids into another experiment: MLflow updates the traces where they are; the CLI says so, non-zero.
  const again = await into(b)
  assert.equal(again.status, 1, 'an export that created nothing is not a success')
  assert.match(again.stderr, new RegExp(`holds 0 of the ${TURNS} traces.*--fresh-ids`))
  assert.equal(await count(b), 0)
  assert.equal(await count(a), TURNS)

  // --fresh-ids: a copy in B; replayed again into B, the same ids (nothing doubled).
  for (let i = 0; i < 2; i++) {
    const fresh = await into(b, '--fresh-ids')
    assert.equal(fresh.status, 0, fresh.stderr)
    assert.match(fresh.stdout, new RegExp(`holds the ${TURNS} traces`))
    assert.equal(await count(b), TURNS, `replay ${i + 1} with --fresh-ids: still one copy`)
  }
  assert.equal(await count(a), TURNS, 'the first experiment is untouched')
})
