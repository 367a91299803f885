// A strict stand-in for Langfuse's OTLP endpoint (`POST /api/public/otel/v1/traces`), for tests. Langfuse itself
// cannot run here (Postgres + ClickHouse + Redis + S3 + web + worker), so this enforces its contract
// (docs/ARCHITECTURE.md, "Backends": Langfuse) more strictly than the real server does, answers the way it
// answers, and records what it accepted.
//
//   const lf = await start({ publicKey: 'pk-lf-test', secretKey: 'sk-lf-test', environment: 'production' })
//   await clawtrace.configure({ exporters: { langfuse: { baseUrl: lf.url, publicKey, secretKey } } })
//   ... lf.traces(), lf.spans(), lf.requests, lf.problems(), lf.fail({ status: 429, times: 2, retryAfter: 1 })
//   await lf.close()
//
// Answers: 200 `{}` (accepted), 400 `{"error"}` for the whole batch when anything in it breaks the contract,
// 401 on missing or wrong Basic credentials, 404 on any other path, and whatever `fail()` programs
// (429 with Retry-After, 503, a 400 for batches holding chosen spans, …).
import http from 'node:http'
import zlib from 'node:zlib'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'

export const TRACES_PATH = '/api/public/otel/v1/traces'
export const OBSERVATION_TYPES = new Set(['span', 'generation', 'event', 'embedding', 'agent', 'tool', 'chain', 'retriever', 'guardrail', 'evaluator'])

const protoDir = fileURLToPath(new URL('../fixtures/proto/', import.meta.url))
let requestType
function exportRequestType() {
  if (!requestType) {
    const root = new protobuf.Root()
    root.resolvePath = (_origin, target) => path.join(protoDir, target)
    root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto')
    requestType = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest')
  }
  return requestType
}

class ContractError extends Error {}
const fail = (msg) => {
  throw new ContractError(msg)
}

// ---- decoding: protobuf and OTLP/JSON into one plain shape --------------------------------------------------

const hexOf = (bytes) => Buffer.from(bytes ?? []).toString('hex')

/** AnyValue → JS value (int64 as a Number when safe, else a string). */
function anyValue(v, where) {
  if (v === null || typeof v !== 'object') fail(`${where}: value must be an AnyValue object`)
  const keys = Object.keys(v).filter((k) => k !== 'value' && v[k] !== undefined && v[k] !== null)
  if (keys.length === 0) return null
  if (keys.length > 1) fail(`${where}: AnyValue with several values ${keys}`)
  const k = keys[0]
  const x = v[k]
  switch (k) {
    case 'stringValue':
      if (typeof x !== 'string') fail(`${where}: stringValue must be a string`)
      return x
    case 'boolValue':
      return Boolean(x)
    case 'intValue': {
      const n = typeof x === 'string' ? Number(x) : Number(x)
      if (!Number.isInteger(n) && !/^-?\d+$/.test(String(x))) fail(`${where}: intValue ${x} is not an integer`)
      return Number.isSafeInteger(n) ? n : String(x)
    }
    case 'doubleValue':
      return Number(x)
    case 'arrayValue':
      if (!Array.isArray(x.values ?? [])) fail(`${where}: arrayValue.values must be an array`)
      return (x.values ?? []).map((e, i) => anyValue(e, `${where}[${i}]`))
    case 'kvlistValue':
      return attributes(x.values ?? [], where)
    case 'bytesValue':
      return Buffer.from(x)
    default:
      fail(`${where}: unknown AnyValue field ${k}`)
  }
}

/** `[{key, value}]` → object; Langfuse refuses a batch whose attributes are not such an array. */
function attributes(list, where) {
  if (list === undefined) return {}
  if (!Array.isArray(list)) fail(`${where}: attributes must be an array of {key, value}`)
  const out = {}
  for (const kv of list) {
    if (!kv || typeof kv.key !== 'string') fail(`${where}: attribute without a key`)
    if (Object.hasOwn(out, kv.key)) fail(`${where}: attribute ${kv.key} appears twice`)
    out[kv.key] = kv.value === undefined ? null : anyValue(kv.value, `${where}.${kv.key}`)
  }
  return out
}

