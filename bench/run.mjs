// `npm run bench [-- --quick]`: every comparison in its own process (bench/gateway.mjs, then bench/background.mjs per
// session count), their results in bench/results.json and BENCHMARKS.md (generated: never edit it by hand), and as
// the last line of output one JSON object with the headline numbers.

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const quick = process.argv.includes('--quick');
const here = (f) => fileURLToPath(new URL(f, import.meta.url));

function child(script, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', here(script), ...args.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => {
      const last = out.trim().split('\n').at(-1);
      if (code !== 0) return reject(new Error(`${script} exited ${code}`));
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`${script}: no result line`));
      }
    });
  });
}

async function measure() {
  const started = Date.now();
  const gatewayArgs = quick ? ['--rounds', 3, '--events', 20_000, '--idle-seconds', 3] : ['--rounds', 8, '--events', 100_000, '--idle-seconds', 10];
  console.error(`bench: gateway comparison (${gatewayArgs.join(' ')})`);
  const gateway = await child('./gateway.mjs', gatewayArgs);
  const background = {};
  for (const sessions of [100, 1000, 10_000]) {
    console.error(`bench: background, ${sessions} sessions`);
    background[sessions] = await child('./background.mjs', ['--sessions', sessions, '--paced-seconds', quick ? 3 : 10]);
  }

  const v = gateway.variants;
  const r = (x, d = 0) => (x == null ? null : Number(x.toFixed(d)));
  const headline = {
    gateway_ns_per_event: {
      clawtrace: r(v.clawtrace_file.gateway_ns_per_event),
      clawtrace_whole_events: r(v.clawtrace_whole.gateway_ns_per_event),
      otel_default: r(v.otel_default.gateway_ns_per_event),
      otel_nodrop: r(v.otel_nodrop.gateway_ns_per_event),
      stringify: r(v.stringify.gateway_ns_per_event),
      floor: r(v.floor.gateway_ns_per_event),
    },
    ratio_vs_otel_nodrop: r(v.clawtrace_file.gateway_ns_per_event / v.otel_nodrop.gateway_ns_per_event, 3),
    process_cpu_ratio_vs_otel_nodrop: {
      file: r(v.clawtrace_file.process_ns_per_event / v.otel_nodrop.process_ns_per_event, 3),
      otlp: r(v.clawtrace_otlp.process_ns_per_event / v.otel_nodrop.process_ns_per_event, 3),
    },
    eld_p99_ms: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, r(x.eld_ms.p99, 2)])),
    background_events_per_cpu_second: {
      corpus_file: r(v.clawtrace_file.background_events_per_cpu_second),
      corpus_otlp: r(v.clawtrace_otlp.background_events_per_cpu_second),
      ...Object.fromEntries(Object.entries(background).map(([n, b]) => [`sessions_${n}`, r(b.events_per_cpu_second)])),
    },
    bytes_per_open_trace: r(background[10_000].bytes_per_open_trace),
    fixed_bytes: r(background[10_000].fixed_bytes),
    allocator_fixed_bytes: r(background[10_000].allocator_fixed_bytes),
    bytes_per_open_trace_right_after_burst: r(background[10_000].bytes_per_open_trace_right_after_burst),
    allocator_bytes_per_open_trace: r(background[10_000].allocator_bytes_per_open_trace),
    heap_bytes_per_open_trace: r(background[10_000].heap_bytes_per_open_trace),
    idle_wakeups_per_second: r(gateway.idle.wakeups_per_second, 1),
    latency_p99_ms: r(background[10_000].latency_ms.p99),
    dropped: { clawtrace_file: v.clawtrace_file.dropped, clawtrace_otlp: v.clawtrace_otlp.dropped, otel_default: v.otel_default.dropped, otel_nodrop: v.otel_nodrop.dropped },
  };

  const machine = `${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${gateway.node}`;
  const results = { generated: new Date().toISOString(), quick, machine, load_average_1m: loadavg()[0], seconds: (Date.now() - started) / 1000, headline, gateway, background };
  writeFileSync(here('./results.json'), `${JSON.stringify(results, null, 2)}\n`);
  return results;
}

// `--render` rewrites BENCHMARKS.md from bench/results.json, without measuring again.
const results = process.argv.includes('--render') ? JSON.parse(readFileSync(here('./results.json'), 'utf8')) : await measure();
const { machine, headline, gateway, background } = results;
const v = gateway.variants;

