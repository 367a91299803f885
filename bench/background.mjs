// The background under many concurrent sessions (one process per session count): synthetic turns (bench/synth.js)
// through the plugin's hot path into the addon, file sink. Measures
//   - events per CPU-second of the addon's threads (N-API call to bytes written; the gateway thread not included),
//   - bytes per open trace: native memory growth (RSS less the JS heap), from after a warm-up (`fixed_bytes`: what
//     the first traffic costs once) to once every session has a turn in flight, over the turns in flight (`bytes_per_open_trace`: what the process pays once quiet, past the worker's idle
//     release, the allocator's size classes included; `bytes_per_open_trace_right_after_burst`: the same while the
//     allocator still keeps the burst's freed pages; `allocator_bytes_per_open_trace`: the growth of the resident
//     memory of the addon's own allocator once quiet, which leaves out node's own), and, with the bench addon
//     (`benchHeapBytes`), the growth of the addon's live heap over the same turns (`heap_bytes_per_open_trace`:
//     what the open traces hold, steady from run to run; `crates/core/tests/memory.rs` guards the assembler's share),
//   - end-to-end latency: a turn's last event recorded → its trace in the file, fed at a steady rate.
// Prints one JSON object as its last line. Args: --sessions N --rate EVENTS_PER_S --paced-seconds N.

import { mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonThreads, loadAddon, recorder, percentile, sleep } from './lib.mjs';

const require = createRequire(import.meta.url);
const { generate } = require('./synth.js');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SESSIONS = arg('sessions', 1000);
const RATE = arg('rate', 20_000);
const PACED_S = arg('paced-seconds', 3);
/** Unpaced until every session has a turn in flight (about six events each), then paced for PACED_S seconds. */
const PHASE1 = Math.max(20_000, SESSIONS * 6);
/** A turn is 12–19 events; the generator plans each session's first turn only while the total allows it, so the
 * total covers every session's first turn (else a short run leaves a third of 10,000 sessions without one). */
const EVENTS = Math.max(PHASE1 + RATE * PACED_S, SESSIONS * 20);
const GRACE_MS = 2000;

const ct = loadAddon();
const record = recorder(ct);
const dir = mkdtempSync(join(tmpdir(), 'clawtrace-bench-bg-'));
const file = join(dir, 'traces.jsonl');

// The warm-up: complete turns of 100 other sessions (their own keys, `seq` before the measured stream's), every one
// exported, then quiet past the worker's idle release. What the first traffic costs once, whatever the number of
// sessions (the allocator's arenas, the sink's buffers, the hot path's compiled code), is reported apart
// (`fixed_bytes`) rather than spread over the turns in flight after it; the CPU measured is the steady state's.
const warm = [];
const warmed = await generate({ sessions: 100, events: 20_000, seed: 7, keyPrefix: 'warm', startMs: Date.now() - 60_000, onRecords: (rs) => void warm.push(...rs) });
const evs = [];
await generate({ sessions: SESSIONS, events: EVENTS, seqStart: warmed.events, startMs: Date.now(), onRecords: (rs) => void evs.push(...rs) });

await ct.configure({ exporters: { file: { path: file } }, queueCapacity: 1 << 20, queueMaxBytes: 1 << 30, graceMs: GRACE_MS, maxOpenTraces: 2 * SESSIONS + 10_000 });
global.gc?.();
await sleep(200);
// Native memory: RSS less the JS heap, so the harness's own garbage (the strings it stringifies) does not count as
// the addon's.
const nativeBytes = () => {
  const m = process.memoryUsage();
  return m.rss - m.heapTotal;
};
const cold = { native: nativeBytes(), alloc: ct.benchAllocatorRssBytes?.() ?? null };
/** Records `list[from..to)` in chunks, the queue drained between them: its transient peak (freed, but kept by the
 * allocator) is not an open trace's. */
async function feed(list, from, to, each = () => {}) {
  for (let k = from; k < to; ) {
    const end = Math.min(to, k + 1000);
    for (; k < end; k++) {
      record(list[k].evt, list[k].meta);
      each(list[k].evt);
    }
    while (ct.stats().queueLength > 0) await sleep(1);
  }
  record.drain();
}
await feed(warm, 0, warm.length);
await ct.flush(60_000);
await sleep(GRACE_MS + 500);
await ct.flush(60_000);
global.gc?.();
await sleep(1500);

