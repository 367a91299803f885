// Running a real OpenClaw gateway for end-to-end tests: install a pinned OpenClaw release and a Node runtime from
// npm into a cache directory (reused when present), write a config, start `openclaw gateway run` on loopback,
// talk to it (HTTP chat completions, WS RPC through the CLI), and stop the whole process tree.
//
// Everything that cannot be set up throws: a test using this must fail, never skip.
import { spawn, execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { randomUUID } from 'node:crypto';
import {
  existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, openSync, closeSync, statSync, cpSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';

// The one OTLP/JSON reader (bin/tree.js), shared with the CLI.
const tree = createRequire(import.meta.url)('../../bin/tree.js');

/** The releases the end-to-end suite runs against. */
export const TARGETS = Object.freeze({
  // Current: trusted diagnostic events with trace context (onInternalDiagnosticEvent).
  current: Object.freeze({ version: '2026.9.6', node: '26' }),
  // Early 2026: no trace context on any event and no run/model/tool diagnostic events at all; only the public
  // bus (message.queued/processed, session.state, lanes, model.usage) plus hooks. The newest release before trace
  // context appeared (2026.4.24) that installs from npm alone (2026.3.13 and older pull a git dependency).
  legacy: Object.freeze({ version: '2026.3.24', node: '22' }),
});

export const GATEWAY_TOKEN = 'clawtrace-e2e-token';

export function cacheRoot() {
  return process.env.CLAWTRACE_CACHE || join(homedir(), '.cache', 'clawtrace');
}

function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 64 << 20, ...opts }, (err, stdout, stderr) => {
      if (err) {
        err.message += ` (exit ${err.code ?? '-'}, signal ${err.signal ?? '-'}${err.killed ? ', killed' : ''})` +
          `\n--- stdout\n${String(stdout).slice(-4000)}\n--- stderr\n${String(stderr).slice(-4000)}`;
        reject(err);
      } else resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** An exclusive lock file next to the install, so two test processes never install into one directory. */
async function withLock(path, fn, timeoutMs = 15 * 60_000) {
  const t0 = Date.now();
  for (;;) {
    try {
      closeSync(openSync(path, 'wx'));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      // A lock older than the timeout belongs to a process that died mid-install.
      try {
        if (Date.now() - statSync(path).mtimeMs > timeoutMs) rmSync(path, { force: true });
      } catch {}
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for the install lock ${path}`);
      await sleep(1000);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}

function installed(dir, version, node) {
  try {
    const oc = JSON.parse(readFileSync(join(dir, 'node_modules', 'openclaw', 'package.json'), 'utf8'));
    const nodePkg = JSON.parse(readFileSync(join(dir, 'node_modules', `node-linux-${process.arch}`, 'package.json'), 'utf8'));
    return oc.version === version && String(nodePkg.version).split('.')[0] === String(node) &&
      existsSync(join(dir, 'node_modules', `node-linux-${process.arch}`, 'bin', 'node'));
  } catch {
    return false;
  }
}

/**
 * Installs `openclaw@version` and `node-linux-<arch>@node` into the cache (once) and returns where they are.
 * `npm install --ignore-scripts`: openclaw's preinstall runs under the installing Node and aborts on its engine
 * check, and no install script is needed for the gateway to run.
 */
export async function ensureOpenClaw({ version, node }, log = () => {}) {
  if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) {
    throw new Error(`the end-to-end test needs linux-x64 or linux-arm64 (this is ${process.platform}-${process.arch})`);
  }
  const root = cacheRoot();
  mkdirSync(root, { recursive: true });
  const dir = join(root, `openclaw-${version}-node${node}`);
  if (!installed(dir, version, node)) {
    await withLock(`${dir}.lock`, async () => {
      if (installed(dir, version, node)) return;
      // Leftovers of installs that died half-way (the lock is ours, so nobody else is installing here).
      const base = dir.split('/').pop();
      for (const name of readdirSync(root)) {
        if (name.startsWith(`${base}.partial-`)) rmSync(join(root, name), { recursive: true, force: true });
      }
      const tmp = `${dir}.partial-${process.pid}`;
      mkdirSync(tmp, { recursive: true });
      writeFileSync(join(tmp, 'package.json'), JSON.stringify({ name: 'clawtrace-e2e-openclaw', private: true }));
      const t0 = Date.now();
      log(`installing openclaw@${version} and node-linux-${process.arch}@${node} into ${dir}`);
      const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
      await run(npm, ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error',
        `node-linux-${process.arch}@${node}`, `openclaw@${version}`], { cwd: tmp, timeout: 15 * 60_000 });
      if (!installed(tmp, version, node)) throw new Error(`npm install into ${tmp} did not produce openclaw@${version} with Node ${node}`);
      rmSync(dir, { recursive: true, force: true });
      renameSync(tmp, dir);
      log(`installed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });
  }
  const nodeBin = join(dir, 'node_modules', `node-linux-${process.arch}`, 'bin', 'node');
  const entry = join(dir, 'node_modules', 'openclaw', 'openclaw.mjs');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: a broken install in ${dir}? Delete it and rerun.`);
  return { dir, version, node, nodeBin, entry };
}

/** A TCP port free on loopback right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Every live process whose environment carries `marker` (our own children, also after they were re-parented). */
function processesWithMarker(marker) {
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, 'latin1');
      if (env.includes(marker)) pids.push(Number(name));
    } catch {}
  }
  return pids;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    // A zombie still answers signal 0; treat it as gone.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}

/**
 * The gateway config for a test. `workDir` holds the state directory, the workspace and the log.
 */
/** The plugin as `plugins.load.paths` should see it: the files the package ships to run (no target/, no
 *  node_modules/). OpenClaw copies a load path's whole directory on every register(), three times per process, and a
 *  checkout with a multi-gigabyte target/ made the gateway miss its start deadline. */
export function stagePlugin(root, dest) {
  mkdirSync(dest, { recursive: true });
  for (const f of ['package.json', 'openclaw.plugin.json', 'index.js', 'index.d.ts', 'config.d.ts', 'plugin']) {
    cpSync(join(root, f), join(dest, f), { recursive: true });
  }
  for (const f of readdirSync(root).filter((n) => n.endsWith('.node'))) cpSync(join(root, f), join(dest, f));
  return dest;
}

export function gatewayConfig({ port, workDir, providerUrl, pluginPaths = [], pluginEntries = {}, extra = {} }) {
  const cfg = {
    gateway: {
      mode: 'local', port, bind: 'loopback',
      auth: { mode: 'token', token: GATEWAY_TOKEN },
      http: { endpoints: { chatCompletions: { enabled: true } } },
    },
    diagnostics: { enabled: true },
    logging: { file: join(workDir, 'openclaw.log') },
    cron: { enabled: false },
    models: {
      mode: 'merge',
      providers: {
        fake: {
          baseUrl: providerUrl, apiKey: 'fake-local', api: 'openai-completions',
          models: [{
            id: 'fake-model', name: 'Fake Model', reasoning: false, input: ['text'],
            cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 }, contextWindow: 128000, maxTokens: 4096,
          }],
        },
      },
    },
    agents: { defaults: { model: { primary: 'fake/fake-model' }, workspace: join(workDir, 'workspace') } },
    plugins: { load: { paths: pluginPaths }, entries: pluginEntries },
  };
  return deepMerge(cfg, extra);
}

function deepMerge(a, b) {
  if (!b || typeof b !== 'object' || Array.isArray(b)) return b === undefined ? a : b;
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && a?.[k] && typeof a[k] === 'object' ? deepMerge(a[k], v) : v;
  }
  return out;
}

/**
 * Starts `openclaw gateway run` and waits until it is ready. Returns a handle; always call `stop()` (or `kill()`).
 * `prepare({cli, stateDir, configPath})` runs after the config is written and before the gateway starts (e.g. to
 * `openclaw plugins install` something into the state directory).
 */
export async function startGateway({
  install, workDir, providerUrl, pluginPaths, pluginEntries, extraConfig, env = {}, providerMaxRetries = 1,
  readyTimeoutMs = 120_000, log = () => {}, prepare,
}) {
  const port = await freePort();
  const home = join(workDir, 'home');
  const stateDir = join(home, '.openclaw');
  const configPath = join(stateDir, 'openclaw.json');
  mkdirSync(join(workDir, 'workspace'), { recursive: true });
  mkdirSync(join(workDir, 'tmp'), { recursive: true });
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(join(workDir, 'workspace', 'hello.txt'), 'hello from the e2e workspace\n');
  const config = gatewayConfig({ port, workDir, providerUrl, pluginPaths, pluginEntries, extra: extraConfig });
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  // Provider retries are capped here, not in openclaw.json (`null`: OpenClaw's defaults).
  if (providerMaxRetries != null) {
    const settingsDir = join(stateDir, 'agents', 'main', 'agent');
    mkdirSync(settingsDir, { recursive: true });
    writeFileSync(join(settingsDir, 'settings.json'), JSON.stringify({ retry: { provider: { maxRetries: providerMaxRetries } } }, null, 2));
  }

  const marker = `CLAWTRACE_E2E_RUN=${randomUUID()}`;
  const childEnv = {
    ...process.env,
    PATH: `${dirname(install.nodeBin)}:${join(install.dir, 'node_modules', '.bin')}:${process.env.PATH}`,
    HOME: home,
    OPENCLAW_STATE_DIR: stateDir,
    OPENCLAW_CONFIG_PATH: configPath,
    DO_NOT_TRACK: '1',
    OPENCLAW_DISABLE_BONJOUR: '1',
    // OpenClaw's temporary files and locks stay in the work directory.
    TMPDIR: join(workDir, 'tmp'),
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    CLAWTRACE_E2E_RUN: marker.split('=')[1],
    ...env,
  };
  // The test's own exporter variables must not leak into the gateway unless asked for.
  for (const k of Object.keys(childEnv)) {
    if (/^(OTEL_EXPORTER_OTLP_|MLFLOW_|LANGFUSE_|CLAWTRACE_FILE$)/.test(k) && !(k in env)) delete childEnv[k];
  }
  /** The openclaw CLI with this gateway's environment (before and while it runs). */
  const cli = (args, { timeoutMs = 180_000 } = {}) =>
    run(install.nodeBin, [install.entry, ...args], { cwd: workDir, env: childEnv, timeout: timeoutMs });
  if (prepare) await prepare({ cli, stateDir, configPath });
  const logFile = join(workDir, 'openclaw.log');
  let output = '';
  const child = spawn(install.nodeBin, [install.entry, 'gateway', 'run', '--port', String(port)], {
    cwd: workDir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  let exited = null;
  const exitPromise = new Promise((resolve) => child.on('exit', (code, signal) => resolve((exited = { code, signal }))));

  const gw = {
    port, workDir, stateDir, configPath, config, install, marker, child, logFile,
    url: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}`,
    output: () => output,
    cli,
    fileLog: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    exited: () => exited,
    /** Everything worth printing when a test fails. */
    diagnostics() {
      const tail = (s, n = 12000) => (s.length > n ? `…${s.slice(-n)}` : s);
      return `--- gateway console (${install.version})\n${tail(output)}\n--- gateway file log\n${tail(gw.fileLog())}`;
    },
    /** POST /v1/chat/completions (non-streaming); `user` routes to session agent:main:openai-user:<user>. */
    async chatCompletion({ user, content, timeoutMs = 120_000 }) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${GATEWAY_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'openclaw', user, messages: [{ role: 'user', content }] }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      return { status: res.status, body };
    },
    /** A gateway WS RPC through the CLI (`openclaw gateway call`). */
    async call(method, params, { timeoutMs = 60_000 } = {}) {
      const { stdout } = await run(install.nodeBin, [
        install.entry, 'gateway', 'call', method, '--url', gw.ws, '--token', GATEWAY_TOKEN, '--json',
        '--timeout', String(timeoutMs), '--params', JSON.stringify(params),
      ], { cwd: workDir, env: childEnv, timeout: timeoutMs + 30_000 });
      const start = stdout.indexOf('{');
      if (start < 0) throw new Error(`gateway call ${method}: no JSON in output: ${stdout.slice(-2000)}`);
      return JSON.parse(stdout.slice(start));
    },
    /** Sends a message to a session over `chat.send` and waits for its run to end (`agent.wait`). */
    async chatSend({ sessionKey, message, idempotencyKey = randomUUID(), wait = true, timeoutMs = 180_000 }) {
      const sent = await gw.call('chat.send', { sessionKey, message, idempotencyKey });
      if (!wait) return { sent };
      const waited = await gw.call('agent.wait', { runId: idempotencyKey, timeoutMs }, { timeoutMs: timeoutMs + 10_000 });
      return { sent, waited };
    },
    /** SIGTERM, wait for the gateway to exit, then make sure nothing of its process tree is left. */
    async stop({ timeoutMs = 60_000 } = {}) {
      if (!exited) {
        try {
          process.kill(child.pid, 'SIGTERM');
        } catch {}
        await Promise.race([exitPromise, sleep(timeoutMs)]);
      }
      const cleanExit = exited;
      await gw.kill();
      return cleanExit;
    },
    /** SIGKILL for everything this gateway started (process group and marked processes). */
    async kill() {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      for (let i = 0; i < 20; i++) {
        const left = processesWithMarker(marker).filter(alive);
        if (left.length === 0) break;
        for (const pid of left) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {}
        }
        await sleep(100);
      }
      await Promise.race([exitPromise, sleep(5000)]);
    },
  };

  const t0 = Date.now();
  try {
    for (;;) {
      if (exited) throw new Error(`the gateway exited during startup (${JSON.stringify(exited)})`);
      if (/gateway ready|\[gateway\] ready|listening on ws/i.test(gw.fileLog()) || /\[gateway\] ready|listening on ws/i.test(output)) {
        if (await httpUp(gw.url)) break;
      }
      if (Date.now() - t0 > readyTimeoutMs) throw new Error(`the gateway was not ready after ${readyTimeoutMs} ms`);
      await sleep(250);
    }
  } catch (err) {
    const diag = gw.diagnostics();
    await gw.kill();
    err.message += `\n${diag}`;
    throw err;
  }
  gw.readyMs = Date.now() - t0;
  log(`gateway ${install.version} ready on ${gw.url} in ${gw.readyMs} ms`);
  return gw;
}

