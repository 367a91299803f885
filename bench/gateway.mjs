// The gateway comparison (one process, every variant interleaved round by round): what handing the corpus mix's
// diagnostic events to each tracer costs the gateway's thread, the whole process, and the event loop, fed 1,000
// events per tick. Then the addon's idle cost. Prints one JSON object as its last line (bench/run.mjs reads it).
//
//   clawtrace_file   the plugin's hot path (plugin/hotpath.mjs: projected, batched) into the addon, file sink
//   clawtrace_whole  the same, every event whole as JSON, one call each (the hot path before batching; what the
//                    plugin still does while recording)
//   clawtrace_otlp   the same, OTLP/protobuf sink to the loopback receiver (bench/receiver.mjs, its own process)
//   otel_default     @opentelemetry/sdk-trace-base, one span per event, BatchSpanProcessor with its defaults,
//                    OTLP/protobuf exporter to the same receiver (as OpenClaw's diagnostics-otel uses it)
//   otel_nodrop      the same with a queue that holds a whole round, so it exports every span
//   stringify        `JSON.stringify(evt)` alone
//   floor            plain JS: copy the fields a tracer needs into a preallocated ring
//
// Each clawtrace round is configured before and shut down after (untimed configure; the shutdown is timed): its
// background work stays inside its own window. Args: --rounds N --events N --idle-seconds N [--only VARIANT,…].

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { addonThreads, corpus, corpusCopy, loadAddon, otelSpan, recorder, processCpuNs, sleep, startReceiver, threadCpuNs, tick } from './lib.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const ROUNDS = arg('rounds', 3);
const EVENTS = arg('events', 20_000);
const IDLE_S = arg('idle-seconds', 3);
const PER_TICK = 1000;
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 200);

const ct = loadAddon();
const receiver = await startReceiver();
const dir = mkdtempSync(join(tmpdir(), 'clawtrace-bench-'));
const base = corpus();

const sinks = {
  clawtrace_file: { file: { path: join(dir, 'traces.jsonl') } },
  clawtrace_whole: { file: { path: join(dir, 'traces.jsonl') } },
  clawtrace_otlp: { otlp: { endpoint: receiver.url, protocol: 'http/protobuf', compression: 'none' } },
};
const ctConfig = (exporters) => ({ exporters, queueCapacity: 1 << 20, queueMaxBytes: 1 << 30 });

// ---- OpenTelemetry-JS ----------------------------------------------------------------------------------------------
const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');

function otelPipeline(bspConfig, exporterConfig = {}) {
  const exporter = new OTLPTraceExporter({ url: `${receiver.url}/v1/traces`, ...exporterConfig });
  const counted = { exported: 0 };
  const inner = exporter.export.bind(exporter);
  exporter.export = (spans, done) =>
    inner(spans, (r) => {
      if (r.code === 0) counted.exported += spans.length;
      done(r);
    });
  const bsp = new BatchSpanProcessor(exporter, bspConfig);
  const provider = new BasicTracerProvider({ spanProcessors: [bsp] });
  // A batch the exporter refused (its concurrent-export limit) fails the flush: those spans count as dropped (never
  // exported), the round goes on.
  const flush = () => bsp.forceFlush().catch(() => {});
  return { tracer: provider.getTracer('openclaw'), counted, flush, shutdown: () => provider.shutdown() };
}
const otel = {
  otel_default: otelPipeline({}),
  // Sized to export every span: a queue for the whole round, and no cap on requests in flight (the exporter's
  // default, 30, refuses batches once the receiver falls behind a full-size round).
  otel_nodrop: otelPipeline({ maxQueueSize: EVENTS + 4096, maxExportBatchSize: 512 }, { concurrencyLimit: Number.MAX_SAFE_INTEGER }),
};

// ---- the floor ---------------------------------------------------------------------------------------------------
const RING = new Array(4096);
let ringAt = 0;
function floor(evt, meta) {
  const t = evt.trace;
  RING[ringAt] = {
    type: evt.type, seq: evt.seq, ts: evt.ts, traceId: t?.traceId, spanId: t?.spanId, parentSpanId: t?.parentSpanId,
    runId: evt.runId, sessionKey: evt.sessionKey, callId: evt.callId, toolCallId: evt.toolCallId,
    durationMs: evt.durationMs, outcome: evt.outcome, trusted: meta?.trusted === true,
  };
  ringAt = (ringAt + 1) & 4095;
}
let stringified = 0;

const record = recorder(ct);
const recordWhole = recorder(ct, { whole: true });
const feeders = {
  clawtrace_file: (evt, meta) => record(evt, meta),
  clawtrace_whole: (evt, meta) => recordWhole(evt, meta),
  clawtrace_otlp: (evt, meta) => record(evt, meta),
  otel_default: (evt) => otelSpan(otel.otel_default.tracer, evt),
  otel_nodrop: (evt) => otelSpan(otel.otel_nodrop.tracer, evt),
  stringify: (evt) => {
    stringified += JSON.stringify(evt).length;
  },
  floor,
};
// `--only a,b` measures only those variants (diagnosis; `npm run bench` runs them all).
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1].split(',') : null;
const names = Object.keys(feeders).filter((n) => !only || only.includes(n));

