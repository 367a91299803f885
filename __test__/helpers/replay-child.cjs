'use strict'
// Replays a record file through the addon in a process of its own and prints one JSON line: the replay summary,
// whether flush delivered everything, every counter, and the export errors reported — or, when configure() fails,
// its message. Started by helpers/replay.mjs (replayInChild), the tests' one replay child.
//   node replay-child.cjs '<config JSON>' <record file>
const path = require('node:path')
const clawtrace = require(path.resolve(__dirname, '..', '..'))

async function main() {
  const [config, file] = process.argv.slice(2)
  const errors = []
  clawtrace.onError((e) => errors.push({ sink: e.sink, kind: e.kind, message: e.message }))
  try {
    await clawtrace.configure(JSON.parse(config))
  } catch (e) {
    process.stdout.write(JSON.stringify({ configureError: String(e && e.message), errors }) + '\n')
    return
  }
  const t0 = Date.now()
  const replay = await clawtrace.replay(file)
  const flushed = await clawtrace.flush(60_000)
  const ms = Date.now() - t0
  const stats = clawtrace.stats()
  await clawtrace.shutdown(10_000)
  // Error callbacks are delivered through the event loop: let them land.
  await new Promise((r) => setTimeout(r, 50))
  process.stdout.write(JSON.stringify({ replay, flushed, ms, stats, errors }) + '\n')
}

main().catch((e) => {
  process.stderr.write(`replay-child: ${e && e.stack ? e.stack : e}\n`)
  process.exit(1)
})
