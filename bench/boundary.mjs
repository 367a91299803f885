// Boundary benchmark (`npm run bench`): the cost, on the gateway's thread, of handing one OpenClaw diagnostic event
// to clawtrace, by way of crossing the JS → Rust boundary.
//
//   noop        benchNoop(evt)                 an empty N-API call: the floor (bench addon only, as typed/positional)
//   public      recordDiagnostic(JSON.stringify(evt), meta.trusted)   stringified in JS, the JSON text crosses
//               → Body::Json                   (what the OpenClaw plugin does: the shipping hot path)
//   object      recordDiagnostic(evt, meta)    the object crosses; V8's JSON.stringify is called from Rust
//   typed       benchRecordTyped(evt)          napi-rs #[napi(object)] field-by-field conversion → Body::Value
//   positional  benchRecordPositional(12 args) main fields as separate arguments → Body::Value
//   otel-js     @opentelemetry/sdk-trace-base: one span per event, BatchSpanProcessor, no-op exporter
//
// Every record variant enqueues exactly like recordDiagnostic (Inbound → REGISTRY.record). The events are the
// diagnostic records of fixtures/openclaw-2026.9.6-gateway.jsonl, replayed in a loop. Rounds are
// interleaved (rotating order) so machine noise hits every variant; queues are flushed between rounds, untimed.
// Note: `typed` and `positional` carry only the envelope fields (typed: ~23, positional: 12); `public` and
// `object` carry the whole event.
//
// The bench* entry points exist only in an addon built with `--features bench`: `npm run bench` builds one into
// bench/.addon/ and runs this file. Run alone against the production addon, only public, object and otel-js run.
//
// Env: BENCH_CALLS (calls per variant, default 400000), BENCH_ROUNDS (default 8), BENCH_OTEL=0 to skip OTel-JS.

import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { otelSpan } from './lib.mjs';

const require = createRequire(import.meta.url);

/** The addon built with the bench feature (bench/.addon/), else the production one (bench variants skipped). */
function loadAddon() {
  const dir = fileURLToPath(new URL('./.addon/', import.meta.url));
  const file = existsSync(dir) && readdirSync(dir).find((f) => f.endsWith('.node'));
  if (file) return require(join(dir, file));
  console.warn('no bench addon in bench/.addon (npm run bench builds it): noop, typed and positional are skipped');
  return require('../index.js');
}
const ct = loadAddon();

const CALLS = Number(process.env.BENCH_CALLS ?? 400_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const PER_ROUND = Math.ceil(CALLS / ROUNDS);
if (CALLS < 200_000) console.warn(`note: BENCH_CALLS=${CALLS} is below the 200k calls per variant this bench is meant to run`);

const fixture = new URL('../fixtures/openclaw-2026.9.6-gateway.jsonl', import.meta.url);
const records = readFileSync(fixture, 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l))
  .filter((r) => r.src === 'diagnostic');
const evts = records.map((r) => r.evt);
const metas = records.map((r) => r.meta);
const N = evts.length;

const dir = mkdtempSync(join(tmpdir(), 'clawtrace-bench-'));
const outFile = join(dir, 'traces.jsonl');
await ct.configure({ queueCapacity: 2_000_000, exporters: { file: { path: outFile } } });

// --- OpenTelemetry-JS baseline -------------------------------------------------------------------------------------
let otel = null;
if (process.env.BENCH_OTEL !== '0') {
  try {
    const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
    const noopExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {}, forceFlush: async () => {} };
    // The queue holds a whole round, so OTel does not get to drop spans that clawtrace has to queue.
    const bsp = new BatchSpanProcessor(noopExporter, { maxQueueSize: PER_ROUND + 1024, maxExportBatchSize: 512, scheduledDelayMillis: 1000 });
    const provider = new BasicTracerProvider({ spanProcessors: [bsp] });
    const tracer = provider.getTracer('clawtrace-bench');
    otel = { tracer, flush: () => bsp.forceFlush(), shutdown: () => provider.shutdown() };
  } catch (e) {
    console.warn(`OpenTelemetry-JS baseline skipped (${e.code ?? e.message}); npm install to get the devDependencies`);
  }
}

