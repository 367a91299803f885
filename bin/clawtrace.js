#!/usr/bin/env node
'use strict'
// The clawtrace CLI: replay recorded OpenClaw gateway events into trace exporters, and a self-contained demo.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const PKG_DIR = path.resolve(__dirname, '..')
const CORPUS_NAME = 'openclaw-2026.9.6-gateway.jsonl'
const KNOWN_EXPORTERS = ['file', 'otlp', 'mlflow', 'langfuse']
// Traces a sink may hold waiting for export. The library default (4096) suits a live gateway; a replay closes
// traces much faster than real time, and at its end closes every open trace at once, and the sink drops (and
// counts) what does not fit, so replays get a deeper queue.
const REPLAY_SINK_QUEUE = 65536

const HELP = `clawtrace — production-grade tracing for the OpenClaw AI gateway

Usage:
  clawtrace replay FILE [options]   replay a recorded event file (one {"src":…} record per line) into exporters
  clawtrace demo [options]          replay the bundled real gateway corpus plus a synthetic load of many
                                    concurrent sessions into a file, print a summary and one trace tree
  clawtrace --help                  this help

replay options:
  --exporter NAME     send traces to NAME: file, otlp, mlflow or langfuse; repeatable or comma-separated, all at
                      once (default: file). Endpoints and credentials come from the environment, as for the
                      library: OTEL_EXPORTER_OTLP_*, MLFLOW_TRACKING_URI/MLFLOW_EXPERIMENT_NAME/…, LANGFUSE_*
  --config PATH       a JSON file with a configure() object; the flags below override it
  --out PATH          file exporter output, OTLP/JSON lines (default: clawtrace-traces.jsonl)
  --otlp-endpoint URL     OTLP base URL (/v1/traces is appended)
  --mlflow-uri URL        MLflow tracking server
  --mlflow-experiment NAME  MLflow experiment (created when missing)
  --langfuse-url URL      Langfuse base URL
  --sample-ratio R    keep this share of traces (errors are always kept)
  --capture-content   attach prompts, replies and tool I/O (redacted) to the spans
  --fresh-ids         give every trace and span a new id derived from its recorded id and the destination
                      (exporters, endpoints, experiment or project): replaying again into the same place updates
                      the same traces, into another place makes a copy. Without it the recorded ids are kept, and
                      MLflow keeps a trace in the experiment it was first sent to
  --tree              print every exported trace as an indented tree (needs the file exporter)
  --grace-ms N        how long a finished trace waits for stragglers (default 2000)
  --timeout-ms N      give up waiting for the export after N ms, once the file is read (default 120000)
  --stats-json PATH   write stats() (plus maxRssKb and the replay summary) as JSON at the end
  --sink-queue N      traces each exporter may hold waiting for export (default 65536)

exit status of replay: 0 every span delivered; 1 some span lost (each counted above) or the export did not
  finish in time; 2 usage error; 3 nothing lost, but some spans wait in the spool (configured with --config)
  for the next clawtrace process that uses it

demo options:
  --out PATH          output file (default: clawtrace-demo.jsonl in the working directory)
  --sessions N        concurrent synthetic sessions (default 2000)
  --events N          synthetic events (default 200000)
  --seed N            synthetic stream seed (default 7)
  --stats-json PATH   as for replay
`

class UsageError extends Error {}

/** Exit status of a replay whose spans are all accounted for but some only parked in the spool, not delivered. */
const EXIT_PARKED = 3