async function httpUp(url) {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  }
}

// ---- traces: reading the file sink and checking turn traces -----------------------------------------------------
//
// The checks work on a backend-neutral shape so the same function can run over traces read back from any sink
// (the OTLP file here; MLflow or Langfuse through their APIs, converted to this shape):
//
//   { traceId, spans: [{ spanId, parentSpanId|null, name, status: {code: 0|1|2, message}, attrs: {k: v},
//                        startMs, endMs, links: [{traceId, spanId, attrs}] }] }
//
// with ids as lowercase hex and attribute values as plain JS values.

/** Every trace in an OTLP/JSON lines file (one ExportTraceServiceRequest per line), in the checks' shape. */
export function readOtlpTraces(path) {
  if (!existsSync(path)) return [];
  const traces = tree.parseOtlpJsonLines(readFileSync(path, 'utf8'));
  return [...traces].map(([traceId, spans]) => ({
    traceId,
    spans: spans.map((s) => ({
      spanId: s.spanId,
      parentSpanId: s.parentSpanId || null,
      name: s.name,
      status: { code: Number(s.status.code ?? 0), message: s.status.message ?? '' },
      attrs: s.attributes,
      startMs: Number(s.start / 1000n) / 1000,
      endMs: Number(s.end / 1000n) / 1000,
      links: s.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId, attrs: l.attributes })),
    })),
  }));
}