function idHex(v, bytes, what, json) {
  if (v === undefined || v === null || v === '' || (v.length === 0 && typeof v !== 'string')) return ''
  let hex
  if (json) {
    if (typeof v !== 'string' || !/^[0-9a-fA-F]*$/.test(v)) fail(`${what} must be a hex string in OTLP/JSON (got ${JSON.stringify(v)})`)
    hex = v.toLowerCase()
  } else {
    hex = hexOf(v)
  }
  if (hex.length !== bytes * 2) fail(`${what} must be ${bytes} bytes (got ${hex.length / 2})`)
  if (/^0+$/.test(hex)) fail(`${what} is all zeros`)
  return hex
}

const asArray = (v, what) => {
  if (v === undefined) return []
  if (!Array.isArray(v)) fail(`${what} must be an array`)
  return v
}

function nanos(v, what) {
  if (v === undefined || v === null) return null
  const s = String(v)
  if (!/^\d+$/.test(s)) fail(`${what} must be an unsigned integer (got ${JSON.stringify(v)})`)
  return BigInt(s)
}

/** One decoded request (`toObject` of the protobuf message, or the parsed JSON) → resource + spans. */
function normalise(req, json) {
  if (req === null || typeof req !== 'object' || Array.isArray(req)) fail('body must be an ExportTraceServiceRequest object')
  const spans = []
  for (const [ri, rs] of asArray(req.resourceSpans, 'resourceSpans').entries()) {
    const resource = attributes(rs.resource?.attributes, `resourceSpans[${ri}].resource`)
    for (const [si, ss] of asArray(rs.scopeSpans, `resourceSpans[${ri}].scopeSpans`).entries()) {
      for (const [i, s] of asArray(ss.spans, `scopeSpans[${si}].spans`).entries()) {
        const where = `span ${i} (${s?.name ?? '?'})`
        const traceId = idHex(s.traceId, 16, `${where}: traceId`, json)
        const spanId = idHex(s.spanId, 8, `${where}: spanId`, json)
        if (!traceId) fail(`${where}: traceId missing`)
        if (!spanId) fail(`${where}: spanId missing`)
        const events = asArray(s.events, `${where}: events`).map((e, j) => ({
          name: e.name,
          timeUnixNano: nanos(e.timeUnixNano, `${where}: event ${j} time`),
          attributes: attributes(e.attributes, `${where}: event ${j}`),
        }))
        if (json && s.kind !== undefined && typeof s.kind !== 'number') fail(`${where}: kind must be an integer enum in OTLP/JSON`)
        spans.push({
          traceId,
          spanId,
          parentSpanId: idHex(s.parentSpanId, 8, `${where}: parentSpanId`, json),
          name: s.name ?? '',
          kind: s.kind ?? 0,
          startTimeUnixNano: nanos(s.startTimeUnixNano, `${where}: startTimeUnixNano`),
          endTimeUnixNano: nanos(s.endTimeUnixNano, `${where}: endTimeUnixNano`),
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
          attributes: attributes(s.attributes, where),
          events,
          resource,
          scope: ss.scope?.name ?? '',
        })
      }
    }
  }
  return spans
}

// ---- the mapping contract (docs/ARCHITECTURE.md, "Backends") ------------------------------------------------

const TRACE_LEVEL = ['langfuse.trace.name', 'langfuse.user.id', 'langfuse.session.id', 'langfuse.trace.tags', 'langfuse.environment', 'langfuse.release']

export const sessionOf = (a) => a['langfuse.session.id'] ?? a['session.id'] ?? a['gen_ai.conversation.id'] ?? null
export const userOf = (a) => a['langfuse.user.id'] ?? a['user.id'] ?? null
export const modelOf = (a) => a['langfuse.observation.model.name'] ?? a['gen_ai.response.model'] ?? a['gen_ai.request.model'] ?? null

function jsonObject(v, what) {
  if (typeof v !== 'string') fail(`${what} must be a JSON string`)
  let o
  try {
    o = JSON.parse(v)
  } catch {
    fail(`${what} is not valid JSON`)
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) fail(`${what} must be a JSON object`)
  return o
}

