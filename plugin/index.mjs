// clawtrace as an OpenClaw plugin: subscribes to every source of truth the host offers (diagnostic events, agent
// events, hooks) and hands each event to the native addon in one O(1) call; the addon does everything else off
// the gateway's thread.
//
// OpenClaw imports this module from a fresh copy of the plugin directory on every register() (three times per
// process) and restarts in-process on SIGUSR1 keeping globals. So everything that must exist once per process
// lives on globalThis: the binding (a second copy of the .node file would be a second registry) and the
// subscriptions. Module top level stays free of side effects.
import { createRequire } from 'node:module';
import { effectiveConfig, resolveStateDir } from './config.mjs';
import { findDiagnosticBus, hookPolicy, hostVersion } from './host.mjs';
import { diagnosticRecorder, json } from './hotpath.mjs';
import { gatewaySnapshot, registerStatusCli, registerStatusMethod, sinkTargets } from './status.mjs';

const require = createRequire(import.meta.url);

export const PLUGIN_ID = 'clawtrace';
const BINDING_KEY = Symbol.for('clawtrace.binding.v1');
const STATE_KEY = Symbol.for('clawtrace.plugin.v1');
/** stop() waits this long for the addon to deliver what it holds. */
export const SHUTDOWN_TIMEOUT_MS = 5000;

const BUS_NAMES = { internal: 'onInternalDiagnosticEvent', public: 'onDiagnosticEvent', global: "the host's listener set", none: 'nothing' };
/** Hooks whose payload is conversation content; OpenClaw ≥ 2026.4.23 gates them for non-bundled plugins. */
const CONVERSATION_HOOKS = ['llm_input', 'llm_output', 'agent_end'];
const TOOL_HOOKS = ['before_tool_call', 'after_tool_call'];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref?.());

function pin(key, make) {
  let v = globalThis[key];
  if (v === undefined) {
    v = make();
    Object.defineProperty(globalThis, key, { value: v, enumerable: false, configurable: true, writable: false });
  }
  return v;
}

/** Plugin state, one per process (not per module copy). */
const state = pin(STATE_KEY, () => ({
  active: false,
  subs: [],
  logger: null,
  once: new Set(),
  errorKinds: new Set(),
  onErrorSet: false,
  capture: false,
  /** The host predates trusted diagnostics: the addon rebuilds runs from lifecycle events and hooks (legacyHost). */
  legacy: false,
  hooks: [],
  seen: new WeakMap(),
  api: null,
  pendingApi: null,
  drained: null,
  binding: null,
  recordDiagnostic: null,
  configured: null,
  stopping: null,
  serviceStarted: false,
  activations: 0,
}));

/** The first binding loaded in this process; later copies of the plugin reuse it and never load their own. */
export function binding() {
  const slot = globalThis[BINDING_KEY];
  if (slot) return slot.binding;
  let b;
  try {
    // The package's generated loader: it picks the .node file for this platform (next to it, or from the
    // per-platform package).
    b = require('../index.js');
  } catch (err) {
    logOnce('binding', 'error', `cannot load the clawtrace native addon: ${err?.message ?? err}. Tracing is off.`);
    return null;
  }
  pin(BINDING_KEY, () => ({ binding: b, path: require.resolve('../index.js'), pid: process.pid }));
  return globalThis[BINDING_KEY].binding;
}

function log(level, msg) {
  const l = state.logger;
  const line = `[clawtrace] ${msg}`;
  try {
    if (l && typeof l[level] === 'function') return l[level](line);
    if (l && typeof l.info === 'function') return l.info(line);
  } catch {}
  (level === 'error' || level === 'warn' ? console.error : console.log)(line);
}

function logOnce(key, level, msg) {
  if (state.once.has(key)) return;
  state.once.add(key);
  log(level, msg);
}

// ---- hot path: one N-API call per event, nothing else on the gateway's thread -----------------------------------

// Every listener catches everything: a hostile value (a throwing getter or proxy) is the addon's to count as
// invalid, never an exception thrown into the host's event loop.
function onDiagnostic(evt, meta) {
  if (!state.active) return;
  try {
    state.recordDiagnostic(evt, meta);
    if (!state.serviceStarted && evt?.type === 'harness.run.completed') flushRun();
  } catch {}
}

/**
 * Without the gateway (`openclaw agent --local`) services never start, so stop() never runs, and the CLI exits
 * right after its run, inside the trace's grace window: deliver each finished run at once instead.
 */
