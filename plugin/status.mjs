// `openclaw clawtrace status`: what clawtrace does in the running gateway, asked from the OpenClaw CLI.
//
// The gateway side answers the gateway method `clawtrace.status` with a snapshot (the sinks as configured, with
// credentials masked; the addon's counters per sink; the latest error of each sink; whether content capture is
// really on). The CLI side calls that method over the gateway's own RPC (the SDK's `callGatewayFromCli`, so the
// usual `--url/--token` options work), and prints it next to what the local configuration says. `--test` sends one
// synthetic trace to every configured sink from the CLI process and says where to look for it.
import { randomBytes } from 'node:crypto';
import { effectiveConfig, envSet, resolveStateDir } from './config.mjs';
import { hookPolicy, hostVersion, loadSdk } from './host.mjs';

export const STATUS_METHOD = 'clawtrace.status';
const TEST_SESSION = 'agent:main:clawtrace-status-test';
/** Also in openclaw.plugin.json's `cliCommands` (a test checks they agree). */
export const CLI_DESCRIPTION = 'clawtrace tracing: status of the running gateway and a test trace';

/** A URL for display: without userinfo, query string and fragment, where credentials travel. */
export function safeUrl(u, unset) {
  if (u == null) return unset;
  try {
    const url = new URL(String(u));
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    return url.toString();
  } catch {
    return '(configured)';
  }
}

/**
 * The sinks a configuration selects, each with where its traces go (no credential): the exporters configured,
 * else those the environment's keys choose, else the default file. Mirrors the addon's rule (docs/ARCHITECTURE.md,
 * "Sinks"); the addon's own per-sink counters say which really ran.
 */