/** Everything one span must satisfy on its own. */
/** An OTLP/HTTP request body (protobuf or JSON, optionally gzip) → `{ spans, encoding, decodedBytes }`, the
 *  spans in one plain shape. Throws a ContractError naming what is wrong. Shared with the counting proxy. */
export function decodeRequest(raw, contentType, contentEncoding) {
  const ct = (contentType ?? '').split(';')[0].trim().toLowerCase()
  if (ct !== 'application/x-protobuf' && ct !== 'application/json') fail(`unsupported content type ${JSON.stringify(contentType)}`)
  let body = raw
  if (contentEncoding) {
    if (contentEncoding.toLowerCase() !== 'gzip') fail(`unsupported content encoding ${contentEncoding}`)
    try {
      body = zlib.gunzipSync(raw)
    } catch {
      fail('body is not valid gzip')
    }
  }
  if (ct === 'application/json') {
    let parsed
    try {
      parsed = JSON.parse(body.toString('utf8'))
    } catch {
      fail('body is not valid JSON')
    }
    return { spans: normalise(parsed, true), encoding: 'json', decodedBytes: body.length }
  }
  const T = exportRequestType()
  let msg
  try {
    msg = T.decode(body)
  } catch (e) {
    fail(`body is not a protobuf ExportTraceServiceRequest: ${e.message}`)
  }
  const obj = T.toObject(msg, { longs: String, enums: Number, defaults: false, arrays: true })
  return { spans: normalise(obj, false), encoding: 'protobuf', decodedBytes: body.length }
}

function checkSpan(s, opts) {
  const a = s.attributes
  const where = `span ${s.spanId} (${s.name})`
  if (!s.name) fail(`${where}: empty name`)
  if (s.startTimeUnixNano === null || s.endTimeUnixNano === null) fail(`${where}: start and end time are required (spans are exported once, complete)`)
  if (s.endTimeUnixNano < s.startTimeUnixNano) fail(`${where}: ends before it starts`)
  if (typeof a['langfuse.trace.name'] !== 'string' || !a['langfuse.trace.name']) fail(`${where}: langfuse.trace.name missing (trace-level attributes go on every span)`)
  if (opts.requireSession && !sessionOf(a)) fail(`${where}: no session id`)
  if (a['langfuse.trace.tags'] !== undefined && !(Array.isArray(a['langfuse.trace.tags']) && a['langfuse.trace.tags'].every((t) => typeof t === 'string'))) {
    fail(`${where}: langfuse.trace.tags must be an array of strings`)
  }
  if (opts.environment !== undefined && a['langfuse.environment'] !== opts.environment) fail(`${where}: langfuse.environment is ${a['langfuse.environment']}, expected ${opts.environment}`)
  if (opts.release !== undefined && a['langfuse.release'] !== opts.release) fail(`${where}: langfuse.release is ${a['langfuse.release']}, expected ${opts.release}`)
  const type = a['langfuse.observation.type']
  if (!OBSERVATION_TYPES.has(type)) fail(`${where}: langfuse.observation.type ${JSON.stringify(type)} is not an observation type`)
  if (a['langfuse.observation.usage_details'] !== undefined) {
    const u = jsonObject(a['langfuse.observation.usage_details'], `${where}: usage_details`)
    for (const [k, v] of Object.entries(u)) if (!Number.isInteger(v) || v < 0) fail(`${where}: usage_details.${k} must be a non-negative integer`)
  }
  if (a['langfuse.observation.cost_details'] !== undefined) {
    const c = jsonObject(a['langfuse.observation.cost_details'], `${where}: cost_details`)
    for (const [k, v] of Object.entries(c)) if (typeof v !== 'number' || !(v >= 0)) fail(`${where}: cost_details.${k} must be a non-negative number`)
  }
  if (a['langfuse.observation.completion_start_time'] !== undefined && Number.isNaN(Date.parse(a['langfuse.observation.completion_start_time']))) {
    fail(`${where}: completion_start_time is not an ISO date`)
  }
  if (type === 'generation') {
    if (!modelOf(a)) fail(`${where}: a generation without a model`)
    const failed = s.status.code === 2
    const usage = a['langfuse.observation.usage_details'] !== undefined || Object.keys(a).some((k) => k.startsWith('gen_ai.usage.'))
    if (!failed && !usage) fail(`${where}: a generation without usage`)
  }
  if (!s.parentSpanId && opts.requireRootIO) {
    for (const k of ['langfuse.observation.input', 'langfuse.observation.output']) if (typeof a[k] !== 'string') fail(`${where}: the root has no ${k}`)
  }
  for (const k of ['langfuse.trace.input', 'langfuse.trace.output']) if (a[k] !== undefined) fail(`${where}: ${k} is deprecated in v4 (use langfuse.observation.* on the root)`)
}