const ERROR = 2;

/**
 * Checks the traces of the turns a test sent. `turns`: `[{sessionKey, scenario, traces?, followups?}]` with
 * scenario `plain` | `tool` | `fail` | `busy` (a turn that had follow-ups queued behind it; `traces` = 1 + the
 * follow-ups, which OpenClaw either injects into the active run — `followups: 'injected'`, traces without a run of
 * their own linked to it — or runs after it — `followups: 'runs'`, each a plain turn); `traces` is how many
 * traces the session must have (default 1).
 * `mode`: `context` (OpenClaw's trace context) or `correlation` (early-2026 hosts: model calls rebuilt from the
 * agent loop, whose edges may overlap a tool's by the few milliseconds between a hook and the tool's own timing). `links: false` for a backend that does not keep span links.
 * Returns a list of problems (empty = all good) and a summary.
 */
export function checkTurnTraces(allTraces, turns, { mode = 'context', usage = { input: 123, output: 7 }, model = 'fake-model', links = true } = {}) {
  const problems = [];
  const fail = (sk, msg) => problems.push(`${sk}: ${msg}`);
  const sessionOf = (t) => t.spans.find((s) => s.attrs['session.id'])?.attrs['session.id'];
  const bySession = new Map();
  for (const t of allTraces) {
    const sk = sessionOf(t);
    if (!bySession.has(sk)) bySession.set(sk, []);
    bySession.get(sk).push(t);
  }
  const expected = new Map();
  for (const turn of turns) expected.set(turn.sessionKey, (expected.get(turn.sessionKey) ?? 0) + (turn.traces ?? 1));
  const summary = { traces: 0, spans: 0, sessions: expected.size };

  for (const [sk, n] of expected) {
    const got = bySession.get(sk) ?? [];
    if (got.length !== n) fail(sk, `expected ${n} trace(s), found ${got.length}`);
  }
  // A trace of a session no turn was sent to is a split or stray trace: a problem, not noise.
  for (const [sk, ts] of bySession) {
    if (!expected.has(sk)) fail(sk, `unexpected trace(s) ${ts.map((t) => t.traceId).join(', ')} (${ts.map((t) => t.spans.map((s) => s.name).join('/')).join('; ')})`);
  }

  for (const turn of turns) {
    const sk = turn.sessionKey;
    const traces = bySession.get(sk) ?? [];
    for (const t of traces) {
      summary.traces += 1;
      summary.spans += t.spans.length;
    }
    for (const t of traces) {
      const byId = new Map(t.spans.map((s) => [s.spanId, s]));
      const roots = t.spans.filter((s) => !s.parentSpanId);
      if (roots.length !== 1) fail(sk, `trace ${t.traceId}: ${roots.length} root spans`);
      for (const s of t.spans) {
        if (s.parentSpanId && !byId.has(s.parentSpanId)) fail(sk, `span ${s.name} ${s.spanId}: parent ${s.parentSpanId} not in the trace`);
        if (s.attrs['session.id'] !== sk) fail(sk, `span ${s.name}: session.id ${s.attrs['session.id']}`);
        if (s.attrs['gen_ai.conversation.id'] !== sk) fail(sk, `span ${s.name}: gen_ai.conversation.id ${s.attrs['gen_ai.conversation.id']}`);
        if (!(s.endMs >= s.startMs)) fail(sk, `span ${s.name}: ends before it starts`);
      }
      const root = roots[0];
      if (!root) continue;
      if (root.name !== 'invoke_agent main') fail(sk, `root named ${root.name}`);
      if (root.attrs['gen_ai.operation.name'] !== 'invoke_agent') fail(sk, 'root gen_ai.operation.name');
      const user = /:openai-user:(.+)$/.exec(sk)?.[1];
      if (user && root.attrs['user.id'] !== user) fail(sk, `user.id ${root.attrs['user.id']}, expected ${user}`);
      if (root.attrs['openclaw.incomplete']) fail(sk, 'root marked incomplete');
    }
    const runTraces = traces
      .filter((t) => t.spans.some((s) => s.name === 'openclaw.harness.run' || s.name === 'openclaw.run'))
      .sort((a, b) => Math.min(...a.spans.map((s) => s.startMs)) - Math.min(...b.spans.map((s) => s.startMs)));
    // Follow-ups that became runs of their own (early-2026 hosts): each is a turn like a plain one.
    const runsExpected = turn.scenario === 'busy' && turn.followups === 'runs' ? turn.traces ?? 1 : 1;
    if (runTraces.length !== runsExpected) {
      fail(sk, `${runTraces.length} traces with a run, expected ${runsExpected}`);
      continue;
    }
    for (const t of runTraces) checkRunTrace(turn, t, t === runTraces[0] ? turn.scenario : 'plain', traces);
  }

  function checkRunTrace(turn, t, scenario, traces) {
    const sk = turn.sessionKey;
    const byId = new Map(t.spans.map((s) => [s.spanId, s]));
    const parent = (s) => byId.get(s.parentSpanId);
    const root = t.spans.find((s) => !s.parentSpanId);
    const attempts = t.spans.filter((s) => s.name === 'openclaw.harness.run');
    const runs = t.spans.filter((s) => s.name === 'openclaw.run');
    const chats = t.spans.filter((s) => s.name === `chat ${model}`);
    const tools = t.spans.filter((s) => s.name.startsWith('execute_tool '));
    if (attempts.length < 1) fail(sk, 'no openclaw.harness.run span');
    for (const a of attempts) if (parent(a) !== root) fail(sk, `harness.run under ${parent(a)?.name}, not the root`);
    if (runs.length !== attempts.length) fail(sk, `${runs.length} run spans for ${attempts.length} attempts`);
    for (const r of runs) if (parent(r)?.name !== 'openclaw.harness.run') fail(sk, `run under ${parent(r)?.name}`);
    if (chats.length < 1) fail(sk, `no chat ${model} span`);
    for (const c of chats) {
      const p = parent(c)?.name;
      if (p !== 'openclaw.run') fail(sk, `chat span under ${p}`);
      if (c.attrs['gen_ai.operation.name'] !== 'chat') fail(sk, 'chat span gen_ai.operation.name');
      if (c.attrs['gen_ai.request.model'] !== model) fail(sk, `chat span model ${c.attrs['gen_ai.request.model']}`);
    }
    for (const x of tools) if (parent(x)?.name !== 'openclaw.run') fail(sk, `tool span under ${parent(x)?.name}`);

    const calls = chats.filter((c) => c.status.code !== ERROR).length;
    const inTok = root.attrs['openclaw.usage.total.input_tokens'];
    const outTok = root.attrs['openclaw.usage.total.output_tokens'];
    switch (scenario) {
      case 'plain':
      case 'busy':
        if (tools.length) fail(sk, `unexpected tool spans ${tools.map((x) => x.name)}`);
        if (root.status.code === ERROR) fail(sk, `root is an error: ${root.status.message}`);
        if (t.spans.some((s) => s.status.code === ERROR)) fail(sk, 'error spans in a successful turn');
        if (scenario === 'plain' && chats.length !== 1) fail(sk, `${chats.length} chat spans`);
        if (inTok !== usage.input * calls || outTok !== usage.output * calls) fail(sk, `usage ${inTok}/${outTok}, expected ${usage.input * calls}/${usage.output * calls}`);
        break;
      case 'tool': {
        if (tools.length !== 1 || tools[0].name !== 'execute_tool read') fail(sk, `tool spans ${tools.map((x) => x.name)}`);
        if (tools[0] && tools[0].attrs['gen_ai.tool.name'] !== 'read') fail(sk, 'gen_ai.tool.name');
        if (root.status.code === ERROR || t.spans.some((s) => s.status.code === ERROR)) fail(sk, 'error in the tool turn');
        if (chats.length !== 2) fail(sk, `${chats.length} chat spans, expected 2 (call, tool result)`);
        if (tools[0] && chats.length === 2) {
          const [first, second] = [...chats].sort((a, b) => a.startMs - b.startMs);
          const inOrder = mode === 'context'
            ? first.endMs <= tools[0].startMs + 1 && tools[0].endMs <= second.startMs + 1
            : first.startMs <= tools[0].startMs && tools[0].startMs <= second.startMs && first.endMs <= second.startMs;
          if (!inOrder) fail(sk, 'model call → tool → model call order');
        }
        if (inTok !== usage.input * 2 || outTok !== usage.output * 2) fail(sk, `usage ${inTok}/${outTok}, expected ${usage.input * 2}/${usage.output * 2}`);
        break;
      }
      case 'fail':
        if (root.status.code !== ERROR) fail(sk, 'root of the failed turn is not an error');
        if (!attempts.every((a) => a.status.code === ERROR)) fail(sk, 'an attempt of the failed turn is not an error');
        if (!chats.some((c) => c.status.code === ERROR)) fail(sk, 'no failed model call span');
        if (outTok) fail(sk, `output tokens ${outTok} on a turn without a reply`);
        break;
      default:
        fail(sk, `unknown scenario ${scenario}`);
    }

    if (scenario === 'busy' && turn.followups !== 'runs') {
      // Follow-ups injected into the active run: traces of their own without a run, linked to the run's trace.
      const followups = traces.filter((x) => x !== t);
      for (const f of followups) {
        const froot = f.spans.find((s) => !s.parentSpanId);
        if (!froot) continue;
        if (f.spans.length !== 1) fail(sk, `follow-up trace ${f.traceId} has ${f.spans.length} spans`);
        if (froot.attrs['openclaw.reason'] !== 'active_run_injected') fail(sk, `follow-up reason ${froot.attrs['openclaw.reason']}`);
        if (links && !froot.links.some((l) => l.traceId === t.traceId)) {
          fail(sk, `follow-up trace ${f.traceId} does not link to the active run's trace ${t.traceId}`);
        }
      }
    }
  }
  return { problems, summary };
}
