// Arize Phoenix as "any OTLP backend": the corpus replayed through the generic OTLP sink (OTLP/HTTP protobuf; Phoenix
// answers 415 to OTLP/JSON) into a real Phoenix, then read back through Phoenix's own REST and GraphQL APIs: span
// kinds (exactly one LLM span per model call), tokens, sessions, users, errors and costs as Phoenix shows them.
//
// Needs a running Phoenix: `eval "$(scripts/phoenix-server.sh start)"` sets CLAWTRACE_TEST_PHOENIX_URL (.ci/run does
// it). Without it the test is skipped, saying so.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { replayInChild, CORPUS } from './helpers/replay.mjs'

const tree = createRequire(import.meta.url)('../bin/tree.js')
const URL_ = (process.env.CLAWTRACE_TEST_PHOENIX_URL || '').replace(/\/+$/, '')
const SKIP = URL_ ? false : 'CLAWTRACE_TEST_PHOENIX_URL is not set: start Phoenix with `eval "$(scripts/phoenix-server.sh start)"`'
const TURNS = 19
// USD per million tokens for the recorded fake model, in clawtrace's `pricing` and as a Phoenix custom model.
const PRICE = { input: 2, output: 8 }

async function call(method, p, body) {
  const r = await fetch(URL_ + p, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  })
  const text = await r.text()
  if (!r.ok) throw new Error(`${method} ${p} → ${r.status}: ${text.slice(0, 300)}`)
  return text ? JSON.parse(text) : {}
}

async function graphql(query, variables = {}) {
  const json = await call('POST', '/graphql', { query, variables })
  if (json.errors) throw new Error(`graphql: ${JSON.stringify(json.errors).slice(0, 500)}`)
  return json.data
}

