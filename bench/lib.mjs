// Shared pieces of the benchmark (`npm run bench`, bench/run.mjs): the addon, CPU clocks per thread, the corpus
// mix made unique per copy, the OTLP receiver child process.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diagnosticRecorder } from '../plugin/hotpath.mjs';

const require = createRequire(import.meta.url);

/** `BENCH_ADDON` (a path to a `.node`) if set, else the addon built with the bench feature (bench/.addon/), else the
 * production one. */
export function loadAddon() {
  if (process.env.BENCH_ADDON) return require(process.env.BENCH_ADDON);
  const dir = fileURLToPath(new URL('./.addon/', import.meta.url));
  const file = existsSync(dir) && readdirSync(dir).find((f) => f.endsWith('.node'));
  if (file) return require(join(dir, file));
  return require('../index.js');
}

/**
 * The plugin's hot path over `ct` (batched, projected: plugin/hotpath.mjs). `whole: true` is the path before it
 * (every event whole, as JSON, one call each; infra types as their `seq`), which the plugin still takes when
 * recording (`BENCH_WHOLE=1` makes it the default, e.g. for bench/background.mjs). `BENCH_STRINGIFY_ALL=1` also hides `infraEventTypes`, so every event crosses as JSON (what the plugin
 * did before it dropped infra types): the bench can tell each change from the others.
 */
export function recorder(ct, { whole = process.env.BENCH_WHOLE === '1' } = {}) {
  if (process.env.BENCH_STRINGIFY_ALL === '1') return diagnosticRecorder({ recordDiagnostic: ct.recordDiagnostic });
  return diagnosticRecorder(ct, { full: whole });
}

// ---- clocks -------------------------------------------------------------------------------------------------------

/** CPU time (ns) the calling thread ran: the first field of /proc/thread-self/schedstat. */
export function threadCpuNs() {
  return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]);
}

/** Whole-process CPU (ns), every thread. */
export function processCpuNs() {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/**
 * The addon's own threads (the Tokio runtime is named `clawtrace`, its blocking pool too): CPU ns and context
 * switches (voluntary + involuntary) summed over them. With `since` (an earlier result), what each thread did after
 * it: a thread is compared with itself only, so one that ended in between (an idle blocking-pool thread leaves
 * after 10 s) does not make the difference negative; what it did between `since` and its end is not counted.
 */
export function addonThreads(since) {
  let cpuNs = 0;
  let switches = 0;
  let threads = 0;
  const byTid = new Map();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const comm = readFileSync(`/proc/self/task/${tid}/comm`, 'latin1').trim();
      if (!comm.startsWith('clawtrace')) continue;
      const t = { cpuNs: Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'latin1').split(' ')[0]), switches: 0 };
      const status = readFileSync(`/proc/self/task/${tid}/status`, 'latin1');
      for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)) t.switches += Number(m[1]);
      byTid.set(tid, t);
      const before = since?.byTid.get(tid);
      cpuNs += t.cpuNs - (before?.cpuNs ?? 0);
      switches += t.switches - (before?.switches ?? 0);
      threads += 1;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return { cpuNs, switches, threads, byTid };
}

export const tick = () => new Promise((resolve) => setImmediate(resolve));
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// ---- the corpus mix -----------------------------------------------------------------------------------------------

const ID_KEYS = ['runId', 'sessionKey', 'sessionId', 'messageId', 'callId', 'toolCallId', 'childSessionKey'];

/** The diagnostic records of the corpus, `{evt, meta}` in order. */
export function corpus() {
  const fixture = new URL('../fixtures/openclaw-2026.9.6-gateway.jsonl', import.meta.url);
  return readFileSync(fixture, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l))
    .filter((r) => r.src === 'diagnostic')
    .map((r) => ({ evt: r.evt, meta: r.meta }));
}

/**
 * Copy `k` of the corpus as a new stream: every id (trace ids, run ids, session keys) made unique to the copy, `seq`
 * continuing from `seq0`, times moved to `t0`. So copies never meet as stragglers of each other's traces.
 */
export function corpusCopy(base, k, seq0, t0) {
  const tag = (k >>> 0).toString(16).padStart(8, '0');
  const ts0 = base[0].evt.ts;
  return base.map(({ evt, meta }, i) => {
    const e = structuredClone(evt);
    for (const key of ID_KEYS) if (typeof e[key] === 'string') e[key] = `${e[key]}~${tag}`;
    if (typeof e.lane === 'string' && e.lane.startsWith('session:')) e.lane = `${e.lane}~${tag}`;
    if (e.trace?.traceId) e.trace.traceId = tag + e.trace.traceId.slice(8);
    // A lane error log names its session only in its text (`lane=session:<key>`).
    if (typeof e.message === 'string') e.message = e.message.replace(/lane=session:(\S+)/, `lane=session:$1~${tag}`);
    e.seq = seq0 + i + 1;
    if (typeof e.ts === 'number') e.ts = t0 + (e.ts - ts0) / 1000;
    return { evt: e, meta };
  });
}

// ---- the OTLP receiver ----------------------------------------------------------------------------------------------

/** Starts bench/receiver.mjs in its own process; resolves `{url, stop}` once it listens. */
export function startReceiver() {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./receiver.mjs', import.meta.url))], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening (\d+)/);
      if (m) resolve({ url: `http://127.0.0.1:${m[1]}`, stop: () => child.kill() });
    });
    child.on('exit', (code) => reject(new Error(`receiver exited ${code}`)));
  });
}

/** What diagnostics-otel does per event: one span named by type, the scalar fields as attributes. */
export function otelSpan(tracer, evt) {
  const attributes = {};
  for (const k in evt) {
    const v = evt[k];
    const t = typeof v;
    if (t === 'string' || t === 'number' || t === 'boolean') attributes[`openclaw.${k}`] = v;
  }
  const span = tracer.startSpan(evt.type, { attributes, startTime: evt.ts });
  span.end(evt.ts + (evt.durationMs ?? 0));
}