function parseArgs(argv) {
  const o = { _: [], exporters: [], flags: {} }
  const needsValue = new Set([
    '--exporter', '--out', '--grace-ms', '--timeout-ms', '--stats-json', '--sessions', '--events', '--seed', '--sink-queue',
    '--config', '--otlp-endpoint', '--mlflow-uri', '--mlflow-experiment', '--langfuse-url', '--sample-ratio',
  ])
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]
    let v
    if (a.startsWith('--') && a.includes('=')) {
      v = a.slice(a.indexOf('=') + 1)
      a = a.slice(0, a.indexOf('='))
    }
    if (needsValue.has(a)) {
      if (v === undefined) {
        if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value`)
        v = argv[++i]
      }
      if (a === '--exporter') o.exporters.push(...v.split(',').filter(Boolean))
      else o.flags[a.slice(2)] = v
    } else if (a === '--tree' || a === '--help' || a === '-h' || a === '--capture-content' || a === '--fresh-ids') {
      o.flags[a === '-h' ? 'help' : a.slice(2)] = true
    } else if (a.startsWith('-') && a !== '-') {
      throw new UsageError(`unknown option ${a}`)
    } else o._.push(a)
  }
  return o
}

function num(flags, name, dflt, { min = 0 } = {}) {
  if (flags[name] === undefined) return dflt
  const n = Number(flags[name])
  if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number >= ${min}, got ${JSON.stringify(flags[name])}`)
  return n
}

function loadAddon() {
  try {
    return require(PKG_DIR)
  } catch (e) {
    throw new Error(`cannot load the clawtrace native addon: ${e.message}`)
  }
}

function sumBy(stats, prefix) {
  let n = 0
  for (const [k, v] of Object.entries(stats)) if (k.startsWith(prefix) && typeof v === 'number') n += v
  return n
}

function writeStatsJson(file, ct, extra) {
  const st = ct.stats()
  const doc = { ...st, maxRssKb: process.resourceUsage().maxRSS, ...extra }
  fs.writeFileSync(file, JSON.stringify(doc, null, 2) + '\n')
}

function fileConfig(out, flags) {
  return replayConfig(['file'], out, flags)
}

function readConfigFile(file) {
  let text
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    throw new UsageError(`--config ${file}: cannot read (${e.code || 'error'})`)
  }
  let cfg
  try {
    cfg = JSON.parse(text)
  } catch (e) {
    // V8's message quotes the text around the error, which may be a credential: give the position only.
    const at = /position (\d+)/.exec(e.message)
    throw new UsageError(`--config ${file}: not valid JSON${at ? ` (at character ${at[1]})` : ''}`)
  }
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) throw new UsageError(`--config ${file}: not a JSON object`)
  return cfg
}

/** `replay()`'s skipped lines, for the summary: how many, and where the first ones are. */
function badLinesNote(sum) {
  const n = (sum.malformedLines || 0) + (sum.unknownSourceLines || 0) + (sum.tooLongLines || 0) + (sum.invalidUtf8Lines || 0)
  if (!n) return ''
  const listed = sum.badLines || []
  const where = listed.map((b) => `line ${b.line} (${b.reason})`).join(', ') + (n > listed.length ? ', …' : '')
  return `; skipped ${n} bad line${n === 1 ? '' : 's'}: ${where}`
}

/** The configure() object for a replay: --config, then the flags; every chosen exporter present (env fills it). */
function replayConfig(exporters, out, flags) {
  const cfg = flags.config ? readConfigFile(flags.config) : {}
  cfg.exporters = { ...(cfg.exporters || {}) }
  for (const name of Object.keys(cfg.exporters)) if (!exporters.includes(name)) exporters.push(name)
  // The file sink is the default only when nothing else is named (by a flag or the --config file).
  if (exporters.length === 0) exporters.push('file')
  for (const e of exporters) cfg.exporters[e] = { ...(cfg.exporters[e] || {}) }
  if (cfg.exporters.file) cfg.exporters.file.path = path.resolve(flags.out || cfg.exporters.file.path || out)
  if (flags['otlp-endpoint']) need(cfg, 'otlp', '--otlp-endpoint').endpoint = flags['otlp-endpoint']
  if (flags['mlflow-uri']) need(cfg, 'mlflow', '--mlflow-uri').trackingUri = flags['mlflow-uri']
  if (flags['mlflow-experiment']) need(cfg, 'mlflow', '--mlflow-experiment').experimentName = flags['mlflow-experiment']
  if (flags['langfuse-url']) need(cfg, 'langfuse', '--langfuse-url').baseUrl = flags['langfuse-url']
  if (flags['grace-ms'] !== undefined) cfg.graceMs = num(flags, 'grace-ms', 2000)
  if (flags['sample-ratio'] !== undefined) cfg.sampling = { ...(cfg.sampling || {}), ratio: num(flags, 'sample-ratio', 1) }
  if (flags['capture-content']) cfg.captureContent = true
  if (flags['fresh-ids']) cfg.idNamespace = destination(cfg)
  cfg.batch = { ...(cfg.batch || {}), queueTraces: num(flags, 'sink-queue', REPLAY_SINK_QUEUE, { min: 1 }) }
  return cfg
}