function flushRun() {
  state.recordDiagnostic.drain();
  state.binding.flush(2000).catch(() => {});
}

function onAgent(evt) {
  if (!state.active) return;
  try {
    recordAgent(evt);
  } catch {}
}

function recordAgent(evt) {
  // Diagnostic events still batched on this thread (plugin/hotpath.mjs) cross first: arrival order is kept.
  state.recordDiagnostic.drain();
  if (state.legacy && evt?.stream === 'lifecycle') {
    // The addon rebuilds the run from these (legacyHost); without the gateway, each finished run goes out at once.
    state.binding.recordAgent(json(evt));
    const phase = evt.data?.phase;
    if (!state.serviceStarted && (phase === 'end' || phase === 'error')) flushRun();
  } else if (state.capture) {
    state.binding.recordAgent(json(evt));
  }
}

/** Ids and outcome of a hook payload, without its content (prompts, history, tool params and results). */
const HOOK_FIELDS = ['runId', 'toolCallId', 'toolName', 'sessionId', 'sessionKey', 'provider', 'model', 'success',
  'durationMs', 'childSessionKey', 'targetSessionKey', 'requesterSessionKey', 'agentId', 'label', 'mode', 'outcome',
  'reason', 'runtime', 'imagesCount'];

function withoutContent(payload) {
  if (!payload || typeof payload !== 'object') return payload;
  const out = {};
  for (const k of HOOK_FIELDS) {
    const v = payload[k];
    if (v !== undefined && (typeof v !== 'object' || v === null)) out[k] = v;
  }
  if (payload.error != null) out.error = typeof payload.error === 'string' ? payload.error.slice(0, 512) : true;
  if (payload.usage && typeof payload.usage === 'object') out.usage = usageOnly(payload.usage);
  // `agent_end`'s messages, each reduced to who spoke and what the call cost: an early-2026 host gives each model
  // call's usage only there, and the addon matches these answers to the calls it rebuilt (`ingest/legacy/calls.rs`).
  if (Array.isArray(payload.messages)) out.messages = payload.messages.map(messageDigest);
  return out;
}

const USAGE_FIELDS = ['input', 'output', 'cacheRead', 'cacheWrite', 'total'];

function usageOnly(u) {
  const out = {};
  for (const k of USAGE_FIELDS) if (typeof u[k] === 'number') out[k] = u[k];
  return out;
}

/** A message without its text: role, stop reason, usage and the ids of the model that wrote it. */
function messageDigest(m) {
  const out = {};
  if (!m || typeof m !== 'object') return out;
  for (const k of ['role', 'stopReason', 'model', 'provider', 'responseId']) if (typeof m[k] === 'string') out[k] = m[k];
  if (m.usage && typeof m.usage === 'object') out.usage = usageOnly(m.usage);
  return out;
}

function onHook(name, payload, ctx) {
  if (!state.active) return;
  // One hook call reaches every registration's handler with the same payload object: record it once.
  if (payload && typeof payload === 'object') {
    try {
      if (state.seen.get(payload) === name) return;
      state.seen.set(payload, name);
    } catch {}
  }
  let body;
  try {
    body = json(state.capture ? payload : withoutContent(payload));
  } catch {
    // Unreadable (a getter or proxy threw): recorded without a body, so the addon counts it as invalid.
    body = undefined;
  }
  try {
    state.recordDiagnostic.drain();
    state.binding.recordHook(name, body, ctx == null ? undefined : json(ctx));
  } catch {}
}

// ---- activation: configure the addon and subscribe, once per process (again after a stop) -------------------------

function onExportError(report) {
  const key = `${report?.sink}:${report?.kind}`;
  if (state.errorKinds.has(key)) return;
  state.errorKinds.add(key);
  log('warn', `export to ${report?.sink} failed (${report?.kind}): ${report?.message}`);
}

function describeSinks(cfg) {
  const { sinks, from } = sinkTargets(cfg);
  const list = sinks.map((s) => `${s.sink} ${s.target}`).join(', ');
  return from === 'default' ? `${list} (unless OTEL_EXPORTER_OTLP_*, MLFLOW_TRACKING_URI or LANGFUSE_* keys choose sinks)` : list;
}