const rss0 = process.memoryUsage().rss;
const native0 = nativeBytes();
// The bench addon's live heap (its counting allocator, src/bench.rs); null with another addon.
const heap0 = ct.benchHeapBytes?.() ?? null;
// The resident bytes of the addon's own allocator (the bench addon reads its mappings; null with another addon).
const alloc0 = ct.benchAllocatorRssBytes?.() ?? null;
const cpu0 = addonThreads();

// Phase 1, unpaced, then memory.
const open = new Set();
const note = (evt) => {
  const id = evt.trace?.traceId;
  if (evt.type === 'message.received') open.add(id);
  else if (evt.type === 'message.processed') open.delete(id);
};
const phase1 = Math.min(evs.length, PHASE1);
await feed(evs, 0, phase1, note);
let i = phase1;
while (ct.stats().queueLength > 0) await sleep(5);
await ct.flush(60_000);
global.gc?.();
await sleep(100);
// Right after the burst: the allocator still keeps the burst's freed pages for reuse.
const nativeBusy = nativeBytes();
// Then quiet, past the worker's idle release (crates/core/src/pipeline/worker.rs, `IDLE_RELEASE`, plus a tick):
// what the open turns hold while the gateway waits on them.
await sleep(2000);
const rss1 = process.memoryUsage().rss;
const native1 = nativeBytes();
const heap1 = ct.benchHeapBytes?.() ?? null;
const alloc1 = ct.benchAllocatorRssBytes?.() ?? null;
const openTraces = open.size;

// Phase 2, paced at RATE: when each turn's last event was recorded, and when its trace reached the file.
const done = new Map();
const seen = new Map();
const fd = openSync(file, 'a+');
let pos = 0;
let rest = '';
const buf = Buffer.alloc(1 << 22);
function tail() {
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n <= 0) return;
    pos += n;
    const lines = (rest + buf.toString('utf8', 0, n)).split('\n');
    rest = lines.pop();
    const now = performance.now();
    for (const l of lines) for (const m of l.matchAll(/"traceId":"([0-9a-f]{32})"/g)) if (!seen.has(m[1])) seen.set(m[1], now);
  }
}
const t0 = performance.now();
let fed = 0;
while (i < evs.length) {
  const due = Math.min(evs.length, phase1 + Math.floor(((performance.now() - t0) / 1000) * RATE));
  for (; i < due; i++, fed++) {
    const { evt, meta } = evs[i];
    record(evt, meta);
    note(evt);
    if (evt.type === 'message.processed') done.set(evt.trace.traceId, performance.now());
  }
  tail();
  await sleep(5);
}
const tEnd = performance.now();
while (performance.now() - tEnd < GRACE_MS + 1500) {
  tail();
  await sleep(10);
}
tail();
record.drain();
await ct.shutdown(60_000);
const cpu = addonThreads(cpu0).cpuNs;
const s = ct.stats();
rmSync(dir, { recursive: true, force: true });

const lat = [];
let missing = 0;
for (const [id, at] of done) {
  const got = seen.get(id);
  if (got == null) missing += 1;
  else lat.push(got - at);
}
lat.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    sessions: SESSIONS,
    events: evs.length,
    events_per_cpu_second: (evs.length * 1e9) / cpu,
    open_traces: openTraces,
    rss_growth_bytes: rss1 - rss0,
    native_growth_bytes: native1 - native0,
    fixed_bytes: native0 - cold.native,
    allocator_fixed_bytes: alloc0 != null && cold.alloc != null ? alloc0 - cold.alloc : null,
    bytes_per_open_trace: openTraces ? (native1 - native0) / openTraces : null,
    bytes_per_open_trace_right_after_burst: openTraces ? (nativeBusy - native0) / openTraces : null,
    heap_bytes_per_open_trace: heap0 != null && openTraces ? (heap1 - heap0) / openTraces : null,
    allocator_bytes_per_open_trace: alloc0 != null && openTraces ? (alloc1 - alloc0) / openTraces : null,
    latency_ms: { turns: lat.length, missing, p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat.at(-1) ?? null, grace_ms: GRACE_MS },
    dropped_queue_full: s.droppedQueueFull,
    spans_exported: s.spansExported,
  }),
);