/** Where a replay's traces go, as one line: exporters, endpoints, experiment or project (no secrets). */
function destination(cfg) {
  const env = process.env
  const parts = Object.keys(cfg.exporters)
    .sort()
    .map((name) => {
      const e = cfg.exporters[name]
      if (name === 'file') return `file:${e.path}`
      if (name === 'otlp') return `otlp:${e.tracesEndpoint || e.endpoint || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT || ''}`
      if (name === 'mlflow') {
        const m = mlflowTarget(e)
        return `mlflow:${m.uri}#${m.experimentId ?? ''}#${m.experimentName ?? ''}`
      }
      if (name === 'langfuse') return `langfuse:${e.baseUrl || env.LANGFUSE_BASE_URL || env.LANGFUSE_HOST || ''}#${e.publicKey || env.LANGFUSE_PUBLIC_KEY || ''}`
      return name
    })
  return parts.join('|')
}

/** The MLflow server and experiment a replay sends to, resolved as the library does (section, then environment). */
function mlflowTarget(e) {
  const env = process.env
  const uri = String(e.trackingUri || env.MLFLOW_TRACKING_URI || '').trim().replace(/\/+$/, '')
  const experimentId = e.experimentId || (!e.experimentName && env.MLFLOW_EXPERIMENT_ID) || undefined
  const experimentName = experimentId ? undefined : e.experimentName || env.MLFLOW_EXPERIMENT_NAME || undefined
  const headers = {}
  const token = e.token || env.MLFLOW_TRACKING_TOKEN
  const user = e.username || env.MLFLOW_TRACKING_USERNAME
  const password = e.password || env.MLFLOW_TRACKING_PASSWORD
  if (token) headers.authorization = `Bearer ${token}`
  else if (user && password) headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
  return { uri, experimentId, experimentName, headers }
}

/**
 * Whether a record file comes from an early-2026 OpenClaw (before 2026.4.24), as the plugin decides it for a live
 * host: no diagnostic event is trusted or carries trace context, and agent lifecycle events are there to rebuild
 * runs from. Reading stops at the first trusted or traced event, so a current host's recording costs a few lines.
 */
async function legacyRecording(file) {
  const readline = require('node:readline')
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })
  const diagnostic = /"src"\s*:\s*"diagnostic"/
  const current = /"trusted"\s*:\s*true|"trace"\s*:\s*\{/
  const agent = /"src"\s*:\s*"agent"/
  const lifecycleEvent = /"stream"\s*:\s*"lifecycle"/
  let lifecycle = false
  try {
    for await (const line of rl) {
      if (diagnostic.test(line) && current.test(line)) return false
      if (!lifecycle && agent.test(line) && lifecycleEvent.test(line)) lifecycle = true
    }
  } finally {
    rl.close()
  }
  return lifecycle
}

/** The earliest and latest event times (ms) of a record file: the window the replayed traces start in. */
async function recordWindow(file) {
  const readline = require('node:readline')
  let lo = Infinity
  let hi = -Infinity
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })
  for await (const line of rl) {
    const m = /"ts":(\d{12,14})/.exec(line) || /"rt":(\d{12,14})/.exec(line)
    if (!m) continue
    const t = Number(m[1])
    if (t < lo) lo = t
    if (t > hi) hi = t
  }
  return Number.isFinite(lo) ? { lo, hi } : null
}

/**
 * After a replay into MLflow: how many traces of the recording the target experiment holds. MLflow keys a trace by
 * its id alone, so a recorded id already stored in another experiment updates that trace and the target gains
 * nothing; the CLI then says so rather than report an export that created nothing.
 * Returns `{experimentId, found, expected}` or `{error}`.
 */