export function sinkTargets(cfg, env = process.env) {
  const e = cfg?.exporters ?? {};
  const out = [];
  if (e.file?.path) out.push({ sink: 'file', target: String(e.file.path) });
  if (e.otlp) out.push({ sink: 'otlp', target: safeUrl(e.otlp.tracesEndpoint ?? e.otlp.endpoint ?? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT, '(from OTEL_EXPORTER_OTLP_*)') });
  if (e.mlflow) {
    const exp = e.mlflow.experimentName ?? e.mlflow.experimentId ?? env.MLFLOW_EXPERIMENT_NAME ?? env.MLFLOW_EXPERIMENT_ID;
    out.push({ sink: 'mlflow', target: safeUrl(e.mlflow.trackingUri ?? env.MLFLOW_TRACKING_URI, '(from MLFLOW_TRACKING_URI)') + (exp ? `, experiment ${exp}` : '') });
  }
  if (e.langfuse) out.push({ sink: 'langfuse', target: safeUrl(e.langfuse.baseUrl ?? env.LANGFUSE_BASE_URL ?? env.LANGFUSE_HOST, '(from LANGFUSE_BASE_URL)') });
  if (out.length) return { sinks: out, from: 'configuration' };
  if (envSet(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') || envSet(env, 'OTEL_EXPORTER_OTLP_ENDPOINT')) {
    out.push({ sink: 'otlp', target: safeUrl(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT) });
  }
  if (envSet(env, 'MLFLOW_TRACKING_URI')) out.push({ sink: 'mlflow', target: safeUrl(env.MLFLOW_TRACKING_URI) });
  if (envSet(env, 'LANGFUSE_PUBLIC_KEY') && envSet(env, 'LANGFUSE_SECRET_KEY')) {
    out.push({ sink: 'langfuse', target: safeUrl(env.LANGFUSE_BASE_URL ?? env.LANGFUSE_HOST ?? 'https://cloud.langfuse.com') });
  }
  if (out.length) return { sinks: out, from: 'environment' };
  const file = envSet(env, 'CLAWTRACE_FILE') ? env.CLAWTRACE_FILE.trim() : cfg?.defaultFile;
  return { sinks: [{ sink: 'file', target: String(file) }], from: 'default' };
}

/**
 * Whether prompts and replies are captured, and why not when they were asked for: OpenClaw ≥ 2026.4.23 gives a
 * non-bundled plugin its conversation hooks only with `plugins.entries.clawtrace.hooks.allowConversationAccess`.
 */
export function captureState(pluginConfig, policy) {
  const requested = pluginConfig?.captureContent === true;
  const hooks = policy.conversationAllowed;
  let note = null;
  if (requested && !hooks) {
    note = 'captureContent is on but OpenClaw withholds the conversation hooks (llm_input, llm_output, agent_end): ' +
      'set plugins.entries.clawtrace.hooks.allowConversationAccess=true; until then only agent-event text is captured.';
  }
  return { requested, conversationHooks: hooks, effective: requested && hooks ? 'full' : requested ? 'partial' : 'off', note };
}

/** The gateway side: the snapshot `clawtrace.status` answers with (nothing secret: URLs masked, errors scrubbed). */
export function gatewaySnapshot({ binding, cfg, api, active, info }) {
  let stats = null;
  try {
    stats = binding?.stats?.() ?? null;
  } catch {}
  return {
    pid: process.pid,
    openclaw: hostVersion(api),
    active: !!active,
    ...info,
    sinks: sinkTargets(cfg),
    defaultFile: cfg?.defaultFile ?? null,
    capture: captureState(api?.pluginConfig, hookPolicy(api, 'clawtrace')),
    stats: stats && {
      eventsReceived: stats.eventsReceived,
      droppedQueueFull: stats.droppedQueueFull,
      tracesCompleted: stats.tracesCompleted,
      spansExported: stats.spansExported,
      spansFailedExport: stats.spansFailedExport,
      spansSpooled: stats.spansSpooled,
      queueLength: stats.queueLength,
      sinks: stats.sinks,
      lastErrors: stats.lastErrors,
    },
  };
}

/** Registers `clawtrace.status` on the gateway, where the host offers gateway methods (read scope). */
export function registerStatusMethod(api, snapshot) {
  if (typeof api?.registerGatewayMethod !== 'function') return false;
  try {
    api.registerGatewayMethod(STATUS_METHOD, ({ respond }) => {
      try {
        respond(true, snapshot());
      } catch (err) {
        respond(false, undefined, { code: 'UNAVAILABLE', message: `clawtrace status failed: ${err?.message ?? err}` });
      }
    }, { scope: 'operator.read' });
    return true;
  } catch {
    return false;
  }
}

// ---- the CLI side -------------------------------------------------------------------------------------------------

/** What the local configuration says (no gateway needed). */
function localView(config, env) {
  const entry = config?.plugins?.entries?.clawtrace ?? {};
  const api = { config, pluginConfig: entry.config };
  const stateDir = resolveStateDir(null, env);
  const cfg = effectiveConfig(entry.config, { stateDir });
  return {
    enabled: entry.enabled !== false,
    stateDir,
    cfg,
    sinks: sinkTargets(cfg, env),
    capture: captureState(entry.config, hookPolicy(api, 'clawtrace')),
  };
}

/** Asks the running gateway; `{error}` when there is none or it does not answer. */
async function askGateway(opts) {
  const sdk = loadSdk('openclaw/plugin-sdk/gateway-runtime');
  if (typeof sdk?.callGatewayFromCli !== 'function') return { error: 'this OpenClaw has no gateway RPC for plugins' };
  try {
    const rpc = { url: opts.url, port: opts.port, token: opts.token, password: opts.password, timeout: opts.timeout ?? '10000', json: true };
    const res = await sdk.callGatewayFromCli(STATUS_METHOD, rpc, {}, { scopes: ['operator.read'] });
    return { snapshot: res?.payload ?? res };
  } catch (err) {
    return { error: String(err?.message ?? err).split('\n')[0] };
  }
}

/** One synthetic turn (message → harness run → model call → usage), recorded into this process's addon. */
function recordSyntheticTurn(b) {
  const traceId = randomBytes(16).toString('hex');
  const span = () => randomBytes(8).toString('hex');
  const root = span();
  const harness = span();
  const call = span();
  const runId = `clawtrace-status-${traceId.slice(0, 8)}`;
  const base = { sessionKey: TEST_SESSION, channel: 'clawtrace', provider: 'clawtrace', model: 'status-test' };
  const t0 = Date.now();
  const rootCtx = { traceId, spanId: root, traceFlags: '01' };
  const runCtx = { traceId, spanId: harness, parentSpanId: root, traceFlags: '01' };
  const callCtx = { traceId, spanId: call, parentSpanId: harness, traceFlags: '01' };
  const events = [
    { type: 'message.received', messageId: runId, ...base, trace: rootCtx },
    { type: 'harness.run.started', runId, ...base, trace: runCtx },
    { type: 'model.call.started', runId, callId: `${runId}:model:1`, ...base, trace: callCtx },
    { type: 'model.call.completed', runId, callId: `${runId}:model:1`, ...base, durationMs: 2, trace: callCtx },
    { type: 'harness.run.completed', runId, ...base, outcome: 'completed', durationMs: 4, trace: runCtx },
    { type: 'model.usage', ...base, usage: { input: 1, output: 1, total: 2 }, trace: { traceId, spanId: span(), parentSpanId: harness, traceFlags: '01' } },
    { type: 'message.processed', messageId: runId, ...base, outcome: 'completed', durationMs: 6, trace: rootCtx },
  ];
  events.forEach((e, i) => b.recordDiagnostic({ ...e, ts: t0 + i }, { trusted: true }));
  return traceId;
}

/** `--test`: the synthetic trace through every sink the configuration selects, then each sink's count. */
async function sendTestTrace(b, view) {
  await b.configure(view.cfg);
  const before = b.stats().sinks ?? {};
  const traceId = recordSyntheticTurn(b);
  const delivered = await b.shutdown(15_000);
  const after = b.stats();
  const sinks = Object.entries(after.sinks ?? {}).map(([name, s]) => ({
    sink: name,
    spansExported: s.spansExported - (before[name]?.spansExported ?? 0),
    spansFailed: s.spansFailed - (before[name]?.spansFailed ?? 0),
    spansSpooled: s.spansSpooled - (before[name]?.spansSpooled ?? 0),
    lastError: after.lastErrors?.[name] ?? null,
  }));
  return { traceId, delivered, sinks };
}

function formatCounts(s) {
  if (!s) return 'no counters';
  return `exported ${s.spansExported ?? 0} spans (${s.tracesReceived ?? 0} traces), failed ${s.spansFailed ?? 0}, ` +
    `spooled ${s.spansSpooled ?? 0}, dropped ${s.spansDroppedQueueFull ?? 0}, lost at shutdown ${s.spansLostShutdown ?? 0}`;
}

function printReport({ local, gateway, test }, out) {
  const lines = [];
  lines.push(`clawtrace ${local.enabled ? 'is enabled' : 'is DISABLED'} (plugins.entries.clawtrace); state directory ${local.stateDir}`);
  lines.push(`sinks (${local.sinks.from}):`);
  for (const s of local.sinks.sinks) lines.push(`  ${s.sink.padEnd(9)}${s.target}`);
  lines.push(`default file: ${local.cfg.defaultFile}`);
  lines.push(`content capture: ${local.capture.effective}${local.capture.note ? `\n  ${local.capture.note}` : ''}`);
  if (gateway.error) {
    lines.push(`running gateway: not reachable (${gateway.error})`);
  } else {
    const g = gateway.snapshot ?? {};
    lines.push(`running gateway: pid ${g.pid}, OpenClaw ${g.openclaw ?? '?'}, tracing ${g.active ? 'active' : 'inactive'}`);
    const st = g.stats ?? {};
    lines.push(`  events received ${st.eventsReceived ?? 0}, traces completed ${st.tracesCompleted ?? 0}, queue ${st.queueLength ?? 0}, dropped on a full queue ${st.droppedQueueFull ?? 0}`);
    for (const [name, s] of Object.entries(st.sinks ?? {})) {
      lines.push(`  ${name.padEnd(9)}${formatCounts(s)}`);
      const e = st.lastErrors?.[name];
      if (e) lines.push(`           last error (${e.kind}, ${new Date(e.atMs).toISOString()}): ${e.message}`);
    }
    if (g.capture?.note && !local.capture.note) lines.push(`  ${g.capture.note}`);
  }
  if (test) {
    lines.push(`test trace ${test.traceId} (session ${TEST_SESSION}): ${test.delivered ? 'delivered' : 'NOT delivered'}`);
    for (const s of test.sinks) {
      const where = local.sinks.sinks.find((x) => x.sink === s.sink)?.target ?? '';
      lines.push(`  ${s.sink.padEnd(9)}${s.spansExported} spans exported, ${s.spansFailed} failed, ${s.spansSpooled} spooled${where ? ` → ${where}` : ''}`);
      if (s.lastError) lines.push(`           ${s.lastError.kind}: ${s.lastError.message}`);
    }
  }
  out(lines.join('\n'));
}

/** The `status` action: exit status 0, or 1 when `--test` did not deliver everywhere. */
export async function runStatus(opts, { config, binding, env = process.env, out = (s) => process.stdout.write(`${s}\n`) }) {
  const local = localView(config, env);
  const gateway = opts.local ? { error: 'not asked (--local)' } : await askGateway(opts);
  let test = null;
  if (opts.test) {
    const b = binding();
    test = b ? await sendTestTrace(b, local) : { traceId: null, delivered: false, sinks: [], error: 'the native addon did not load' };
  }
  const report = { local: { ...local, cfg: undefined, defaultFile: local.cfg.defaultFile }, gateway, test };
  if (opts.json) out(JSON.stringify(report, null, 2));
  else printReport({ local, gateway, test }, out);
  return test && !test.delivered ? 1 : 0;
}

/** Registers `openclaw clawtrace status` (lazy: the CLI builds the command only when it is asked for). */
export function registerStatusCli(api, binding) {
  if (typeof api?.registerCli !== 'function') return false;
  try {
    // Synchronous to the end: hosts before 2026.9 do not wait for a registrar's promise before parsing argv.
    api.registerCli(({ program, config }) => {
      const root = program.command('clawtrace').description('clawtrace tracing: sinks, counters and a test trace');
      let status = root
        .command('status')
        .description('what clawtrace does in the running gateway: sinks, exported/failed/spooled/dropped counts, last errors')
        .option('--json', 'print the report as JSON')
        .option('--test', 'send one synthetic trace to every configured sink and say where to look')
        .option('--local', 'do not ask the running gateway');
      const sdk = loadSdk('openclaw/plugin-sdk/gateway-runtime');
      if (typeof sdk?.addGatewayClientOptions === 'function') status = sdk.addGatewayClientOptions(status, { timeoutMs: 10_000 });
      else {
        // A host without the gateway RPC for plugins still accepts the same command line (the report says why
        // it shows the local view only).
        status = status.option('--url <url>', 'gateway WebSocket URL').option('--port <port>', 'local gateway port')
          .option('--token <token>', 'gateway token').option('--password <password>', 'gateway password').option('--timeout <ms>', 'timeout in ms');
      }
      status.action(async (opts) => {
        process.exitCode = await runStatus(opts, { config: config ?? api.config, binding });
      });
      // `commands` for hosts before descriptors (2026.3); the manifest's `cliCommands` says the same for 2026.9.
    }, { commands: ['clawtrace'], descriptors: [{ name: 'clawtrace', description: CLI_DESCRIPTION, hasSubcommands: true }] });
    return true;
  } catch {
    return false;
  }
}