const traceLevelOf = (a) => JSON.stringify(TRACE_LEVEL.map((k) => a[k] ?? null))

// ---- what Langfuse makes of a span ---------------------------------------------------------------------------
// Langfuse's own OTLP ingestion (packages/shared/src/server/otel in its open-source repository:
// ObservationTypeMapper.ts and OtelIngestionProcessor.ts), reduced to the rules that apply to OTLP spans from a
// non-Langfuse SDK. The tests compare what Langfuse would show (observation types, model, usage, cost, input and
// output, level, status message, trace user/session/tags) against clawtrace's own file output.

const meaningful = (v) => v !== null && v !== undefined && v !== '' && !(Array.isArray(v) && v.length === 0) && !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0)
const OBSERVATION_TYPE_BY = {
  // priority 1: langfuse.observation.type
  'langfuse.observation.type': { span: 'SPAN', generation: 'GENERATION', event: 'EVENT', embedding: 'EMBEDDING', agent: 'AGENT', tool: 'TOOL', chain: 'CHAIN', retriever: 'RETRIEVER', guardrail: 'GUARDRAIL', evaluator: 'EVALUATOR' },
  // priority 2: OpenInference
  'openinference.span.kind': { CHAIN: 'CHAIN', RETRIEVER: 'RETRIEVER', LLM: 'GENERATION', EMBEDDING: 'EMBEDDING', AGENT: 'AGENT', TOOL: 'TOOL', GUARDRAIL: 'GUARDRAIL', EVALUATOR: 'EVALUATOR' },
  // priority 3: GenAI operation
  'gen_ai.operation.name': { chat: 'GENERATION', completion: 'GENERATION', text_completion: 'GENERATION', generate_content: 'GENERATION', generate: 'GENERATION', embeddings: 'EMBEDDING', invoke_agent: 'AGENT', create_agent: 'AGENT', execute_tool: 'TOOL' },
}

/** ObservationTypeMapperRegistry: the first mapper (by priority) that maps the span wins; else SPAN. */
export function observationTypeOf(a) {
  for (const [key, table] of Object.entries(OBSERVATION_TYPE_BY)) {
    if (meaningful(a[key]) && table[a[key]]) return table[a[key]]
  }
  if (meaningful(a['gen_ai.tool.name']) || meaningful(a['gen_ai.tool.call.id'])) return 'TOOL' // priority 7
  const modelKeys = ['langfuse.observation.model.name', 'gen_ai.request.model', 'gen_ai.response.model', 'llm.model_name', 'model']
  if (modelKeys.some((k) => meaningful(a[k]))) return 'GENERATION' // priority 10: any model name
  return 'SPAN'
}

/** extractModelName. */
const modelNameOf = (a) => ['langfuse.observation.model.name', 'gen_ai.response.model', 'ai.model.id', 'gen_ai.request.model', 'llm.response.model', 'llm.model_name', 'model'].map((k) => a[k]).find((v) => v) ?? null

/** extractUsageDetails for a non-SDK scope: langfuse.observation.usage_details, else the generic GenAI and
 *  OpenInference token keys, with input and output net of cache and reasoning tokens. */