async function checkMlflow(cfg, file, expected) {
  const m = mlflowTarget(cfg.exporters.mlflow)
  if (!m.uri.startsWith('http')) return { error: 'no tracking URI to check' }
  const call = async (method, p, body) => {
    const r = await fetch(m.uri + p, {
      method,
      headers: { ...m.headers, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(15_000),
    })
    if (!r.ok) throw new Error(`${method} ${p.split('?')[0]} answered ${r.status}`)
    return r.json()
  }
  try {
    let id = m.experimentId
    if (!id) {
      const name = m.experimentName || 'Default'
      id = (await call('GET', `/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`)).experiment.experiment_id
    }
    const w = await recordWindow(file)
    if (!w) return { error: 'the recording has no event times' }
    // Roots start before their first recorded event at most by a turn's queueing; a minute either side is plenty.
    const filter = `trace.timestamp_ms >= ${w.lo - 60_000} AND trace.timestamp_ms <= ${w.hi + 60_000}`
    let found = 0
    let page
    do {
      const body = { locations: [{ type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: String(id) } }], filter, max_results: 500 }
      if (page) body.page_token = page
      const json = await call('POST', '/api/3.0/mlflow/traces/search', body)
      found += (json.traces || []).length
      page = json.next_page_token
    } while (page)
    return { experimentId: id, found, expected }
  } catch (e) {
    return { error: e.message }
  }
}

function need(cfg, exporter, flag) {
  if (!cfg.exporters[exporter]) throw new UsageError(`${flag} needs --exporter ${exporter}`)
  return cfg.exporters[exporter]
}

function checkExporters(list) {
  const exporters = [...new Set(list)]
  for (const e of exporters) {
    if (!KNOWN_EXPORTERS.includes(e)) throw new UsageError(`unknown exporter '${e}' (available: ${KNOWN_EXPORTERS.join(', ')})`)
  }
  return exporters
}

function checkReadable(file) {
  let st
  try {
    st = fs.statSync(file)
  } catch (e) {
    throw new Error(`cannot read ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`)
  }
  if (!st.isFile()) throw new Error(`cannot read ${file}: not a regular file`)
}

