'use strict'
// Reads the OTLP/JSON lines the file sink writes (one ExportTraceServiceRequest per line) and renders traces as
// indented trees. Streaming: a file is read line by line, never whole.

const fs = require('node:fs')
const readline = require('node:readline')

/** The plain value of an OTLP AnyValue. intValue is a string in OTLP/JSON; it becomes a number. */
function anyValue(v) {
  if (!v || typeof v !== 'object') return undefined
  if ('stringValue' in v) return v.stringValue
  if ('intValue' in v) return Number(v.intValue)
  if ('doubleValue' in v) return Number(v.doubleValue)
  if ('boolValue' in v) return !!v.boolValue
  if ('arrayValue' in v) return (v.arrayValue.values || []).map(anyValue)
  if ('kvlistValue' in v) return attrs(v.kvlistValue.values)
  if ('bytesValue' in v) return v.bytesValue
  return undefined
}

/** OTLP attribute list → plain object. */
function attrs(list) {
  const o = {}
  for (const a of list || []) o[a.key] = anyValue(a.value)
  return o
}

/** The spans of one ExportTraceServiceRequest, flattened, with attributes as plain objects. */
function spansOfRequest(req) {
  const out = []
  for (const rs of req.resourceSpans || []) {
    const resource = attrs(rs.resource && rs.resource.attributes)
    for (const ss of rs.scopeSpans || []) {
      for (const s of ss.spans || []) {
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId || '',
          name: s.name,
          start: BigInt(s.startTimeUnixNano || '0'),
          end: BigInt(s.endTimeUnixNano || '0'),
          attributes: attrs(s.attributes),
          status: s.status || {},
          links: (s.links || []).map((l) => ({ traceId: l.traceId, spanId: l.spanId, attributes: attrs(l.attributes) })),
          resource,
        })
      }
    }
  }
  return out
}

/** Groups spans into traces (Map traceId → spans), keeping first-seen order. */
function groupTraces(spans, into = new Map()) {
  for (const s of spans) {
    let t = into.get(s.traceId)
    if (!t) into.set(s.traceId, (t = []))
    t.push(s)
  }
  return into
}

/** Parses OTLP/JSON text (one request per line) into Map traceId → spans. */
function parseOtlpJsonLines(text) {
  const traces = new Map()
  for (const line of text.split('\n')) {
    if (!line.trim()) continue
    groupTraces(spansOfRequest(JSON.parse(line)), traces)
  }
  return traces
}

/**
 * Streams an OTLP/JSON lines file, calling `onTrace(traceId, spans)` per trace. The file sink writes one
 * request per trace, but spans of one trace spread over several lines are merged (and emitted at the end).
 * @param {(traceId: string, spans: object[]) => (void|boolean)} [filter] return false to skip keeping a trace
 * @returns {Promise<Map<string, object[]>>} the kept traces
 */
async function readTraces(path, filter) {
  const traces = new Map()
  const rl = readline.createInterface({ input: fs.createReadStream(path), crlfDelay: Infinity })
  for await (const line of rl) {
    if (!line.trim()) continue
    const spans = spansOfRequest(JSON.parse(line))
    const byTrace = groupTraces(spans)
    for (const [id, ss] of byTrace) {
      const prev = traces.get(id)
      if (prev) prev.push(...ss)
      else if (!filter || filter(id, ss) !== false) traces.set(id, ss)
    }
  }
  return traces
}

function fmtMs(ns) {
  const ms = Number(ns) / 1e6
  return ms >= 100 ? `${ms.toFixed(0)}ms` : `${ms.toFixed(1)}ms`
}

/** One line describing a span: name, duration, tokens, cost, error. */
function spanLabel(s) {
  const a = s.attributes
  const parts = [s.name, fmtMs(s.end > s.start ? s.end - s.start : 0n)]
  const inTok = a['gen_ai.usage.input_tokens'] ?? a['openclaw.usage.input_tokens']
  const outTok = a['gen_ai.usage.output_tokens'] ?? a['openclaw.usage.output_tokens']
  if (inTok !== undefined || outTok !== undefined) parts.push(`tokens ${inTok ?? 0}→${outTok ?? 0}`)
  const cost = Number(a['openclaw.cost_usd'] ?? 0)
  if (cost > 0) parts.push(`$${cost.toFixed(cost < 0.01 ? 6 : 4)}`)
  if (s.status && s.status.code === 2) parts.push(`ERROR(${s.status.message || a['error.type'] || ''})`)
  return parts.join('  ')
}