function usageOf(a) {
  if (a['langfuse.observation.usage_details'] !== undefined) return JSON.parse(a['langfuse.observation.usage_details'])
  const raw = {}
  for (const [k, v] of Object.entries(a)) {
    if ((k.startsWith('gen_ai.usage.') && k !== 'gen_ai.usage.cost') || k.startsWith('llm.token_count.')) {
      const n = Number(v)
      if (!Number.isNaN(n)) raw[k.replace('gen_ai.usage.', '').replace('llm.token_count.', '')] = n
    }
  }
  if (Object.keys(raw).length === 0) return {}
  const input = raw.prompt_tokens ?? raw.input_tokens ?? raw.prompt
  const output = raw.completion_tokens ?? raw.output_tokens ?? raw.completion
  const total = raw.total_tokens ?? raw.total
  const cacheRead = raw['cache_read.input_tokens'] ?? raw['prompt_details.cache_read'] ?? raw.input_cached_tokens
  const cacheWrite = raw['cache_creation.input_tokens'] ?? raw['prompt_details.cache_write'] ?? raw.input_cache_creation
  const reasoning = raw['reasoning.output_tokens'] ?? raw['completion_details.reasoning']
  const u = {}
  if (input !== undefined) u.input = Math.max(input - (cacheRead ?? 0) - (cacheWrite ?? 0), 0)
  if (output !== undefined) u.output = Math.max(output - (reasoning ?? 0), 0)
  if (total !== undefined) u.total = total
  if (cacheRead !== undefined) u.input_cached_tokens = cacheRead
  if (cacheWrite !== undefined) u.input_cache_creation = cacheWrite
  if (reasoning !== undefined) u.output_reasoning_tokens = reasoning
  return u
}

/** extractCostDetails: langfuse.observation.cost_details, else gen_ai.usage.cost, else OpenInference llm.cost.total. */
function costOf(a) {
  if (a['langfuse.observation.cost_details'] !== undefined) return JSON.parse(a['langfuse.observation.cost_details'])
  for (const k of ['gen_ai.usage.cost', 'llm.cost.total']) if (a[k] !== undefined && a[k] !== null && a[k] !== '') return { total: a[k] }
  return {}
}

/** extractInputAndOutput, the branches an OTLP span from clawtrace can take, in Langfuse's order. */
function ioOf(a) {
  const pairs = [
    ['langfuse.observation.input', 'langfuse.observation.output'],
    ['mlflow.spanInputs', 'mlflow.spanOutputs'],
    ['input.value', 'output.value'],
    ['gen_ai.input.messages', 'gen_ai.output.messages'],
    ['gen_ai.tool.call.arguments', 'gen_ai.tool.call.result'],
  ]
  for (const [i, o] of pairs) {
    const [input, output] = [a[i] ?? null, a[o] ?? null]
    // The Langfuse keys count when either is non-null; the others when either is truthy.
    if (i.startsWith('langfuse.') ? input != null || output != null : input || output) return { input, output }
  }
  return { input: null, output: null }
}

const pick = (a, keys) => keys.map((k) => a[k]).find((v) => v) ?? null

/** One span as the Langfuse observation (and trace fields) its ingestion would write. */
export function observationOf(s) {
  const a = s.attributes
  const level = typeof a['langfuse.observation.level'] === 'string' ? a['langfuse.observation.level'].trim().toUpperCase() : null
  const tags = a['langfuse.trace.tags'] ?? a['langfuse.tags'] ?? null
  return {
    id: s.spanId,
    traceId: s.traceId,
    parentId: s.parentSpanId || null,
    name: s.name,
    type: observationTypeOf(a),
    level: level ?? (s.status.code === 2 ? 'ERROR' : 'DEFAULT'),
    statusMessage: a['langfuse.observation.status_message'] ?? (s.status.message || null),
    model: modelNameOf(a),
    usage: usageOf(a),
    cost: costOf(a),
    ...ioOf(a),
    userId: pick(a, ['langfuse.user.id', 'user.id']),
    sessionId: pick(a, ['langfuse.session.id', 'session.id', 'gen_ai.conversation.id']),
    tags: Array.isArray(tags) ? tags.map(String) : [],
  }
}

