// Sampling through the real addon: head sampling by trace id, tail rules that keep failed and slow turns, and
// every trace either exported or counted in tracesSampledOut.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { assertAccounted } from './helpers/accounting.cjs'

const require = createRequire(import.meta.url)
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const CORPUS = path.join(ROOT, 'fixtures', 'openclaw-2026.9.6-gateway.jsonl')
const ct = require(ROOT)
const tree = require(path.join(ROOT, 'bin', 'tree.js'))
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-sampling-'))
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }))

async function run(sampling, name) {
  const file = path.join(tmp, `${name}.jsonl`)
  await ct.configure({ exporters: { file: { path: file } }, sampling })
  const before = ct.stats()
  await ct.replay(CORPUS)
  const after = ct.stats()
  assertAccounted(after, `replay with sampling ${JSON.stringify(sampling)}`)
  // The file sink creates its file with the first trace: none sent, no file.
  const traces = tree.parseOtlpJsonLines(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '')
  const finished = after.tracesCompleted + after.tracesIncomplete - before.tracesCompleted - before.tracesIncomplete
  return { traces, finished, sampledOut: after.tracesSampledOut - before.tracesSampledOut }
}

const hasError = (spans) => spans.some((s) => s.status?.code === 2)

test('ratio 0 keeping errors: exactly the failed turns leave, the rest is counted', async () => {
  const all = await run({}, 'all')
  assert.equal(all.traces.size, 19)
  const failed = [...all.traces].filter(([, ss]) => hasError(ss)).map(([id]) => id).sort()
  assert.equal(failed.length, 8, 'the corpus has 8 failed turns (7 local-500 attempts, the gateway 500)')

  const errorsOnly = await run({ ratio: 0, keepErrors: true }, 'errors-only')
  assert.deepEqual([...errorsOnly.traces.keys()].sort(), failed)
  assert.equal(errorsOnly.sampledOut, errorsOnly.finished - failed.length)

  const none = await run({ ratio: 0, keepErrors: false }, 'none')
  assert.equal(none.traces.size, 0)
  assert.equal(none.sampledOut, none.finished)
})

test('ratio 0 keeping slow traces: only turns at least that long leave', async () => {
  const all = await run({}, 'all-2')
  const slow = [...all.traces].filter(([, ss]) => {
    const start = Math.min(...ss.map((s) => Number(s.start)))
    const end = Math.max(...ss.map((s) => Number(s.end)))
    return (end - start) / 1e6 >= 5000
  })
  assert.ok(slow.length > 0 && slow.length < all.traces.size, 'the corpus has both fast and slow turns')
  const got = await run({ ratio: 0, keepErrors: false, keepSlowerThanMs: 5000 }, 'slow')
  assert.deepEqual([...got.traces.keys()].sort(), slow.map(([id]) => id).sort())
})

test('a ratio keeps the same traces every time (decided by trace id)', async () => {
  const a = await run({ ratio: 0.5, keepErrors: false }, 'half-a')
  const b = await run({ ratio: 0.5, keepErrors: false }, 'half-b')
  assert.deepEqual([...a.traces.keys()].sort(), [...b.traces.keys()].sort())
  assert.equal(a.traces.size + a.sampledOut, a.finished)
  // The ratio set through configure() reached the sampler: some traces kept, some not (19 traces, ratio 0.5).
  assert.ok(a.traces.size > 0 && a.traces.size < a.finished, `kept ${a.traces.size} of ${a.finished}`)
  assert.ok(a.sampledOut > 0)
})