/** Renders one trace as an indented tree (array of lines, header first). */
function renderTrace(traceId, spans) {
  const byId = new Map(spans.map((s) => [s.spanId, s]))
  const children = new Map()
  const roots = []
  for (const s of spans) {
    if (s.parentSpanId && byId.has(s.parentSpanId)) {
      let c = children.get(s.parentSpanId)
      if (!c) children.set(s.parentSpanId, (c = []))
      c.push(s)
    } else roots.push(s)
  }
  const byStart = (x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : 0)
  roots.sort(byStart)
  const session = spans.map((s) => s.attributes['session.id']).find((v) => v !== undefined)
  const lines = [`trace ${traceId}${session !== undefined ? `  session.id=${session}` : ''}  (${spans.length} spans)`]
  const seen = new Set()
  const walk = (s, prefix, last, depth) => {
    if (seen.has(s.spanId)) return
    seen.add(s.spanId)
    lines.push(`${prefix}${depth === 0 ? '' : last ? '└─ ' : '├─ '}${spanLabel(s)}`)
    const kids = (children.get(s.spanId) || []).slice().sort(byStart)
    const nextPrefix = depth === 0 ? prefix : prefix + (last ? '   ' : '│  ')
    kids.forEach((k, i) => walk(k, nextPrefix, i === kids.length - 1, depth + 1))
  }
  for (const r of roots) walk(r, '  ', true, 0)
  return lines
}

/** Renders every trace of a Map traceId → spans. */
function renderTraces(traces) {
  const out = []
  for (const [id, spans] of traces) out.push(...renderTrace(id, spans), '')
  return out.join('\n')
}

/** An empty running summary; feed it with addToSummary. */
function newSummary() {
  return { traces: 0, spans: 0, errorSpans: 0, errorTraces: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, sessions: new Set(), _seen: new Set(), _err: new Set() }
}

/** Adds spans of one trace (possibly a part of it) to a running summary. Tokens are counted on model-call spans. */
function addToSummary(sum, traceId, spans) {
  if (!sum._seen.has(traceId)) {
    sum._seen.add(traceId)
    sum.traces += 1
  }
  for (const s of spans) {
    sum.spans += 1
    const a = s.attributes
    if (s.status && s.status.code === 2) {
      sum.errorSpans += 1
      if (!sum._err.has(traceId)) {
        sum._err.add(traceId)
        sum.errorTraces += 1
      }
    }
    if (a['gen_ai.operation.name'] === 'chat') {
      sum.inputTokens += Number(a['gen_ai.usage.input_tokens'] || 0)
      sum.outputTokens += Number(a['gen_ai.usage.output_tokens'] || 0)
    }
    if (s.name === 'openclaw.model.usage') sum.costUsd += Math.max(0, Number(a['openclaw.cost_usd'] || 0))
    if (a['session.id'] !== undefined) sum.sessions.add(a['session.id'])
  }
  return sum
}

/** Summary figures over a Map traceId → spans. */
function summarize(traces) {
  const sum = newSummary()
  for (const [id, spans] of traces) addToSummary(sum, id, spans)
  return sum
}

/**
 * Streams an OTLP/JSON lines file into a summary, keeping only the traces `keep(traceId, spans)` accepts
 * (so a large file never sits in memory). Resolves { summary, kept: Map }.
 */
async function summarizeFile(path, keep) {
  const sum = newSummary()
  const kept = new Map()
  const rl = readline.createInterface({ input: fs.createReadStream(path), crlfDelay: Infinity })
  for await (const line of rl) {
    if (!line.trim()) continue
    for (const [id, ss] of groupTraces(spansOfRequest(JSON.parse(line)))) {
      addToSummary(sum, id, ss)
      const prev = kept.get(id)
      if (prev) prev.push(...ss)
      else if (keep && keep(id, ss)) kept.set(id, ss)
    }
  }
  sum._seen = sum._err = undefined
  return { summary: sum, kept }
}

module.exports = { anyValue, attrs, spansOfRequest, groupTraces, parseOtlpJsonLines, readTraces, spanLabel, renderTrace, renderTraces, newSummary, addToSummary, summarize, summarizeFile }