// ---- BENCHMARKS.md ---------------------------------------------------------------------------------------------
const n = (x, d = 0) => (x == null ? '–' : Number(x).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
const rows = Object.entries(v)
  .map(([k, x]) => `| ${k} | ${n(x.gateway_ns_per_event)} | ${n(x.process_ns_per_event)} | ${n(x.eld_ms.p50, 2)} / ${n(x.eld_ms.p99, 2)} / ${n(x.eld_ms.max, 1)} | ${n(x.spans_exported)} | ${n(x.dropped)} |`)
  .join('\n');
const bgRows = Object.values(background)
  .map((b) => `| ${n(b.sessions)} | ${n(b.events)} | ${n(b.events_per_cpu_second)} | ${n(b.open_traces)} | ${n(b.bytes_per_open_trace_right_after_burst)} / ${n(b.bytes_per_open_trace)} | ${n(b.allocator_bytes_per_open_trace)} | ${n(b.heap_bytes_per_open_trace)} | ${n(b.fixed_bytes / 2 ** 20, 1)} / ${n(b.allocator_fixed_bytes / 2 ** 20, 1)} | ${n(b.latency_ms.p50)} / ${n(b.latency_ms.p99)} (${n(b.latency_ms.turns)} turns, ${n(b.latency_ms.missing)} missing) | ${n(b.dropped_queue_full)} |`)
  .join('\n');
const md = `# Benchmarks

Generated by \`npm run bench${results.quick ? ' -- --quick' : ''}\` (bench/run.mjs) on ${results.generated}; do not edit by hand.
Machine: ${machine}, shared with other work: load average ${n(results.load_average_1m, 1)} at the start. Every number moves with
the load; the variants of one table ran interleaved in one process, so their ratios move least. Took ${n(results.seconds)} s.

## The gateway's thread (corpus mix, ${n(gateway.events_per_round)} events per round, ${gateway.rounds} rounds interleaved, ${gateway.per_tick} events per tick)

Diagnostic events of \`fixtures/openclaw-2026.9.6-gateway.jsonl\`, each copy with its own ids. Gateway-thread CPU is
the main thread's own (\`/proc/thread-self/schedstat\`), including the tracer's export work done there (OTel-JS
serialises and sends on it); whole-process CPU is every thread; the receiver runs in its own process. clawtrace rounds
end with \`shutdown()\` so their background work stays inside their own window. Event-loop delay: medians over rounds
of \`monitorEventLoopDelay\` (1 ms resolution) while feeding.

| variant | gateway ns/event | process ns/event | event-loop delay p50 / p99 / max (ms) | spans exported | dropped |
|---|---|---|---|---|---|
${rows}

clawtrace_file and clawtrace_otlp take the plugin's hot path (only the fields assembly reads, many events per
crossing); clawtrace_whole hands every event over whole as JSON, one call each (the path before batching, and the
plugin's while it records raw events). clawtrace exports one span per operation (a turn, a run, a model call), OTel-JS one per event; "dropped" counts
events (clawtrace: queue full, sink queue full) or spans (OTel-JS: its batch queue overflowed).

Background, corpus mix: ${n(v.clawtrace_file.background_events_per_cpu_second)} events per CPU-second of the addon's
threads (file sink), ${n(v.clawtrace_otlp.background_events_per_cpu_second)} (OTLP/protobuf to the loopback receiver).

## The background under concurrent sessions (bench/synth.js, file sink)

| sessions | events | events per addon CPU-second | turns in flight | native memory growth per turn in flight, right after the burst / once quiet (bytes) | the addon's allocator's resident growth per turn, once quiet (bytes) | live heap growth per turn in flight (bytes) | warm-up's lasting growth, native / allocator (MiB) | latency last event → file, p50 / p99 (ms) | dropped |
|---|---|---|---|---|---|---|---|---|---|
${bgRows}

Latency includes the grace window (${background[10_000].latency_ms.grace_ms} ms): a finished turn waits that long for late events.
"Missing" turns had not reached the file 1.5 s after the last event's grace window: the background was behind.
Each run first warms up: 20,000 events of complete turns in 100 other sessions, all exported, then quiet past the
worker's idle release. What that first traffic leaves resident whatever the number of sessions (the allocator's
arenas and thread caches, the sink's buffers, the hot path's compiled code, node's own heap) is the "warm-up's
lasting growth"; the per-turn figures and the CPU are measured from there. Native memory growth (RSS less the JS
heap) per turn in flight counts at 10,000 sessions (the headline \`bytes_per_open_trace\`); with fewer sessions it
is mostly noise spread over few traces. Right after the burst it includes what the allocator keeps of the
transient memory of the events that built those turns; once quiet (2 s later, past the worker's idle release of
freed memory) what remains is the turns, the allocator's size classes and partly used pages, and the process's own
growth. The allocator's resident growth leaves node's own out: it is the RSS of the mappings the addon's allocator
(mimalloc) owns. The live heap growth (the bench addon counts its allocations: \`heap_bytes_per_open_trace\`) is
what the open turns and their share of the tables hold.

## Idle

With a configured pipeline and nothing to do, over ${gateway.idle.seconds} s: ${n(gateway.idle.wakeups_per_second, 1)} wake-ups per
second (context switches of the addon's ${gateway.idle.threads} threads), ${n(gateway.idle.cpu_ms_per_second, 2)} ms CPU per second.
`;
writeFileSync(here('../BENCHMARKS.md'), md);

console.log(md);
console.log(JSON.stringify(headline));