async function cmdReplay(args) {
  const file = args._[1]
  if (!file) throw new UsageError('replay needs a FILE')
  if (args._.length > 2) throw new UsageError(`unexpected argument ${args._[2]}`)
  const exporters = checkExporters(args.exporters)
  const timeoutMs = num(args.flags, 'timeout-ms', 120_000)
  const cfg = replayConfig(exporters, 'clawtrace-traces.jsonl', args.flags)
  if (args.flags.tree && !cfg.exporters.file) throw new UsageError('--tree reads the file exporter\'s output: add --exporter file')
  checkReadable(file)
  // A recording from an early-2026 host needs its runs rebuilt (legacyHost), as the plugin does live; a --config
  // that says either way wins.
  if (cfg.legacyHost === undefined && (await legacyRecording(file))) {
    cfg.legacyHost = true
    console.error('clawtrace: recorded from an OpenClaw without trusted diagnostic events or trace context: runs, ' +
      'model calls and tools are rebuilt from its agent events and hooks (legacyHost; "legacyHost": false in --config turns it off)')
  }
  const ct = loadAddon()
  // The file sink appends; a replay's output is this replay's traces only.
  if (cfg.exporters.file) fs.rmSync(cfg.exporters.file.path, { force: true })
  // Export problems, once per sink and kind (the addon de-duplicates); the summary below counts every span.
  ct.onError((r) => console.error(`clawtrace: ${r.sink} ${r.kind}: ${r.message}`))
  const t0 = process.hrtime.bigint()
  await ct.configure(cfg)
  // --timeout-ms is the wait for the export once the file is read (reading takes what the file takes). The shutdown
  // after a flush that gave up waits no further: the wait is given up once, not a second time.
  const sum = await ct.replay(path.resolve(file), timeoutMs)
  const ok = await ct.shutdown(sum.flushed ? timeoutMs : 0)
  const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6
  const st = ct.stats()
  const skipped = sumBy(st, 'skipped')
  const invalid = sumBy(st, 'invalid')
  const dropped = sumBy(st, 'dropped')
  console.log(
    `replayed ${sum.events} events (${sum.lines} lines) in ${(elapsedMs / 1000).toFixed(2)}s: ` +
      `${st.tracesCompleted + st.tracesIncomplete} traces, skipped ${skipped}, invalid ${invalid}` +
      (dropped ? `, dropped ${dropped}` : '') +
      (st.tracesSampledOut ? `, sampled out ${st.tracesSampledOut}` : '') +
      badLinesNote(sum),
  )
  let lostAny = 0
  let parkedAny = 0
  for (const [name, s] of Object.entries(st.sinks || {})) {
    const lost = s.spansRejected + s.spansFailed + s.spansDroppedQueueFull
    // Parked in the spool and not (yet) taken back: on disk, not at the backend.
    const parked = Math.max(0, s.spansSpooled - s.spansUnspooled)
    lostAny += lost
    parkedAny += parked
    console.log(
      `  ${name.padEnd(9)} ${s.tracesReceived} traces, ${s.spansExported + s.spansUnspooled} spans exported` +
        (lost ? `, ${s.spansRejected} rejected, ${s.spansFailed} failed, ${s.spansDroppedQueueFull} dropped` : '') +
        (parked ? `, ${parked} parked in the spool (not delivered)` : '') +
        (s.retries ? `, ${s.retries} retries` : '') +
        (name === 'file' ? ` → ${cfg.exporters.file.path}` : ''),
    )
  }
  let misplaced = 0
  const mlflowSink = (st.sinks || {}).mlflow
  if (mlflowSink && mlflowSink.spansExported + mlflowSink.spansUnspooled > 0) {
    const expected = replayedTraces(st)
    const c = await checkMlflow(cfg, file, expected)
    if (c.error) console.error(`clawtrace: could not check the MLflow experiment (${c.error})`)
    else if (c.found >= expected) console.log(`  mlflow    experiment ${c.experimentId} holds the ${expected} traces`)
    else {
      misplaced = expected - c.found
      console.error(
        `clawtrace: MLflow experiment ${c.experimentId} holds ${c.found} of the ${expected} traces replayed: MLflow keeps a ` +
          `trace in the experiment it was first sent to, and ${misplaced} of these ids are stored elsewhere already. ` +
          `Replay with --fresh-ids to copy them into this experiment.`,
      )
    }
  }
  if (args.flags['stats-json']) writeStatsJson(args.flags['stats-json'], ct, { replay: sum, elapsedMs })
  if (args.flags.tree) {
    const tree = require('./tree.js')
    const traces = await tree.readTraces(cfg.exporters.file.path)
    process.stdout.write('\n' + tree.renderTraces(traces))
  }
  if (lostAny) {
    console.error(`clawtrace: ${lostAny} spans were not delivered (see the counts above)`)
    return 1
  }
  if (misplaced) return 1
  if (parkedAny) {
    console.error(`clawtrace: ${parkedAny} spans wait in the spool (${cfg.spool.dir}); the next clawtrace with this spool delivers them`)
    return EXIT_PARKED
  }
  if (!sum.flushed || !ok) {
    console.error(`clawtrace: export did not finish within ${timeoutMs} ms`)
    return 1
  }
  return 0
}

/** Traces the replay exported (a turn's late spans travel as stragglers of the same trace, not as traces). */
function replayedTraces(st) {
  return st.tracesCompleted + st.tracesIncomplete - (st.tracesSampledOut || 0)
}

function corpusPath() {
  const candidates = [path.join(PKG_DIR, 'fixtures', CORPUS_NAME), path.join(PKG_DIR, 'crates', 'core', 'tests', 'fixtures', CORPUS_NAME)]
  const found = candidates.find((p) => fs.existsSync(p))
  if (!found) throw new Error(`bundled corpus ${CORPUS_NAME} not found (looked in ${candidates.join(', ')})`)
  return found
}

