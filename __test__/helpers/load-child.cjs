'use strict'
// Drives the addon live (record calls, as the plugin makes them) in a process of its own and prints one JSON line.
// A fresh process per scenario: counters start at zero and nothing the registry remembers carries over.
//   node load-child.cjs <scenario> '<options JSON>'
// Scenarios:
//   hang      a file sink and an OTLP sink whose receiver accepts and never answers; events at a steady rate, with
//             flush(deadline) and configure() called while they flow
//   shutdown  one OTLP sink into a hanging receiver (with or without a spool); a burst, then shutdown(deadline)
//   overload  a file sink; events recorded as fast as this thread can for a bounded time, sampled as they go
const net = require('node:net')
const path = require('node:path')
const ct = require(path.resolve(__dirname, '..', '..'))
const { generate } = require(path.resolve(__dirname, '..', '..', 'bench', 'synth.js'))

/** A TCP server that takes connections and every byte sent, and never answers. */
async function hangingReceiver() {
  const sockets = new Set()
  const server = net.createServer((s) => {
    sockets.add(s)
    s.on('data', () => {})
    s.on('error', () => {})
  })
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok))
  return { url: `http://127.0.0.1:${server.address().port}`, connections: () => sockets.size }
}

const MARK = 'fffe'
const ID = /"(traceId|spanId|parentSpanId)":"[0-9a-f]{4}/g
/** Pass `n` over the pool: the same turns with other trace, span, session and run ids (a text substitution applied
 *  to every event alike, so the ids of one turn still agree). */
function variant(json, n) {
  return n === 0 ? json : json.replaceAll(MARK, (n % 0xfffe).toString(16).padStart(4, '0'))
}

/** Synthetic turns as the listener would pass them: event JSON text and listener metadata. `seq` is left out and
 *  every id carries the marker `fffe`, so a pool can be replayed many times (`variant`) as new sessions with new
 *  ids at the cost of one string replacement per event. */
async function pool(events, seed, sessions = 500) {
  const out = []
  const counts = await generate({
    events,
    sessions,
    seed,
    onRecords: (recs) => {
      for (const { meta, evt } of recs) {
        delete evt.seq
        const json = JSON.stringify(evt)
          .replace(ID, `"$1":"${MARK}`)
          .replaceAll('synth-', `synth-${MARK}-`)
          .replaceAll('"sess-', `"sess-${MARK}-`)
        out.push([json, meta])
      }
    },
  })
  return { records: out, counts }
}


/** Where the scenario is, on stderr: a child killed by the test's safety timeout says where it was. */
const note = (what) => process.stderr.write(`load-child: ${what}\n`)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const tick = () => new Promise((r) => setImmediate(r))

async function until(cond, limitMs) {
  const end = Date.now() + limitMs
  while (!cond() && Date.now() < end) await sleep(50)
  return cond()
}

async function timed(p) {
  const t0 = Date.now()
  const value = await p
  return { value, ms: Date.now() - t0 }
}

async function hang(o) {
  const rx = await hangingReceiver()
  const cfg = {
    exporters: { file: { path: o.file }, otlp: { endpoint: rx.url, protocol: 'http/json' } },
    graceMs: 200,
    reorderWindowMs: 20,
    batch: { maxDelayMs: 100, maxSpans: 64 },
  }
  await ct.configure(cfg)
  const { records, counts } = await pool(o.events, 7)
  // A steady stream on timers, so the calls below run while events keep arriving.
  let next = 0
  let refused = 0
  const perTick = Math.ceil((o.rate * 10) / 1000)
  const stream = new Promise((done) => {
    const timer = setInterval(() => {
      for (let i = 0; i < perTick && next < records.length; i++, next++) {
        if (!ct.recordDiagnostic(records[next][0], records[next][1])) refused++
      }
      if (next >= records.length) {
        clearInterval(timer)
        done()
      }
    }, 10)
  })
  // The flush comes once the hanging sink holds spans it is trying to send.
  note('streaming; waiting for the hanging sink to be busy')
  await until(() => rx.connections() > 0 && ct.stats().sinks.otlp?.spansReceived > 0, 60_000)
  note('flush')
  const flush = await timed(ct.flush(o.flushMs))
  note('configure')
  const configure = await timed(ct.configure(cfg))
  note('flush again')
  const flushAfter = await timed(ct.flush(o.flushMs))
  await stream
  note('stream done; waiting for the healthy sink')
  // The healthy sink keeps up: every span of every (complete) turn reaches the file, while the other hangs.
  await until(() => ct.stats().spansExported >= counts.spans, 60_000)
  return { counts, recorded: next, refused, flush, configure, flushAfter, stats: ct.stats(), hangingConnections: rx.connections() }
}

async function shutdown(o) {
  const rx = await hangingReceiver()
  await ct.configure({
    exporters: { otlp: { endpoint: rx.url, protocol: 'http/json' } },
    graceMs: 100,
    reorderWindowMs: 20,
    batch: { maxDelayMs: 50 },
    ...(o.spool ? { spool: { dir: o.spool } } : {}),
  })
  const { records, counts } = await pool(o.events, 11)
  let refused = 0
  for (const [json, meta] of records) if (!ct.recordDiagnostic(json, meta)) refused++
  // The backend is tried (and hangs) before the shutdown comes.
  note('burst recorded; waiting for the backend to be tried')
  await until(() => rx.connections() > 0, 30_000)
  note('shutdown')
  const result = await timed(ct.shutdown(o.shutdownMs))
  return { counts, refused, shutdown: result, stats: ct.stats() }
}

async function overload(o) {
  // A short TTL: turns whose closing events were shed at intake leave as incomplete while the load goes on.
  await ct.configure({
    exporters: { file: { path: o.file } },
    graceMs: 200,
    traceTtlMs: 2000,
    reorderWindowMs: 20,
    queueMaxBytes: o.queueMaxBytes,
  })
  const { records } = await pool(o.events, 13, 50)
  note('flooding')
  const samples = []
  const t0 = Date.now()
  let pass = 0
  let offered = 0
  let nextSample = 0
  while (Date.now() - t0 < o.seconds * 1000) {
    for (const [json, meta] of records) {
      ct.recordDiagnostic(variant(json, pass), meta)
      offered++
      if (offered % 2000 === 0) {
        await tick()
        const t = Date.now() - t0
        if (t >= nextSample) {
          const s = ct.stats()
          samples.push({ t, offered, exported: s.spansExported, droppedQueueFull: s.droppedQueueFull, rss: process.memoryUsage().rss })
          nextSample += 500
        }
        if (t >= o.seconds * 1000) break
      }
    }
    pass++
  }
  const loadMs = Date.now() - t0
  const afterLoad = ct.stats()
  note('load over; shutdown')
  const shutdown = await timed(ct.shutdown(60_000))
  return { offered, loadMs, samples, afterLoad, shutdown, stats: ct.stats(), maxRss: Math.max(...samples.map((s) => s.rss)) }
}

const scenarios = { hang, shutdown, overload }

async function main() {
  const [name, opts] = process.argv.slice(2)
  const out = await scenarios[name](JSON.parse(opts || '{}'))
  process.stdout.write(JSON.stringify(out) + '\n')
  // A hanging backend would keep the process alive: this child's work is done.
  process.exit(0)
}

main().catch((e) => {
  process.stderr.write(`load-child: ${e && e.stack ? e.stack : e}\n`)
  process.exit(1)
})
