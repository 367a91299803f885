// The one way the tests replay a record file in a process of its own (replay-child.cjs): a fresh registry per
// replay, so counters start at zero and nothing remembered (exported trace ids, reported errors) carries over.
// Every replay that ran is checked against the accounting identity (accounting.cjs).
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { assertAccounted } from './accounting.cjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const CORPUS = path.join(ROOT, 'fixtures', 'openclaw-2026.9.6-gateway.jsonl')
const CHILD = path.join(ROOT, '__test__', 'helpers', 'replay-child.cjs')

/**
 * A copy of a record file whose trace ids start with a fresh random prefix. MLflow keys a trace by its id alone
 * (`tr-<hex>`): the same recorded turn sent again, whatever the experiment, lands on the trace stored first. A
 * copy per test keeps every test's traces its own, also across runs against a long-lived server.
 */
export function saltTraceIds(file) {
  const salt = crypto.randomBytes(4).toString('hex')
  const text = fs.readFileSync(file, 'utf8').replace(/"traceId":"[0-9a-f]{8}([0-9a-f]{24})"/g, (_, rest) => `"traceId":"${salt}${rest}"`)
  const out = path.join(tmpDir(), `${path.basename(file, '.jsonl')}-${salt}.jsonl`)
  fs.writeFileSync(out, text)
  return out
}

let tmp
function tmpDir() {
  if (!tmp) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-replay-'))
    process.once('exit', () => fs.rmSync(tmp, { recursive: true, force: true }))
  }
  return tmp
}

/**
 * Replays `file` (a salted copy, see saltTraceIds, unless `salt: false`) through the addon configured with
 * `config`, in a child process started in an empty directory, with `env` added to an environment cleared of
 * MLFLOW_* / OTEL_* / LANGFUSE_* / CLAWTRACE_* (only what a test sets counts). Resolves
 * `{replay, flushed, ms, stats, errors, stdout, stderr}`; a configure() error rejects, or with
 * `configureError: true` resolves `{configureError, errors}`.
 */
export async function replayInChild(config, { file = CORPUS, env = {}, salt = true, configureError = false } = {}) {
  if (salt) file = saltTraceIds(file)
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(MLFLOW_|OTEL_|LANGFUSE_|CLAWTRACE_)/.test(k)))
  const cwd = fs.mkdtempSync(path.join(tmpDir(), 'cwd-'))
  const child = spawn(process.execPath, [CHILD, JSON.stringify(config), file], { cwd, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  // Asynchronous on purpose: a receiver in this process answers from its event loop meanwhile.
  const code = await new Promise((resolve) => child.on('close', resolve))
  fs.rmSync(cwd, { recursive: true, force: true })
  if (code !== 0) throw new Error(`replay child exited ${code}:\n${stderr}${stdout}`)
  const out = { ...JSON.parse(stdout.trim().split('\n').pop()), stdout, stderr }
  if (out.configureError !== undefined) {
    if (configureError) return out
    throw new Error(out.configureError)
  }
  assertAccounted(out.stats, `replay of ${path.basename(file)}`)
  return out
}