/** Every span of these traces in the default project (Phoenix ingests asynchronously: polls until `want` arrive). */
async function spansOf(traceIds, want) {
  const deadline = Date.now() + 60_000
  for (;;) {
    const out = []
    for (let i = 0; i < traceIds.length; i += 20) {
      const q = traceIds.slice(i, i + 20).map((t) => `trace_id=${t}`).join('&')
      let cursor
      do {
        const json = await call('GET', `/v1/projects/default/spans?limit=1000&${q}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
        out.push(...json.data)
        cursor = json.next_cursor
      } while (cursor)
    }
    if (out.length >= want || Date.now() > deadline) return out
    await new Promise((r) => setTimeout(r, 500))
  }
}

/** Phoenix prices spans from its own model table: the same prices as clawtrace's `pricing`, once per server. */
async function registerModelPrice() {
  const { generativeModels } = await graphql('{ generativeModels(first: 1000) { edges { node { name } } } }')
  if (generativeModels.edges.some((e) => e.node.name === 'clawtrace-test-fake-model')) return
  await graphql(
    `mutation($input: CreateModelMutationInput!) { createModel(input: $input) { model { id } } }`,
    {
      input: {
        name: 'clawtrace-test-fake-model',
        namePattern: '^fake-model$',
        costs: [
          { tokenType: 'input', kind: 'PROMPT', costPerMillionTokens: PRICE.input },
          { tokenType: 'output', kind: 'COMPLETION', costPerMillionTokens: PRICE.output },
        ],
      },
    },
  )
  // Phoenix's model store (GenerativeModelStore) reloads custom models every 5 s; spans priced before then get none.
  await new Promise((r) => setTimeout(r, 6000))
}

const attr = (s, k) => s.attributes[k]

test('Phoenix through the OTLP sink: one LLM span per model call, agents, tools, tokens, sessions, users, errors and costs', { skip: SKIP }, async () => {
  await registerModelPrice()
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-phoenix-'))
  try {
    const file = path.join(tmp, 'ref.jsonl')
    // Fresh ids per run: a long-lived Phoenix keeps earlier runs' traces.
    const r = await replayInChild(
      {
        captureContent: true,
        pricing: { 'fake-model': PRICE },
        idNamespace: `phoenix-test-${crypto.randomBytes(6).toString('hex')}`,
        exporters: { file: { path: file }, otlp: { endpoint: URL_, protocol: 'http/protobuf' } },
      },
      { file: CORPUS, salt: false },
    )
    const s = r.stats.sinks.otlp
    assert.equal(s.spansRejected + s.spansFailed + s.spansDroppedQueueFull, 0, 'Phoenix took every span')
    assert.deepEqual(r.errors, [])

    const ref = tree.parseOtlpJsonLines(fs.readFileSync(file, 'utf8'))
    assert.equal(ref.size, TURNS)
    const want = [...ref.values()].flat()
    const got = await spansOf([...ref.keys()], want.length)
    assert.equal(got.length, want.length, 'every span stored')
    const byId = new Map(got.map((x) => [x.context.span_id, x]))

    // Kinds: Phoenix's LLM count is the model-call count (not the runs and attempts around them).
    const op = (x) => x.attributes['gen_ai.operation.name']
    const ids = (spans) => spans.map((x) => x.spanId).sort()
    const kindIds = (kind) => got.filter((x) => x.span_kind === kind).map((x) => x.context.span_id).sort()
    const calls = want.filter((x) => op(x) === 'chat')
    assert.ok(calls.length >= 20)
    assert.deepEqual(kindIds('LLM'), ids(calls), 'one LLM span per model call')
    assert.deepEqual(kindIds('TOOL'), ids(want.filter((x) => op(x) === 'execute_tool')), 'tools')
    const agents = want.filter((x) => !x.parentSpanId || x.name === 'openclaw.harness.run' || x.name === 'openclaw.run')
    assert.deepEqual(kindIds('AGENT'), ids(agents), 'the turn and its runs are the agent')

    // Tokens, cost and errors per model call, as Phoenix stores them.
    for (const c of calls) {
      const p = byId.get(c.spanId)
      assert.equal(attr(p, 'llm.model_name'), 'fake-model')
      if (c.status.code === 2) {
        assert.equal(p.status_code, 'ERROR')
        assert.match(p.status_message, /\b500\b/, `the cause: ${p.status_message}`)
        const ex = p.events.find((e) => e.name === 'exception')
        assert.ok(ex && ex.attributes['exception.type'] && ex.attributes['exception.message'], 'an exception event')
        continue
      }
      assert.equal(attr(p, 'llm.token_count.prompt'), c.attributes['gen_ai.usage.input_tokens'])
      assert.equal(attr(p, 'llm.token_count.completion'), c.attributes['gen_ai.usage.output_tokens'])
      assert.ok(Math.abs(attr(p, 'llm.cost.total') - c.attributes['openclaw.cost_usd']) < 1e-12, 'llm.cost.total from the configured pricing')
    }
    assert.ok(calls.some((c) => c.status.code === 2), 'the corpus has failed calls')

    // Per trace, through GraphQL: Phoenix's own cost (from the same prices) is clawtrace's.
    const { projects } = await graphql('{ projects { edges { node { id name } } } }')
    const project = projects.edges.find((e) => e.node.name === 'default').node.id
    let priced = 0
    for (const [traceId, spans] of ref) {
      const root = spans.find((x) => !x.parentSpanId)
      const p = byId.get(root.spanId)
      assert.equal(p.span_kind, 'AGENT')
      assert.equal(p.status_code === 'ERROR', root.status.code === 2, `status of ${traceId}`)
      assert.equal(attr(p, 'session.id'), root.attributes['session.id'])
      assert.equal(attr(p, 'user.id'), root.attributes['user.id'])
      assert.equal(attr(p, 'input.value'), root.attributes['openclaw.content.input'])
      assert.equal(attr(p, 'output.value'), root.attributes['openclaw.content.output'])
      const data = await graphql(
        `query($p: ID!, $t: ID!) { node(id: $p) { ... on Project { trace(traceId: $t) { costSummary { total { cost } } } } } }`,
        { p: project, t: traceId },
      )
      const cost = data.node.trace.costSummary.total.cost ?? 0
      if (cost > 0) priced++
      assert.ok(Math.abs(cost - root.attributes['openclaw.cost.total_usd']) < 1e-9, `cost of ${traceId}: Phoenix ${cost}, clawtrace ${root.attributes['openclaw.cost.total_usd']}`)
    }

    assert.ok(priced >= 5, `turns with a cost: ${priced}`)

    // Sessions and users as Phoenix groups them.
    const sessions = new Map()
    for (const spans of ref.values()) {
      const root = spans.find((x) => !x.parentSpanId)
      const k = root.attributes['session.id']
      const e = sessions.get(k) ?? { traces: 0, errors: 0, user: root.attributes['user.id'] ?? null }
      e.traces++
      if (root.status.code === 2) e.errors++
      sessions.set(k, e)
    }
    const data = await graphql(
      `query($p: ID!) { node(id: $p) { ... on Project { sessions(first: 1000) { edges { node { sessionId userId numTraces numTracesWithError } } } } } }`,
      { p: project },
    )
    const have = new Map(data.node.sessions.edges.map((e) => [e.node.sessionId, e.node]))
    for (const [k, e] of sessions) {
      const h = have.get(k)
      assert.ok(h, `session ${k} in Phoenix`)
      // A long-lived Phoenix holds earlier runs of the same sessions too: at least this run's traces.
      assert.ok(h.numTraces >= e.traces && h.numTracesWithError >= e.errors, `session ${k}: ${JSON.stringify(h)} vs ${JSON.stringify(e)}`)
      assert.equal(h.userId ?? null, e.user, `user of session ${k}`)
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
})

test('Phoenix refuses OTLP/JSON (415): the sink says so and counts the spans', { skip: SKIP }, async () => {
  const r = await replayInChild({ idNamespace: `phoenix-json-${crypto.randomBytes(6).toString('hex')}`, exporters: { otlp: { endpoint: URL_, protocol: 'http/json' } } }, { file: CORPUS, salt: false })
  const s = r.stats.sinks.otlp
  assert.equal(s.spansExported, 0)
  assert.ok(s.spansFailed + s.spansRejected > 0, 'counted, not lost silently')
  assert.ok(r.errors.some((e) => /415/.test(e.message)), `the error names the status: ${JSON.stringify(r.errors)}`)
})