function activate(api) {
  if (state.stopping) {
    // An in-process restart registered again while the stop is still delivering: activate when it is done.
    state.pendingApi = api;
    return true;
  }
  if (state.active) return true;
  const b = binding();
  if (!b) return false;
  state.binding = b;
  // Hosts without the internal bus predate trusted diagnostics: the addon rebuilds runs, tools and usage from
  // agent lifecycle events and hooks (correlation mode).
  const bus = findDiagnosticBus();
  const legacy = bus.kind !== 'internal';
  let cfg;
  try {
    cfg = effectiveConfig(api?.pluginConfig, { stateDir: resolveStateDir(api), legacyHost: legacy });
    state.configured = b.configure(cfg).catch((err) => log('error', `configuration failed: ${err?.message ?? err}`));
  } catch (err) {
    logOnce(`config:${err?.message}`, 'error', `invalid configuration (plugins.entries.${PLUGIN_ID}.config), tracing is off: ${err?.message ?? err}`);
    return false;
  }
  if (!state.onErrorSet) {
    b.onError(onExportError);
    state.onErrorSet = true;
  }
  // The record option writes the gateway's raw events: they cross whole then, not projected.
  state.recordDiagnostic = diagnosticRecorder(b, { full: cfg.record != null });
  state.capture = cfg.captureContent === true;
  state.cfg = cfg;

  const version = hostVersion(api);
  const notes = [];
  state.drained = bus.drained;
  if (bus.subscribe) {
    const off = bus.subscribe(onDiagnostic);
    if (typeof off === 'function') state.subs.push(off);
  }
  state.legacy = legacy;
  if (legacy) {
    if (bus.kind === 'none') {
      logOnce('bus:none', 'warn', `no diagnostic event bus found in OpenClaw ${version ?? '(unknown version)'} ` +
        `(tried ${bus.errors.join('; ') || 'nothing'}); traces are rebuilt from agent events and hooks only, without message, queue and usage events.`);
    } else {
      logOnce('bus:legacy', 'info', `OpenClaw ${version ?? '(unknown version)'} has no onInternalDiagnosticEvent: its diagnostic events ` +
        `carry no run, model-call or tool events and no trace context, so runs and tools are rebuilt from agent lifecycle events and tool hooks (correlation mode).`);
    }
  }
  const onAgentEvent = api?.runtime?.events?.onAgentEvent;
  const wantAgent = state.capture || !!state.legacy;
  if (wantAgent && typeof onAgentEvent === 'function') {
    const off = onAgentEvent(onAgent);
    if (typeof off === 'function') state.subs.push(off);
    notes.push('agent events on');
  } else if (wantAgent) {
    logOnce('agent:none', 'warn', `this OpenClaw offers no api.runtime.events.onAgentEvent: ${state.legacy ? 'runs cannot be rebuilt' : 'no content from agent events'}.`);
  } else {
    notes.push('agent events off (captureContent is off)');
  }

  // Hooks: which ones this host has and lets a non-bundled plugin use.
  const policy = hookPolicy(api, PLUGIN_ID);
  const hooks = [...TOOL_HOOKS];
  const needConversation = state.capture || !!state.legacy;
  if (policy.conversationAllowed) hooks.push(...CONVERSATION_HOOKS);
  else if (needConversation) {
    logOnce('hooks:conversation', 'warn', `hooks ${CONVERSATION_HOOKS.join(', ')} not registered: OpenClaw requires ` +
      `plugins.entries.${PLUGIN_ID}.hooks.allowConversationAccess=true for them (${state.capture ? 'prompts and replies are not captured' : 'run usage is taken from model.usage only'}).`);
  }
  if (policy.subagentSpawning) hooks.push('subagent_spawning');
  else logOnce('hooks:subagent_spawning', 'debug', `OpenClaw ${version ?? '(unknown version)'} is not known to offer subagent_spawning; using subagent_spawned.`);
  hooks.push('subagent_spawned', 'subagent_ended');
  state.hooks = hooks;

  state.active = true;
  state.activations += 1;
  state.info = { bus: BUS_NAMES[bus.kind], correlationMode: !!state.legacy, hooks, agentEvents: notes.includes('agent events on') };
  logOnce(`active:${state.activations === 1 ? 'first' : state.activations}`, 'info',
    `tracing OpenClaw ${version ?? '(unknown version)'}: diagnostic events via ${BUS_NAMES[bus.kind]}${bus.source ? ` (${bus.source})` : ''}` +
    `${state.legacy ? ' (correlation mode)' : ''}; ${notes.join('; ')}; hooks ${hooks.join(', ')}; traces to ${describeSinks(cfg)}.`);
  return true;
}