// --- variants ------------------------------------------------------------------------------------------------------
// Each runs `n` calls starting at fixture index `i0` and returns how many calls reported "queued".
const variants = {
  noop(n, i0) {
    let ok = 0;
    for (let c = 0, i = i0; c < n; c++, i = i + 1 === N ? 0 : i + 1) ok += ct.benchNoop(evts[i]) ? 1 : 0;
    return ok;
  },
  public(n, i0) {
    let ok = 0;
    for (let c = 0, i = i0; c < n; c++, i = i + 1 === N ? 0 : i + 1) ok += ct.recordDiagnostic(JSON.stringify(evts[i]), metas[i]?.trusted === true) ? 1 : 0;
    return ok;
  },
  object(n, i0) {
    let ok = 0;
    for (let c = 0, i = i0; c < n; c++, i = i + 1 === N ? 0 : i + 1) ok += ct.recordDiagnostic(evts[i], metas[i]) ? 1 : 0;
    return ok;
  },
  typed(n, i0) {
    let ok = 0;
    for (let c = 0, i = i0; c < n; c++, i = i + 1 === N ? 0 : i + 1) ok += ct.benchRecordTyped(evts[i]) ? 1 : 0;
    return ok;
  },
  positional(n, i0) {
    let ok = 0;
    for (let c = 0, i = i0; c < n; c++, i = i + 1 === N ? 0 : i + 1) {
      const e = evts[i];
      const t = e.trace;
      ok += ct.benchRecordPositional(e.type, e.seq, e.ts, t?.traceId, t?.spanId, t?.parentSpanId, e.runId, e.sessionKey, e.sessionId, e.provider, e.model, e.durationMs) ? 1 : 0;
    }
    return ok;
  },
};
if (typeof ct.benchNoop !== 'function') {
  for (const name of ['noop', 'typed', 'positional']) delete variants[name];
}
if (otel) {
  variants['otel-js'] = (n, i0) => {
    for (let c = 0, i = i0; c < n; c++, i = i + 1 === N ? 0 : i + 1) otelSpan(otel.tracer, evts[i]);
    return n;
  };
}
const names = Object.keys(variants);
const recording = new Set(['public', 'object', 'typed', 'positional']);

async function settle(name) {
  if (name === 'otel-js') await otel.flush();
  else if (!(await ct.flush(120_000))) throw new Error('clawtrace flush timed out');
}

// --- run -----------------------------------------------------------------------------------------------------------
console.log(`node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})`);
console.log(`${N} diagnostic events from ${fixture.pathname.split('/').slice(-1)[0]}; ${ROUNDS} rounds x ${PER_ROUND} calls per variant\n`);

// Warm-up: JIT, inline caches, the pipeline's first traces. Untimed.
for (const name of names) {
  variants[name](Math.min(20_000, PER_ROUND), 0);
  await settle(name);
}

const s0 = ct.stats();
const totals = Object.fromEntries(names.map((n) => [n, { ns: 0, calls: 0, ok: 0, rounds: [] }]));
for (let round = 0; round < ROUNDS; round++) {
  const order = names.map((_, k) => names[(k + round) % names.length]);
  if (round % 2) order.reverse();
  for (const name of order) {
    const i0 = (round * 7919) % N;
    const t0 = process.hrtime.bigint();
    const ok = variants[name](PER_ROUND, i0);
    const ns = Number(process.hrtime.bigint() - t0);
    const tot = totals[name];
    tot.ns += ns;
    tot.calls += PER_ROUND;
    tot.ok += ok;
    tot.rounds.push(ns / PER_ROUND);
    await settle(name);
  }
}
const s1 = ct.stats();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const base = totals.public.ns / totals.public.calls;
const pad = (s, n) => String(s).padStart(n);
console.log(`${'variant'.padEnd(12)}${pad('ns/call', 10)}${pad('median', 10)}${pad('min', 9)}${pad('max', 9)}${pad('vs public', 11)}${pad('queued', 10)}`);
for (const name of names) {
  const t = totals[name];
  const mean = t.ns / t.calls;
  console.log(
    `${name.padEnd(12)}${pad(mean.toFixed(0), 10)}${pad(median(t.rounds).toFixed(0), 10)}${pad(Math.min(...t.rounds).toFixed(0), 9)}${pad(Math.max(...t.rounds).toFixed(0), 9)}` +
      `${pad((mean / base).toFixed(2) + 'x', 11)}${pad(recording.has(name) ? `${((100 * t.ok) / t.calls).toFixed(0)}%` : '-', 10)}`,
  );
}

const recorded = [...recording].filter((n) => names.includes(n)).reduce((s, n) => s + totals[n].calls, 0);
const d = (k) => s1[k] - s0[k];
console.log(
  `\nclawtrace over the timed rounds: eventsReceived +${d('eventsReceived')} (expected +${recorded}), eventsQueued +${d('eventsQueued')}, ` +
    `droppedQueueFull +${d('droppedQueueFull')}, invalid* +${Object.keys(s1).filter((k) => k.startsWith('invalid') && k !== 'invalidTraceContext').reduce((s, k) => s + d(k), 0)}` +
    `; trace file ${(statSync(outFile, { throwIfNoEntry: false })?.size / 1e6 || 0).toFixed(1)} MB`,
);
if (d('eventsReceived') !== recorded || d('droppedQueueFull') !== 0) {
  console.error('bench invariant broken: not every recorded event was received and queued');
  process.exitCode = 1;
}

if (otel) await otel.shutdown();
await ct.shutdown(120_000);
rmSync(dir, { recursive: true, force: true });
