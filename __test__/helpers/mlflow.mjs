// A real MLflow tracking server for the integration tests, and the few REST calls they need.
//
// `mlflowServer()` returns the server named by CLAWTRACE_TEST_MLFLOW_URI (what .ci/run starts), else starts one
// with scripts/mlflow-server.sh (installing MLflow into a cached venv the first time) and stops it when the process
// exits. It throws when no server can be had: the tests then fail, they never skip.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const SCRIPT = path.join(ROOT, 'scripts', 'mlflow-server.sh')

let server

export function mlflowServer() {
  server ??= (process.env.CLAWTRACE_TEST_MLFLOW_URI ? external(process.env.CLAWTRACE_TEST_MLFLOW_URI) : startOwn())
  return server
}

async function external(uri) {
  const base = uri.replace(/\/+$/, '')
  const deadline = Date.now() + 30_000
  let last
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`${base}/health`)
      if (r.ok) return { uri: base, client: new MlflowClient(base), started: false }
      last = `answered ${r.status}`
    } catch (e) {
      last = e.cause?.code || e.message
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`CLAWTRACE_TEST_MLFLOW_URI=${uri} is set but the server does not answer /health (${last})`)
}

async function startOwn() {
  const t0 = Date.now()
  const child = spawn('bash', [SCRIPT, 'start'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  const code = await new Promise((resolve) => child.on('close', resolve))
  const uri = /CLAWTRACE_TEST_MLFLOW_URI=(\S+)/.exec(out)?.[1]
  const dir = /CLAWTRACE_TEST_MLFLOW_DIR=(\S+)/.exec(out)?.[1]
  if (code !== 0 || !uri || !dir) {
    throw new Error(`could not start an MLflow server with ${SCRIPT} (exit ${code}):\n${err}${out}`)
  }
  const stop = () => spawnSync('bash', [SCRIPT, 'stop', dir], { stdio: 'ignore' })
  process.once('exit', stop)
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      stop()
      process.exit(130)
    })
  }
  return { uri, client: new MlflowClient(uri), started: true, startMs: Date.now() - t0 }
}

let unique = 0
/** An experiment name no other test (or earlier run against the same server) uses. */
export function uniqueName(label) {
  return `clawtrace-${label}-${process.pid}-${Date.now().toString(36)}-${++unique}`
}

/** AnyValue as MLflow returns it (`{string_value}`, `{int_value}`, `{kvlist_value: {values}}`, …) → plain JS. */
function plain(v) {
  if (!v || typeof v !== 'object') return v
  if ('string_value' in v) return v.string_value
  if ('int_value' in v) return Number(v.int_value)
  if ('double_value' in v) return Number(v.double_value)
  if ('bool_value' in v) return v.bool_value
  if ('kvlist_value' in v) return Object.fromEntries((v.kvlist_value.values || []).map((kv) => [kv.key, plain(kv.value)]))
  if ('array_value' in v) return (v.array_value.values || []).map(plain)
  return v
}

const b64hex = (s) => (s ? Buffer.from(s, 'base64').toString('hex') : null)

/** One stored span: hex ids, status `OK` / `ERROR` / `UNSET`, attributes as plain values. The tests' one MLflow reader. */
function normalizeSpan(s) {
  const attrs = Object.fromEntries((s.attributes || []).map((kv) => [kv.key, plain(kv.value)]))
  const code = s.status?.code || 'STATUS_CODE_UNSET'
  return {
    traceId: b64hex(s.trace_id),
    spanId: b64hex(s.span_id),
    parentSpanId: b64hex(s.parent_span_id),
    name: s.name,
    status: code.replace('STATUS_CODE_', ''),
    statusMessage: s.status?.message || '',
    type: attrs['mlflow.spanType'],
    attrs,
    startMs: Number(s.start_time_unix_nano) / 1e6,
    endMs: Number(s.end_time_unix_nano) / 1e6,
    links: (s.links || []).map((l) => ({ traceId: b64hex(l.trace_id), spanId: b64hex(l.span_id), attrs: {} })),
  }
}

export class MlflowClient {
  constructor(uri) {
    this.uri = uri.replace(/\/+$/, '')
  }

  async call(method, p, body) {
    const r = await fetch(`${this.uri}${p}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    })
    const text = await r.text()
    let json
    try {
      json = text ? JSON.parse(text) : {}
    } catch {
      json = { raw: text }
    }
    return { status: r.status, json }
  }

  async ok(method, p, body) {
    const { status, json } = await this.call(method, p, body)
    if (status !== 200) throw new Error(`${method} ${p} → ${status}: ${JSON.stringify(json).slice(0, 500)}`)
    return json
  }

  /** The experiment with this name, or null. */
  async experimentByName(name) {
    const { status, json } = await this.call('GET', `/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`)
    if (status === 404) return null
    if (status !== 200) throw new Error(`get-by-name ${name} → ${status}`)
    return json.experiment
  }

  async createExperiment(name) {
    return (await this.ok('POST', '/api/2.0/mlflow/experiments/create', { name })).experiment_id
  }

  /** Every trace info in the experiment (all pages). */
  async searchTraces(experimentId, filter) {
    const out = []
    let page
    do {
      const body = {
        locations: [{ type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: String(experimentId) } }],
        max_results: 100,
        order_by: ['timestamp_ms ASC'],
      }
      if (filter) body.filter = filter
      if (page) body.page_token = page
      const json = await this.ok('POST', '/api/3.0/mlflow/traces/search', body)
      out.push(...(json.traces || []))
      page = json.next_page_token
    } while (page)
    return out
  }

  /** One trace: its info and its spans, normalized. */
  async getTrace(traceId) {
    const json = await this.ok('GET', `/api/3.0/mlflow/traces/get?trace_id=${encodeURIComponent(traceId)}`)
    return { info: json.trace.trace_info, spans: (json.trace.spans || []).map(normalizeSpan) }
  }

  /** Every trace of the experiment with its spans, keyed by the 32-hex OTLP trace id. */
  async tracesWithSpans(experimentId) {
    const infos = await this.searchTraces(experimentId)
    const out = new Map()
    for (const info of infos) {
      const t = await this.getTrace(info.trace_id)
      out.set(info.trace_id.replace(/^tr-/, ''), t)
    }
    return out
  }
}

/** `mlflow.trace.tokenUsage` of a trace info as an object (or null). */
export function tokenUsage(info) {
  const u = info.trace_metadata?.['mlflow.trace.tokenUsage']
  return u ? JSON.parse(u) : null
}

export { CORPUS, replayInChild, saltTraceIds } from './replay.mjs'

/**
 * An HTTP proxy in front of `target` that records every request (method, url, headers) and can fail the first
 * `failFirst` requests by dropping the connection (a server that is not up yet). Resolves `{url, requests, close}`.
 */
export async function recordingProxy(target, { failFirst = 0 } = {}) {
  const http = await import('node:http')
  const requests = []
  const upstream = new URL(target)
  const srv = http.createServer((req, res) => {
    requests.push({ method: req.method, url: req.url, headers: { ...req.headers } })
    if (requests.length <= failFirst) {
      req.socket.destroy()
      return
    }
    const fwd = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (up) => {
        res.writeHead(up.statusCode, up.headers)
        up.pipe(res)
      },
    )
    fwd.on('error', (e) => {
      res.writeHead(502)
      res.end(String(e))
    })
    req.pipe(fwd)
  })
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  const { port } = srv.address()
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((r) => srv.close(r)) }
}
