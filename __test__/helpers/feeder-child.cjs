'use strict'
// A gateway stand-in for outage tests: feeds a synthetic event stream (bench/synth.js) through the live record
// call, a slice per chunk with a pause between, as a gateway would during a backend outage, then flushes and
// shuts down. Prints one JSON line per chunk (`{"chunk":k,"stats":…}`) and a last line
// `{"done":true,"flushed":…,"shutdown":…,"stats":…,"errors":[…]}`.
//   node feeder-child.cjs '<config JSON>' '<options JSON>'
// options: chunks (default 10), eventsPerChunk (400), sessions (20), seed (1), pauseMs (500), workDir (required),
//          flushMs (120000), shutdownMs (30000), stopAfterChunks (feed, then print stats every 500 ms until killed),
//          flushWhenExists (a path: wait for it before the final flush)
const fs = require('node:fs')
const path = require('node:path')
const clawtrace = require(path.resolve(__dirname, '..', '..'))
const { generate } = require(path.resolve(__dirname, '..', '..', 'bench', 'synth.js'))

async function main() {
  const config = JSON.parse(process.argv[2])
  const o = { chunks: 10, eventsPerChunk: 400, sessions: 20, seed: 1, pauseMs: 500, flushMs: 120_000, shutdownMs: 30_000, ...JSON.parse(process.argv[3]) }
  const errors = []
  clawtrace.onError((e) => errors.push({ sink: e.sink, kind: e.kind, message: e.message }))
  await clawtrace.configure(config)
  let lines = []
  if (o.chunks > 0) {
    const file = path.join(o.workDir, `stream-${process.pid}.jsonl`)
    await generate({ out: file, events: o.chunks * o.eventsPerChunk, sessions: o.sessions, seed: o.seed, startMs: Date.now() })
    lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)
    fs.rmSync(file, { force: true })
  }
  const per = Math.ceil(lines.length / Math.max(1, o.chunks))
  for (let k = 0; k < o.chunks; k++) {
    for (const line of lines.slice(k * per, (k + 1) * per)) {
      const r = JSON.parse(line)
      if (r.src === 'diagnostic') clawtrace.recordDiagnostic(r.evt, r.meta)
    }
    process.stdout.write(JSON.stringify({ chunk: k, stats: clawtrace.stats() }) + '\n')
    await new Promise((r) => setTimeout(r, o.pauseMs))
  }
  if (o.stopAfterChunks) {
    // Until killed: the stats, twice a second.
    for (;;) {
      process.stdout.write(JSON.stringify({ fed: true, stats: clawtrace.stats() }) + '\n')
      await new Promise((r) => setTimeout(r, 500))
    }
  }
  // The backend's outage is over when this file exists: only then is flush() asked to deliver everything.
  while (o.flushWhenExists && !fs.existsSync(o.flushWhenExists)) await new Promise((r) => setTimeout(r, 100))
  const flushed = await clawtrace.flush(o.flushMs)
  const shutdown = await clawtrace.shutdown(o.shutdownMs)
  await new Promise((r) => setTimeout(r, 50)) // error callbacks land through the event loop
  process.stdout.write(JSON.stringify({ done: true, flushed, shutdown, stats: clawtrace.stats(), errors }) + '\n')
}

main().catch((e) => {
  process.stderr.write(`feeder-child: ${e && e.stack ? e.stack : e}\n`)
  process.exit(1)
})