// ---- rounds ------------------------------------------------------------------------------------------------------
let seq = 0;
let copyNo = 0;
function events(n) {
  const out = [];
  while (out.length < n) {
    const c = corpusCopy(base, ++copyNo, seq, Date.now());
    seq += c.length;
    out.push(...c);
  }
  out.length = n;
  return out;
}

const sum = (s, k) => Object.values(s.sinks ?? {}).reduce((a, x) => a + (x[k] ?? 0), 0);
const totals = Object.fromEntries(names.map((n) => [n, { events: 0, threadNs: 0, processNs: 0, addonNs: 0, exported: 0, dropped: 0, eld: [] }]));

async function runRound(name, evs) {
  const t = totals[name];
  const isCt = name.startsWith('clawtrace');
  if (isCt) await ct.configure(ctConfig(sinks[name]));
  const s0 = isCt ? ct.stats() : null;
  const o = otel[name];
  const e0 = o ? o.counted.exported : 0;
  // A forced collection sweeps its pages on helper threads after it returns: that (the harness's own garbage) is
  // let finish before the window opens, or it would be charged to whichever variant runs next.
  global.gc?.();
  await sleep(SETTLE_MS);
  const h = monitorEventLoopDelay({ resolution: 1 });
  const a0 = addonThreads();
  const th0 = threadCpuNs();
  const p0 = processCpuNs();
  h.enable();
  const feed = feeders[name];
  for (let i = 0; i < evs.length; i += PER_TICK) {
    const end = Math.min(evs.length, i + PER_TICK);
    for (let j = i; j < end; j++) feed(evs[j].evt, evs[j].meta);
    await tick();
  }
  h.disable();
  if (isCt) {
    // What the hot path still holds crosses first (the plugin's stop does the same).
    record.drain();
    await ct.shutdown(120_000);
  }
  else if (o) await o.flush();
  const th1 = threadCpuNs();
  const p1 = processCpuNs();
  const addonNs = addonThreads(a0).cpuNs;
  t.events += evs.length;
  t.threadNs += th1 - th0;
  t.processNs += p1 - p0;
  t.addonNs += addonNs;
  t.eld.push({ p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6 });
  if (isCt) {
    const s1 = ct.stats();
    t.exported += s1.spansExported - s0.spansExported;
    t.dropped += s1.droppedQueueFull - s0.droppedQueueFull + (s1.spansDroppedSinkQueueFull - s0.spansDroppedSinkQueueFull);
    t.spansLost = (t.spansLost ?? 0) + sum(s1, 'spansFailed') - sum(s0, 'spansFailed');
  } else if (o) {
    t.exported += o.counted.exported - e0;
    t.dropped += evs.length - (o.counted.exported - e0);
  }
}

// Warm-up: JIT, inline caches, connections, and the heap grown to a round's live set. Untimed, and a full round:
// after a smaller one, the first measured window (always the same variant) paid for V8 growing its heap to a
// round's events, about 1.8 µs of other-thread CPU per event that no later window paid.
for (const name of names) await runRound(name, events(EVENTS));
for (const t of Object.values(totals)) Object.assign(t, { events: 0, threadNs: 0, processNs: 0, addonNs: 0, exported: 0, dropped: 0, eld: [] });

for (let round = 0; round < ROUNDS; round++) {
  const order = names.map((_, k) => names[(k + round) % names.length]);
  if (round % 2) order.reverse();
  for (const name of order) await runRound(name, events(EVENTS));
}

// ---- idle: a configured pipeline with nothing to do ------------------------------------------------------------------
await ct.configure(ctConfig(sinks.clawtrace_file));
for (const { evt, meta } of events(1000)) record(evt, meta);
record.drain();
await ct.flush(10_000);
await sleep(3000); // past the grace window: what is open left, the ticks that follow are idle ones
const i0 = addonThreads();
await sleep(IDLE_S * 1000);
const i1 = addonThreads(i0);
const idle = {
  seconds: IDLE_S,
  threads: i1.threads,
  wakeups_per_second: i1.switches / IDLE_S,
  cpu_ms_per_second: i1.cpuNs / 1e6 / IDLE_S,
};
await ct.shutdown(30_000);
for (const o of Object.values(otel)) await o.shutdown();
receiver.stop();
rmSync(dir, { recursive: true, force: true });

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const variants = {};
for (const name of names) {
  const t = totals[name];
  variants[name] = {
    events: t.events,
    gateway_ns_per_event: t.threadNs / t.events,
    process_ns_per_event: t.processNs / t.events,
    addon_threads_ns_per_event: t.addonNs / t.events,
    eld_ms: { p50: median(t.eld.map((e) => e.p50)), p99: median(t.eld.map((e) => e.p99)), max: Math.max(...t.eld.map((e) => e.max)) },
    spans_exported: t.exported,
    dropped: t.dropped,
    ...(t.spansLost != null ? { spans_failed: t.spansLost } : {}),
  };
  if (name.startsWith('clawtrace')) variants[name].background_events_per_cpu_second = t.addonNs ? (t.events * 1e9) / t.addonNs : null;
}
console.log(JSON.stringify({ node: process.version, per_tick: PER_TICK, rounds: ROUNDS, events_per_round: EVENTS, variants, idle }));