// ---- the server ---------------------------------------------------------------------------------------------

/**
 * Starts a receiver on 127.0.0.1 (a free port).
 * opts: publicKey, secretKey (required); environment, release (when given, every span must carry exactly that);
 * requireSession (default true); requireRootIO (root spans must carry langfuse.observation.input/output).
 */
export async function start(opts) {
  const { publicKey, secretKey } = opts ?? {}
  // generic: Langfuse reached as "any OTLP backend" (the generic OTLP sink): `/v1/traces`, no Langfuse keys
  // required; what it makes of the spans is still `observations()`.
  const generic = Boolean(opts?.generic)
  if (!generic && (!publicKey || !secretKey)) throw new Error('langfuse receiver: publicKey and secretKey are required')
  const o = { requireSession: true, requireRootIO: false, ...opts }
  const expectedAuth = 'Basic ' + Buffer.from(`${publicKey}:${secretKey}`).toString('base64')
  const accepted = new Map() // spanId → span
  const traceLevel = new Map() // traceId → the trace-level attributes every span of it carries
  const requests = []
  const violations = []
  let failures = [] // programmed answers, first match wins

  function answer(res, status, body, headers = {}) {
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(JSON.stringify(body))
    return status
  }

  function handle(req, raw) {
    const rec = {
      method: req.method,
      path: req.url,
      contentType: req.headers['content-type'] ?? null,
      contentEncoding: req.headers['content-encoding'] ?? null,
      ingestionVersion: req.headers['x-langfuse-ingestion-version'] ?? null,
      sdkName: req.headers['x-langfuse-sdk-name'] ?? null,
      auth: req.headers.authorization === undefined ? 'missing' : req.headers.authorization === expectedAuth ? 'ok' : 'wrong',
      bytes: raw.length,
      spans: 0,
      status: 0,
      error: null,
    }
    requests.push(rec)
    return rec
  }

  function serve(req, res, raw) {
    const rec = handle(req, raw)
    const reply = (status, body, headers) => {
      rec.status = status
      if (body?.error) rec.error = body.error
      return answer(res, status, body, headers)
    }
    if (req.method !== 'POST' || req.url !== (generic ? '/v1/traces' : TRACES_PATH)) return reply(404, { error: `no route ${req.method} ${req.url}` })
    if (generic) {
      try {
        const decoded = decodeRequest(raw, rec.contentType, rec.contentEncoding)
        rec.spans = decoded.spans.length
        for (const sp of decoded.spans) accepted.set(sp.spanId, sp)
      } catch (e) {
        if (!(e instanceof ContractError)) throw e
        violations.push(e.message)
        return reply(400, { error: e.message })
      }
      return reply(200, {})
    }
    if (rec.auth !== 'ok') return reply(401, { error: 'Unauthorized', message: 'Invalid credentials. Confirm that you have configured the correct host.' })
    const programmed = failures.find((f) => f.remaining > 0 && !f.match)
    if (programmed) {
      programmed.remaining--
      programmed.hits++
      const headers = programmed.retryAfter !== undefined ? { 'retry-after': String(programmed.retryAfter), 'x-ratelimit-limit': '1000', 'x-ratelimit-remaining': '0' } : {}
      return reply(programmed.status, { error: programmed.message ?? `programmed ${programmed.status}` }, headers)
    }
    let spans
    try {
      const v = rec.ingestionVersion
      if (v === null) fail('x-langfuse-ingestion-version missing (4 selects the real-time v4 write path)')
      if (!/^\d+$/.test(v) || Number(v) > 4) fail(`x-langfuse-ingestion-version ${JSON.stringify(v)} is not accepted`)
      if (v !== '4') fail(`x-langfuse-ingestion-version ${v}: clawtrace must send 4`)
      const decoded = decodeRequest(raw, rec.contentType, rec.contentEncoding)
      spans = decoded.spans
      rec.decodedBytes = decoded.decodedBytes
      rec.encoding = decoded.encoding
      const inBatch = new Set()
      const levels = new Map()
      for (const s of spans) {
        if (inBatch.has(s.spanId) || accepted.has(s.spanId)) fail(`span ${s.spanId} (${s.name}) sent twice (v4: each span exactly once)`)
        inBatch.add(s.spanId)
        checkSpan(s, o)
        const level = traceLevelOf(s.attributes)
        const known = levels.get(s.traceId) ?? traceLevel.get(s.traceId)
        if (known !== undefined && known !== level) {
          fail(`span ${s.spanId} (${s.name}): trace-level attributes differ from other spans of trace ${s.traceId}: ${level} vs ${known}`)
        }
        levels.set(s.traceId, level)
      }
    } catch (e) {
      if (!(e instanceof ContractError)) throw e
      violations.push(e.message)
      return reply(400, { error: e.message })
    }
    rec.spans = spans.length
    const rejecting = failures.find((f) => f.remaining > 0 && f.match && spans.some(f.match))
    if (rejecting) {
      rejecting.remaining--
      rejecting.hits++
      return reply(rejecting.status, { error: rejecting.message ?? 'Invalid request data' })
    }
    for (const s of spans) {
      accepted.set(s.spanId, s)
      if (!traceLevel.has(s.traceId)) traceLevel.set(s.traceId, traceLevelOf(s.attributes))
    }
    return reply(200, {})
  }

  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      try {
        serve(req, res, Buffer.concat(chunks))
      } catch (e) {
        violations.push(`receiver bug: ${e.stack}`)
        answer(res, 500, { error: 'internal error' })
      }
    })
  })
  server.keepAliveTimeout = 1000
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()

  return {
    /** Base URL, as `exporters.langfuse.baseUrl` / `LANGFUSE_BASE_URL` take it. */
    url: `http://127.0.0.1:${port}`,
    /** The full OTLP route. */
    tracesUrl: `http://127.0.0.1:${port}${TRACES_PATH}`,
    /** Every request, in arrival order: method, path, contentType, contentEncoding, encoding, ingestionVersion,
     * auth ('ok' | 'wrong' | 'missing'; never the header itself), bytes, spans, status, error. */
    requests,
    /** Why each 400 was given (contract violations), in order. */
    violations,
    /** Accepted spans, in arrival order (attributes as a plain object). */
    spans: () => [...accepted.values()],
    /** What Langfuse's ingestion makes of each accepted span (observationOf), in arrival order. */
    observations: () => [...accepted.values()].map(observationOf),
    /** Accepted spans grouped by trace id: Map traceId → spans. */
    traces() {
      const m = new Map()
      for (const s of accepted.values()) {
        if (!m.has(s.traceId)) m.set(s.traceId, [])
        m.get(s.traceId).push(s)
      }
      return m
    },
    /** Cross-request problems among accepted spans: parents that never arrived, traces without exactly one root. */
    problems() {
      const out = []
      for (const [traceId, spans] of this.traces()) {
        const ids = new Set(spans.map((s) => s.spanId))
        for (const s of spans) if (s.parentSpanId && !ids.has(s.parentSpanId)) out.push(`trace ${traceId}: parent ${s.parentSpanId} of ${s.name} never arrived`)
        const roots = spans.filter((s) => !s.parentSpanId).length
        if (roots !== 1) out.push(`trace ${traceId}: ${roots} roots`)
      }
      return out
    },
    /**
     * Programs answers: `{status, times = 1, retryAfter?, message?, match?}`. Without `match` the next `times`
     * authenticated requests get `status` (with `Retry-After: retryAfter` when given); with `match(span)` every
     * valid batch holding a matching span is refused whole, `times` times (default: always). Returns a handle
     * whose `hits` counts the answers given.
     */
    fail(f) {
      const entry = { times: f.match ? Infinity : 1, ...f, hits: 0 }
      entry.remaining = entry.times
      failures.push(entry)
      return entry
    },
    /** Forgets programmed answers. */
    clearFailures() {
      failures = []
    },
    /** Forgets everything received (keeps programmed answers). */
    reset() {
      accepted.clear()
      traceLevel.clear()
      requests.length = 0
      violations.length = 0
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.()
        server.close(() => resolve())
      }),
  }
}