async function cmdDemo(args) {
  if (args._.length > 1) throw new UsageError(`unexpected argument ${args._[1]}`)
  const out = path.resolve(args.flags.out || 'clawtrace-demo.jsonl')
  const sessions = num(args.flags, 'sessions', 2000, { min: 1 })
  const events = num(args.flags, 'events', 200_000, { min: 0 })
  const seed = num(args.flags, 'seed', 7)
  const corpus = corpusPath()
  const ct = loadAddon()
  const { generate } = loadSynth()
  const tree = require('./tree.js')

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawtrace-demo-'))
  const synthFile = path.join(tmp, 'synthetic.jsonl')
  try {
    const t0 = process.hrtime.bigint()
    console.log(`clawtrace demo: real gateway corpus ${corpus}`)
    console.log(`                + synthetic load: ${sessions} concurrent sessions, ~${events} events (seed ${seed})`)
    const expected = events > 0 ? await generate({ out: synthFile, events, sessions, seed }) : null
    const tGen = process.hrtime.bigint()
    fs.rmSync(out, { force: true })
    await ct.configure(fileConfig(out, args.flags))
    const real = await ct.replay(corpus)
    const synth = expected ? await ct.replay(synthFile) : { events: 0, flushed: true }
    const ok = await ct.shutdown()
    const tEnd = process.hrtime.bigint()
    const st = ct.stats()

    const pick = (id, spans) => spans.some((s) => s.attributes['session.id'] === 'agent:main:e2e-tool' && s.name.startsWith('execute_tool'))
    const { summary, kept } = await tree.summarizeFile(out, pick)
    const replayMs = Number(tEnd - tGen) / 1e6
    const totalEvents = real.events + synth.events
    console.log('')
    console.log(`  events replayed   ${totalEvents.toLocaleString('en-US')} (${real.events} real + ${synth.events.toLocaleString('en-US')} synthetic)`)
    console.log(`  traces exported   ${st.tracesExported.toLocaleString('en-US')}  (${summary.errorTraces} with errors)`)
    console.log(`  spans             ${st.spansExported.toLocaleString('en-US')}  (${summary.errorSpans} error spans)`)
    console.log(`  tokens            ${summary.inputTokens.toLocaleString('en-US')} in / ${summary.outputTokens.toLocaleString('en-US')} out`)
    console.log(`  sessions          ${summary.sessions.size.toLocaleString('en-US')}`)
    console.log(
      `  elapsed           ${(replayMs / 1000).toFixed(2)}s replay (${Math.round(totalEvents / (replayMs / 1000)).toLocaleString('en-US')} events/s)` +
        `, ${(Number(tGen - t0) / 1e9).toFixed(2)}s generating`,
    )
    console.log(`  peak RSS          ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`)
    console.log(`  output            ${out}`)
    const first = kept.entries().next().value
    if (first) {
      console.log('\nA tool-call trace from the real corpus:\n')
      console.log(tree.renderTrace(first[0], first[1]).join('\n'))
    }
    if (args.flags['stats-json']) writeStatsJson(args.flags['stats-json'], ct, { replay: { real, synth }, expected, elapsedMs: replayMs })
    if (!real.flushed || !synth.flushed || !ok) {
      console.error('clawtrace: export did not finish in time')
      return 1
    }
    return 0
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

function loadSynth() {
  const p = path.join(PKG_DIR, 'bench', 'synth.js')
  if (!fs.existsSync(p)) throw new Error(`synthetic generator not found at ${p}`)
  return require(p)
}

async function main(argv) {
  let args
  try {
    args = parseArgs(argv)
  } catch (e) {
    console.error(`clawtrace: ${e.message}\n\nRun 'clawtrace --help' for usage.`)
    return 2
  }
  const cmd = args._[0]
  if (args.flags.help || cmd === 'help' || !cmd) {
    process.stdout.write(HELP)
    return cmd || args.flags.help ? 0 : 2
  }
  try {
    if (cmd === 'replay') return await cmdReplay(args)
    if (cmd === 'demo') return await cmdDemo(args)
    throw new UsageError(`unknown command '${cmd}'`)
  } catch (e) {
    const msg = e && e.message ? e.message : String(e)
    console.error(`clawtrace: ${msg}`)
    if (e instanceof UsageError) console.error(`\nRun 'clawtrace --help' for usage.`)
    return e instanceof UsageError ? 2 : 1
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code
})
