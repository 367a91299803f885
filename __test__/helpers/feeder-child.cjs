'use strict'
// A gateway stand-in for outage tests: feeds synthetic turns (bench/synth.js, a fresh seed per chunk, so every
// chunk's ids are new) through the addon for a while, as a live gateway would during a backend outage, then
// flushes and shuts down. Prints one JSON line per chunk (`{"chunk":k,"stats":…}`) and a last line
// `{"done":true,"flushed":…,"shutdown":…,"stats":…,"errors":[…]}`.
//   node feeder-child.cjs '<config JSON>' '<options JSON>'
// options: chunks (default 10), eventsPerChunk (400), sessions (20), seed (1), pauseMs (500), workDir (required),
//          flushMs (120000), shutdownMs (30000), stopAfterChunks (feed, then print and stay alive until killed)
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
  for (let k = 0; k < o.chunks; k++) {
    const file = path.join(o.workDir, `chunk-${process.pid}-${k}.jsonl`)
    await generate({ out: file, events: o.eventsPerChunk, sessions: o.sessions, seed: o.seed * 1000 + k, startMs: Date.now() })
    await clawtrace.replay(file)
    fs.rmSync(file, { force: true })
    process.stdout.write(JSON.stringify({ chunk: k, stats: clawtrace.stats() }) + '\n')
    await new Promise((r) => setTimeout(r, o.pauseMs))
  }
  if (o.stopAfterChunks) {
    process.stdout.write(JSON.stringify({ fed: true, stats: clawtrace.stats() }) + '\n')
    await new Promise(() => setInterval(() => {}, 1000)) // until killed
  }
  const flushed = await clawtrace.flush(o.flushMs)
  const shutdown = await clawtrace.shutdown(o.shutdownMs)
  await new Promise((r) => setTimeout(r, 50)) // error callbacks land through the event loop
  process.stdout.write(JSON.stringify({ done: true, flushed, shutdown, stats: clawtrace.stats(), errors }) + '\n')
}

main().catch((e) => {
  process.stderr.write(`feeder-child: ${e && e.stack ? e.stack : e}\n`)
  process.exit(1)
})