function registerHooks(api) {
  if (typeof api?.on !== 'function') {
    logOnce('hooks:none', 'warn', 'this OpenClaw offers no api.on: hooks are not recorded.');
    return;
  }
  for (const name of state.hooks) {
    try {
      // The handler returns nothing: a value from before_tool_call would change or block the call.
      api.on(name, (payload, ctx) => {
        onHook(name, payload, ctx);
      });
    } catch (err) {
      logOnce(`hook:${name}`, 'warn', `cannot register hook ${name}: ${err?.message ?? err}`);
    }
  }
}

// ---- lifecycle --------------------------------------------------------------------------------------------------

async function start(ctx) {
  if (ctx?.logger) state.logger = ctx.logger;
  state.serviceStarted = true;
  if (!state.active && state.api) activate(state.api);
}


/** Releases the subscriptions and waits (bounded) for the addon to deliver everything it holds. */
async function stop(ctx) {
  if (ctx?.logger) state.logger = ctx.logger;
  if (state.stopping) return state.stopping;
  if (!state.active) return;
  const b = state.binding;
  state.stopping = (async () => {
    try {
      // Events the host still has queued belong to turns that ended: take them before letting go.
      if (state.drained) await Promise.race([Promise.resolve().then(() => state.drained()), sleep(2000)]).catch(() => {});
      state.active = false;
      for (const off of state.subs.splice(0)) {
        try {
          off();
        } catch {}
      }
      state.legacy = false;
      state.recordDiagnostic.drain();
      await state.configured;
      let timer;
      const deadline = new Promise((resolve) => {
        timer = setTimeout(() => resolve(false), SHUTDOWN_TIMEOUT_MS + 1000);
        timer.unref?.();
      });
      const delivered = await Promise.race([b.shutdown(SHUTDOWN_TIMEOUT_MS), deadline]);
      clearTimeout(timer);
      log(...stopLine(b.stats(), delivered));
    } catch (err) {
      log('error', `shutdown failed: ${err?.message ?? err}`);
    } finally {
      state.active = false;
      state.stopping = null;
      const again = state.pendingApi;
      state.pendingApi = null;
      if (again) activate(again);
    }
  })();
  return state.stopping;
}

/** What the stop reports, per sink: traces handed to it, spans it delivered, what it lost. */
export function stopLine(s, delivered) {
  let lost = 0;
  const parts = Object.entries(s?.sinks ?? {}).map(([name, k]) => {
    const l = (k.spansRejected ?? 0) + (k.spansFailed ?? 0) + (k.spansDroppedQueueFull ?? 0);
    lost += l;
    return `${name}: ${k.tracesReceived ?? 0} traces, ${k.spansExported ?? 0} spans exported` +
      `${k.spansSpooled ? `, ${k.spansSpooled} spooled` : ''}${l ? `, ${l} spans lost` : ''}`;
  });
  const dropped = s?.droppedQueueFull ?? 0;
  const level = delivered && !lost && !dropped ? 'info' : 'warn';
  return [level, `stopped (${parts.join('; ') || 'no sink'})` +
    `${dropped ? `; ${dropped} events dropped on a full queue` : ''}` +
    `${delivered ? '' : `; not everything was delivered within ${SHUTDOWN_TIMEOUT_MS} ms`}.`];
}

function registrationMode(api) {
  try {
    return api?.registrationMode;
  } catch {
    return undefined;
  }
}

export function register(api) {
  state.api = api;
  if (api?.logger) state.logger = api.logger;
  // `openclaw clawtrace status`, in every registration mode.
  registerStatusCli(api, binding);
  // The CLI loads plugins for their commands only ("cli-metadata"): there the host's runtime throws on access,
  // and there is nothing to trace.
  if (registrationMode(api) === 'cli-metadata') return;
  if (!activate(api)) return;
  registerStatusMethod(api, () => gatewaySnapshot({ binding: state.binding, cfg: state.cfg, api: state.api, active: state.active, info: state.info }));
  registerHooks(api);
  if (typeof api?.registerService === 'function') {
    api.registerService({ id: PLUGIN_ID, start, stop });
  } else {
    logOnce('service:none', 'warn', 'this OpenClaw offers no api.registerService: traces still open when the gateway stops are lost.');
  }
}

export default {
  id: PLUGIN_ID,
  name: 'clawtrace',
  description: 'Production-grade tracing for OpenClaw: one trace per agent turn, exported to OTLP, MLflow, Langfuse or a file.',
  register,
};
