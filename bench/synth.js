#!/usr/bin/env node
'use strict'
// Synthetic OpenClaw gateway record stream, in the replay record format
// ({"src":"diagnostic","pid","rt","meta","evt"} per line), shaped like the gateway chat.send turns in
// fixtures/openclaw-2026.9.6-gateway.jsonl:
//
//   message.received → message.queued → message.dispatch.started → session.turn.created →
//   harness.run.started → run.started → context.assembled → (model.call.started → model.call.completed
//   [→ tool.execution.started → tool.execution.completed])… → run.completed → harness.run.completed →
//   model.usage → message.dispatch.completed → message.processed
//
// with the real parentage (message span root → harness.run → run → model.call / tool / context;
// model.usage under harness.run), interleaved across many concurrent sessions, plus infra noise
// (gateway.event_loop.sample, diagnostic.gc, security.event with its own trace). Deterministic (seeded PRNG),
// streamed to disk. Returns the counts a correct pipeline must reproduce.
//
// Usage: node bench/synth.js OUT [--events N] [--sessions N] [--seed N] [--strip-trace] [--fail-rate F] [--start-ms MS]

const fs = require('node:fs')

function mulberry32(seed) {
  let a = seed >>> 0
  return function () {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const PROMPT_STATS = {
  inputMessagesCount: 2,
  inputMessagesChars: 477,
  systemPromptChars: 47551,
  toolDefinitionsCount: 11,
  toolDefinitionsChars: 8906,
  totalChars: 56934,
}
const TOOLS = ['read', 'write', 'exec', 'web_search', 'memory_search']
const MODELS = [
  ['openai', 'gpt-4o-mini'],
  ['anthropic', 'claude-sonnet-4-5'],
  ['fake', 'fake-model'],
]

/**
 * Generates a synthetic stream into `out`.
 * @param {object} opts
 * @param {string} [opts.out]          output path
 * @param {(records: {meta: object, evt: object}[]) => (boolean|void|Promise<boolean|void>)} [opts.onRecords]
 *                                      instead of a file: every 4096 records (and at the end) as objects, live;
 *                                      returning false stops the stream there
 * @param {number} [opts.events]       approximate number of events (the stream stops starting turns once reached)
 * @param {number} [opts.sessions]     concurrent sessions interleaved (default 2000)
 * @param {number} [opts.seed]
 * @param {boolean} [opts.stripTrace]  omit every `trace` field
 * @param {number} [opts.failRate]     fraction of turns whose model call fails (default 0.05)
 * @param {number} [opts.infraRate]    infra events per turn event (default 0.05)
 * @param {number} [opts.pid]
 * @param {number} [opts.startMs]    event time of the first record (ms since epoch; default 1795760000000)
 * @param {number} [opts.seqStart]   the `seq` before the first event's (default 0), to continue another stream
 * @param {string} [opts.keyPrefix]  session keys are `agent:main:PREFIX-N` (default `synth`)
 * @returns {Promise<{events:number, lines:number, turns:number, spans:number, modelCalls:number, toolCalls:number,
 *   errors:number, failedTurns:number, infraEvents:number, sessions:number, inputTokens:number, outputTokens:number}>}
 */
async function generate(opts) {
  const out = opts.out
  const target = opts.events ?? 100_000
  const concurrency = Math.max(1, opts.sessions ?? 2000)
  const rnd = mulberry32(opts.seed ?? 42)
  const strip = !!opts.stripTrace
  const failRate = opts.failRate ?? 0.05
  const infraRate = opts.infraRate ?? 0.05
  const pid = opts.pid ?? 4242
  let seq = opts.seqStart ?? 0
  // Event time: the real corpus was recorded from 1795760006224 (ms since epoch); 1 ms per event.
  let now = opts.startMs ?? 1795760000000
  const hex = (n) => {
    let s = ''
    for (let i = 0; i < n; i += 8) s += Math.floor(rnd() * 0x100000000).toString(16).padStart(8, '0')
    return s.slice(0, n)
  }
  const counts = {
    events: 0, lines: 0, turns: 0, spans: 0, modelCalls: 0, toolCalls: 0, errors: 0, failedTurns: 0,
    infraEvents: 0, sessions: 0, inputTokens: 0, outputTokens: 0,
  }
  const sessionKeysUsed = new Set()

  const onRecords = opts.onRecords
  const ws = onRecords ? null : fs.createWriteStream(out, { highWaterMark: 1 << 20 })
  let buf = []
  let bufLen = 0
  let stopped = false
  const flushBuf = async () => {
    if (!buf.length) return
    const chunk = onRecords ? buf : buf.join('')
    buf = []
    bufLen = 0
    if (onRecords) stopped = (await onRecords(chunk)) === false
    else if (!ws.write(chunk)) await new Promise((r) => ws.once('drain', r))
  }
  const emit = (meta, evt) => {
    seq += 1
    now += 1
    evt.seq = seq
    evt.ts = now
    if (strip) delete evt.trace
    buf.push(onRecords ? { meta, evt } : JSON.stringify({ src: 'diagnostic', pid, rt: now + 1, meta, evt }) + '\n')
    counts.events += 1
    counts.lines += 1
    bufLen += 1
  }

  // A turn is a list of thunks producing events lazily (ts is assigned at emission).
  let sessionCounter = 0
  const keyPrefix = opts.keyPrefix ?? 'synth'
  function planTurn(sess) {
    sess.turn += 1
    const runId = `${sess.key.split(':').pop()}-${sess.turn}`
    const traceId = hex(32)
    const root = hex(16)
    const harness = hex(16)
    const run = hex(16)
    const [provider, model] = MODELS[sess.modelIdx]
    const fail = rnd() < failRate
    const nCalls = fail ? 1 + Math.floor(rnd() * 2) : 1 + Math.floor(rnd() * 3)
    const base = { sessionKey: sess.key }
    const ids = { runId, sessionId: sess.id, sessionKey: sess.key }
    const tr = (spanId, parentSpanId) =>
      parentSpanId ? { traceId, spanId, parentSpanId, traceFlags: '01' } : { traceId, spanId, traceFlags: '01' }
    const internal = { internal: true, trusted: false }
    const trusted = { trusted: true }
    const steps = []
    let spans = 4 // root, harness.run, run, context.assembled
    let inTok = 0
    let outTok = 0
    const t0 = () => now
    let started = 0
    steps.push(() => {
      started = t0()
      emit(internal, { type: 'message.received', ...base, channel: 'webchat', messageId: runId, source: 'dispatchInboundMessage', trace: tr(root) })
    })
    steps.push(() => emit(internal, { type: 'message.queued', ...base, channel: 'webchat', source: 'dispatch', queueDepth: 1, trace: tr(root) }))
    steps.push(() => emit(internal, { type: 'message.dispatch.started', ...base, channel: 'webchat', source: 'replyResolver', trace: tr(root) }))
    steps.push(() => emit(internal, { type: 'session.turn.created', ...ids, agentId: 'main', channel: 'webchat', trigger: 'user', trace: tr(root) }))
    let hStart = 0
    steps.push(() => {
      hStart = now
      emit(trusted, { type: 'harness.run.started', ...ids, provider, model, harnessId: 'openclaw', trigger: 'user', channel: 'webchat', trace: tr(harness, root) })
    })
    let rStart = 0
    steps.push(() => {
      rStart = now
      emit(trusted, { type: 'run.started', ...ids, provider, model, trigger: 'user', channel: 'webchat', trace: tr(run, harness) })
    })
    steps.push(() =>
      emit(trusted, {
        type: 'context.assembled', ...ids, provider, model, channel: 'webchat', trigger: 'user', messageCount: sess.turn * 2 - 2,
        historyTextChars: 0, historyImageBlocks: 0, maxMessageTextChars: 0, systemPromptChars: 47551, promptChars: 18,
        promptImages: 0, contextTokenBudget: 128000, reserveTokens: 20000, trace: tr(hex(16), run),
      }),
    )
    for (let c = 1; c <= nCalls; c++) {
      const callId = `${runId}:model:${c}`
      const span = hex(16)
      const callFails = fail && c === nCalls
      const common = {
        ...ids, callId, provider, model, api: 'openai-completions', transport: 'auto', observationUnit: 'request',
        contextTokenBudget: 128000, contextWindowSource: 'modelsConfig', promptStats: PROMPT_STATS, trace: tr(span, run),
      }
      let cStart = 0
      steps.push(() => {
        cStart = now
        emit({ trusted: true, coreModelRequestLifecycle: { generation: {}, phase: 'started', requestTimeoutMs: 1800000 } }, { type: 'model.call.started', ...common })
      })
      spans += 1
      counts.modelCalls += 1
      if (callFails) {
        counts.errors += 1
        steps.push(() =>
          emit({ trusted: true, coreModelRequestLifecycle: { generation: {}, phase: 'ended' } }, {
            type: 'model.call.error', errorCategory: 'Error', ...common, durationMs: Math.max(1, now + 1 - cStart),
            requestPayloadBytes: 57878, responseStreamBytes: 0, usage: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cost: { total: 0 }, total: 0 },
          }),
        )
        break
      }
      const input = 100 + Math.floor(rnd() * 4000)
      const output = 5 + Math.floor(rnd() * 800)
      inTok += input
      outTok += output
      steps.push(() =>
        emit({ trusted: true, coreModelRequestLifecycle: { generation: {}, phase: 'ended' } }, {
          type: 'model.call.completed', ...common, durationMs: Math.max(1, now + 1 - cStart), requestPayloadBytes: 57878,
          responseStreamBytes: 685, timeToFirstByteMs: 1,
          usage: { input, output, cacheRead: 0, cacheWrite: 0, cost: { total: 0 }, total: input + output, promptTokens: input },
        }),
      )
      // The model asked for a tool: every call but the last is followed by one (the last call answers).
      if (c < nCalls) {
        const tspan = hex(16)
        const toolName = TOOLS[Math.floor(rnd() * TOOLS.length)]
        const toolCallId = `call_${runId}_${c}`
        const tcommon = { ...ids, agentId: 'main', trace: tr(tspan, run), toolName, toolSource: 'core', toolCallId, paramsSummary: { kind: 'object' }, mutatingAction: false }
        let tStart = 0
        steps.push(() => {
          tStart = now
          emit({ trusted: true, toolExecutionLiveness: {} }, { type: 'tool.execution.started', ...tcommon })
        })
        steps.push(() => emit(trusted, { ...tcommon, type: 'tool.execution.completed', durationMs: Math.max(1, now + 1 - tStart) }))
        spans += 1
        counts.toolCalls += 1
      }
    }
    const outcome = fail ? 'error' : 'completed'
    steps.push(() =>
      emit(trusted, { type: 'run.completed', ...ids, provider, model, trigger: 'user', channel: 'webchat', trace: tr(run, harness), durationMs: now + 1 - rStart, outcome, ...(fail ? { error: 'model call failed' } : {}) }),
    )
    steps.push(() =>
      emit(trusted, {
        type: 'harness.run.completed', ...ids, provider, model, harnessId: 'openclaw', trigger: 'user', channel: 'webchat',
        trace: tr(harness, root), durationMs: now + 1 - hStart, outcome, itemLifecycle: { startedCount: 1, completedCount: 1, activeCount: 0 },
      }),
    )
    if (!fail) {
      spans += 1
      steps.push(() =>
        emit(trusted, {
          type: 'model.usage', trace: tr(hex(16), harness), sessionKey: sess.key, sessionId: sess.id, channel: 'webchat', agentId: 'main',
          provider, model, usage: { input: inTok, output: outTok, cacheRead: 0, cacheWrite: 0, promptTokens: inTok, total: inTok + outTok },
          context: { limit: 128000, used: inTok }, costUsd: 0, durationMs: now + 1 - hStart,
        }),
      )
    }
    steps.push(() =>
      emit(internal, { type: 'message.dispatch.completed', ...base, channel: 'webchat', source: 'replyResolver', durationMs: now + 1 - started, outcome, trace: tr(root) }),
    )
    steps.push(() =>
      emit(internal, { type: 'message.processed', channel: 'webchat', messageId: runId, sessionKey: sess.key, durationMs: now + 1 - started, outcome, ...(fail ? { error: 'model call failed' } : {}), trace: tr(root) }),
    )
    counts.turns += 1
    counts.spans += spans
    if (fail) counts.failedTurns += 1
    counts.inputTokens += inTok
    counts.outputTokens += outTok
    sess.steps = steps
    sess.next = 0
    return steps.length
  }

  function newSession() {
    sessionCounter += 1
    const key = `agent:main:${keyPrefix}-${sessionCounter}`
    sessionKeysUsed.add(key)
    return { key, id: `sess-${sessionCounter}-${hex(8)}`, turn: 0, modelIdx: Math.floor(rnd() * MODELS.length), steps: null, next: 0 }
  }

  function infra() {
    counts.infraEvents += 1
    const r = rnd()
    if (r < 0.5) emit({ internal: true, trusted: false }, { type: 'gateway.event_loop.sample', intervalMs: 1000 + rnd() * 200, delayMaxMs: rnd() * 50 })
    else if (r < 0.85) emit({ internal: true, trusted: false }, { type: 'diagnostic.gc', durationMs: rnd() * 5 })
    else
      emit(trusted0, {
        type: 'security.event', category: 'auth', action: 'gateway.auth.succeeded', outcome: 'success', severity: 'low',
        actor: { kind: 'operator', role: 'operator' }, target: { kind: 'gateway', name: 'websocket' },
        eventId: `sec-${seq + 1}`, trace: { traceId: hex(32), spanId: hex(16), traceFlags: '01' },
      })
  }
  const trusted0 = { trusted: true }

  // Active sessions, each with a planned turn. Committed = events emitted + events still planned.
  const active = []
  let planned = 0
  for (let i = 0; i < concurrency && planned < target; i++) {
    const s = newSession()
    planned += planTurn(s)
    active.push(s)
  }
  while (active.length && !stopped) {
    const i = Math.floor(rnd() * active.length)
    const s = active[i]
    s.steps[s.next++]()
    if (rnd() < infraRate) infra()
    if (s.next === s.steps.length) {
      // Turn done: the session continues with another turn, or a new session takes its place, or (once the
      // target is reached) the slot closes.
      if (planned + counts.infraEvents < target) {
        const next = rnd() < 0.7 ? s : newSession()
        planned += planTurn(next)
        active[i] = next
      } else {
        active[i] = active[active.length - 1]
        active.pop()
      }
    }
    if (bufLen >= 4096) await flushBuf()
  }
  await flushBuf()
  if (ws) {
    await new Promise((resolve, reject) => {
      ws.on('error', reject)
      ws.end(resolve)
    })
  }
  counts.sessions = sessionKeysUsed.size
  return counts
}

module.exports = { generate }

if (require.main === module) {
  const args = process.argv.slice(2)
  const opts = { out: null }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a === '--events') opts.events = Number(args[++i])
    else if (a === '--sessions') opts.sessions = Number(args[++i])
    else if (a === '--seed') opts.seed = Number(args[++i])
    else if (a === '--start-ms') opts.startMs = Number(args[++i])
    else if (a === '--fail-rate') opts.failRate = Number(args[++i])
    else if (a === '--strip-trace') opts.stripTrace = true
    else if (a === '-h' || a === '--help') {
      console.log('usage: node bench/synth.js OUT [--events N] [--sessions N] [--seed N] [--fail-rate F] [--strip-trace] [--start-ms MS]')
      process.exit(0)
    } else opts.out = a
  }
  if (!opts.out) {
    console.error('synth: missing output path')
    process.exit(2)
  }
  const t = Date.now()
  generate(opts).then(
    (c) => console.log(JSON.stringify({ ...c, ms: Date.now() - t })),
    (e) => {
      console.error(`synth: ${e.message}`)
      process.exit(1)
    },
  )
}
