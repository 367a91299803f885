// The OpenClaw plugin entry against a fake host that behaves like the real one (docs/ARCHITECTURE.md, "Modules"): the entry is
// imported from a fresh copy of the package directory on every register() (three per process, `full` then
// `discovery` twice), `openclaw/plugin-sdk/*` resolves to the host's modules, services start once and stop on
// shutdown, and an in-process restart registers again keeping globals.
//
// What is proven: one native binding (one .node file mapped, one registry) and one set of subscriptions per
// process whatever the number of copies, each event recorded exactly once (the addon's stats()), stop() releasing
// every subscription and delivering what was recorded, a re-register after stop subscribing again exactly once;
// and, for a host without trusted diagnostics, traces rebuilt from lifecycle events and hooks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);
const BUS = Symbol.for('clawtrace.test.fakeOpenClawBus');
const BINDING = Symbol.for('clawtrace.binding.v1');

let work;
before(() => {
  work = mkdtempSync(join(tmpdir(), 'clawtrace-plugin-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

/** The files OpenClaw's source capture takes from the package: manifest, entry modules, loader, native binary. */
function copyPackage(dest) {
  mkdirSync(dest, { recursive: true });
  for (const f of ['package.json', 'openclaw.plugin.json', 'index.js']) cpSync(join(root, f), join(dest, f));
  for (const f of readdirSync(root).filter((n) => n.endsWith('.node'))) cpSync(join(root, f), join(dest, f));
  cpSync(join(root, 'plugin'), join(dest, 'plugin'), { recursive: true });
  return dest;
}

/**
 * A fake `openclaw` package next to the plugin copies, so `openclaw/plugin-sdk/…` resolves from them as it does
 * from a captured copy. `internal`: the 2026.4.24+ SDK (`diagnostic-runtime` with onInternalDiagnosticEvent); else
 * the early-2026 one (`diagnostics-otel` with the public onDiagnosticEvent only).
 */
function fakeOpenClawPackage(dir, { internal }) {
  const pkg = join(dir, 'node_modules', 'openclaw');
  mkdirSync(pkg, { recursive: true });
  const sub = internal ? './plugin-sdk/diagnostic-runtime' : './plugin-sdk/diagnostics-otel';
  // The 2026.9 SDK's gateway RPC for CLI commands: here it dispatches to the fake host's gateway methods.
  const exports = { [sub]: './sdk.js', ...(internal ? { './plugin-sdk/gateway-runtime': './gateway.js' } : {}) };
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'openclaw', version: internal ? '2026.9.6' : '2026.3.24', exports }));
  writeFileSync(join(pkg, 'gateway.js', ), `
exports.callGatewayFromCli = async (method, opts, params) => globalThis[Symbol.for('clawtrace.test.gatewayCall')](method, opts, params);
exports.addGatewayClientOptions = (cmd) => cmd.option('--url <url>').option('--token <token>');
`);
  writeFileSync(join(pkg, 'sdk.js'), `
const key = Symbol.for('clawtrace.test.fakeOpenClawBus');
const bus = globalThis[key] ??= { internal: new Set(), public: new Set() };
exports.onDiagnosticEvent = (listener) => { bus.public.add(listener); return () => bus.public.delete(listener); };
${internal ? `exports.onInternalDiagnosticEvent = (listener) => { bus.internal.add(listener); return () => bus.internal.delete(listener); };
exports.waitForDiagnosticEventsDrained = async () => { bus.drainedCalls = (bus.drainedCalls ?? 0) + 1; };` : ''}
`);
}

/** The host side: registrations, hook dispatch, services, agent events. */
class FakeHost {
  constructor({ dir, version, pluginConfig = {}, entryHooks, hookDispatch = 'all' }) {
    this.dir = dir;
    this.version = version;
    this.pluginConfig = pluginConfig;
    this.entryHooks = entryHooks;
    this.hookDispatch = hookDispatch;
    this.stateDir = join(dir, 'state');
    this.registrations = [];
    this.services = new Map();
    this.agentListeners = new Set();
    this.cli = [];
    this.methods = new Map();
    this.logs = [];
    this.copies = 0;
  }

  logger() {
    const rec = (level) => (msg) => this.logs.push({ level, msg: String(msg) });
    return { info: rec('info'), warn: rec('warn'), error: rec('error'), debug: rec('debug') };
  }

  api(mode, source) {
    const reg = { mode, hooks: [] };
    this.registrations.push(reg);
    const host = this;
    return {
      id: 'clawtrace', name: 'clawtrace', version: '0.1.0', description: 'test', source, rootDir: root,
      registrationMode: mode,
      config: { plugins: { entries: { clawtrace: { enabled: true, config: this.pluginConfig, ...(this.entryHooks ? { hooks: this.entryHooks } : {}) } } } },
      pluginConfig: this.pluginConfig,
      logger: this.logger(),
      runtime: {
        version: this.version,
        events: {
          onAgentEvent(listener) {
            host.agentListeners.add(listener);
            return () => host.agentListeners.delete(listener);
          },
        },
        state: { resolveStateDir: () => host.stateDir },
      },
      on(name, handler) {
        reg.hooks.push({ name, handler });
      },
      registerService(svc) {
        host.services.set(svc.id, svc);
      },
      registerCli(registrar, opts) {
        host.cli.push({ registrar, opts });
      },
      registerGatewayMethod(method, handler, opts) {
        host.methods.set(method, { handler, opts });
      },
      registerHook() {},
      resolvePath: (p) => p,
    };
  }

  /** One plugin load as OpenClaw does it: three registrations, each importing the entry from a fresh copy. */
  async load() {
    for (const mode of ['full', 'discovery', 'discovery']) {
      const copy = copyPackage(join(this.dir, 'captures', `copy-${++this.copies}`));
      const entry = join(copy, 'plugin', 'index.mjs');
      const mod = await import(pathToFileURL(entry).href);
      mod.default.register(this.api(mode, entry));
    }
  }

  ctx() {
    return { config: {}, workspaceDir: join(this.dir, 'workspace'), stateDir: this.stateDir, logger: this.logger() };
  }

  async start() {
    for (const s of this.services.values()) await s.start?.(this.ctx());
  }

  async stop() {
    for (const s of this.services.values()) await s.stop?.(this.ctx());
  }

  /** A hook call: one payload object handed to every registration's handlers (the worst case), or the latest's. */
  hook(name, payload, ctx) {
    const regs = this.hookDispatch === 'all' ? this.registrations : this.registrations.slice(-1);
    for (const r of regs) for (const h of r.hooks) if (h.name === name) h.handler(payload, ctx);
  }

  agent(evt) {
    for (const l of this.agentListeners) l(structuredClone(evt));
  }

  diagnostic(evt, meta = { trusted: true }) {
    const bus = globalThis[BUS];
    for (const l of bus.internal) l(structuredClone(evt), meta);
    for (const l of bus.public) l(structuredClone(evt));
  }
}

const bus = () => globalThis[BUS];
const addon = () => globalThis[BINDING]?.binding;
const loadedNodeFiles = () => process.report.getReport().sharedObjects.filter((p) => /clawtrace.*\.node$/.test(p));

/** The traces of a file sink's OTLP/JSON file (bin/tree.js reads it), each a list of spans with plain `attrs`. */
function readTraces(file) {
  if (!existsSync(file)) return [];
  const tree = require(join(root, 'bin', 'tree.js'));
  return [...tree.parseOtlpJsonLines(readFileSync(file, 'utf8')).values()].map((spans) => spans.map((s) => ({ ...s, attrs: s.attributes })));
}

/** Runs `fn` with the shared binding's `method` wrapped, and returns the arguments of every call that crossed. */
function spyOnBinding(method, fn) {
  const b = addon();
  const real = b[method];
  const calls = [];
  b[method] = function (...args) {
    calls.push(args);
    return real.apply(this, args);
  };
  try {
    fn();
  } finally {
    b[method] = real;
  }
  return calls;
}

const sessionOf = (spans) => spans.find((s) => s.attrs['session.id'])?.attrs['session.id'];

// ---------------------------------------------------------------------------------------------------------------

let current;

test('three copies of the package: one native binding, one set of subscriptions, each event recorded once', async () => {
  const dir = join(work, 'current');
  fakeOpenClawPackage(dir, { internal: true });
  current = new FakeHost({ dir, version: '2026.9.6', pluginConfig: { captureContent: true }, entryHooks: { allowConversationAccess: true } });
  await current.load();
  await current.start();

  const nodes = loadedNodeFiles();
  assert.equal(nodes.length, 1, `exactly one clawtrace .node mapped: ${nodes}`);
  assert.ok(nodes[0].startsWith(join(dir, 'captures', 'copy-1')), `the first copy's binary is the one loaded: ${nodes[0]}`);
  assert.equal(bus().internal.size, 1, 'one internal diagnostic listener');
  assert.equal(bus().public.size, 0, 'the public bus is not used when the internal one exists');
  assert.equal(current.agentListeners.size, 1, 'one agent-event listener (content capture is on)');
  for (const r of current.registrations) {
    const names = r.hooks.map((h) => h.name).sort();
    assert.deepEqual(names, ['after_tool_call', 'agent_end', 'before_tool_call', 'llm_input', 'llm_output', 'subagent_ended', 'subagent_spawned'].sort(), `hooks of the ${r.mode} registration`);
  }
  assert.equal(current.logs.filter((l) => /tracing OpenClaw 2026\.9\.6/.test(l.msg)).length, 1, 'the capability line is logged once');

  const s0 = addon().stats();
  for (let i = 0; i < 10; i++) current.diagnostic({ type: 'no.such.event', seq: 1000 + i, ts: Date.now() });
  for (let i = 0; i < 4; i++) current.agent({ runId: 'r1', seq: i, stream: 'assistant', ts: Date.now(), data: { text: 'hi' } });
  const payload = { toolName: 'read', params: { path: 'x' }, runId: 'r1', toolCallId: 'c1' };
  current.hook('before_tool_call', payload, { toolName: 'read', runId: 'r1', toolCallId: 'c1' });
  current.hook('llm_output', { runId: 'r1', assistantTexts: ['hi'], usage: { input: 1, output: 2 } }, { sessionKey: 'agent:main:x' });
  const s1 = addon().stats();
  assert.equal(s1.eventsReceived - s0.eventsReceived, 10 + 4 + 2, 'each diagnostic event, agent event and hook call once');
});

test('events without JSON text (BigInt, a cycle) never throw into the host and are counted as invalid', async () => {
  const s0 = addon().stats();
  // Diagnostic events cross as the fields the tracer reads (plugin/hotpath.mjs): a BigInt there has no JSON text;
  // a cycle is never followed (only scalars and named sub-fields are copied), so that event is simply used.
  const cyclic = { type: 'run.started', runId: 'cycle', seq: 1500, ts: Date.now() };
  cyclic.self = cyclic;
  cyclic.trace = { traceId: cyclic };
  const big = { type: 'run.started', runId: 'bigint', seq: 1501, ts: Date.now(), durationMs: 10n };
  assert.doesNotThrow(() => current.diagnostic(big), 'a BigInt diagnostic event');
  assert.doesNotThrow(() => current.diagnostic(cyclic), 'a cyclic diagnostic event');
  assert.doesNotThrow(() => current.agent({ runId: 'bigint', seq: 1, stream: 'assistant', ts: Date.now(), data: { n: 1n } }), 'a BigInt agent event');
  assert.doesNotThrow(() => current.hook('before_tool_call', { toolName: 'read', runId: 'bigint', params: { n: 2n } }, { runId: 'bigint' }), 'a BigInt hook payload');
  assert.equal(await addon().flush(5000), true);
  const s1 = addon().stats();
  assert.equal(s1.eventsReceived - s0.eventsReceived, 4, 'each call reached the addon');
  assert.equal(s1.invalidUnserializable - s0.invalidUnserializable, 3, 'and those with a BigInt were counted as unserializable');
  assert.equal(s1.invalidTraceContext - s0.invalidTraceContext, 1, 'the cycle where a trace id belongs is a bad trace context');
});

test('stop() releases every subscription and delivers what was recorded; a later call records nothing', async () => {
  const traceFile = join(current.stateDir, 'clawtrace', 'traces.jsonl');
  const t0 = Date.now();
  // One complete turn with trace context, still inside its grace window when the gateway stops.
  const trace = { traceId: '0af7651916cd43dd8448eb211c80319c' };
  const msg = 'b7ad6b7169203331';
  const run = '00f067aa0ba902b7';
  const ev = (seq, type, spanId, parentSpanId, extra = {}) =>
    current.diagnostic({ type, seq, ts: t0 + seq, sessionKey: 'agent:main:stop-test', trace: { ...trace, spanId, ...(parentSpanId ? { parentSpanId } : {}) }, ...extra });
  ev(2001, 'message.received', msg, null, { channel: 'webchat' });
  ev(2002, 'harness.run.started', run, msg, { runId: 'stop-run', provider: 'fake', model: 'fake-model' });
  ev(2003, 'harness.run.completed', run, msg, { runId: 'stop-run', outcome: 'completed', durationMs: 2 });
  ev(2004, 'message.processed', msg, null, { channel: 'webchat', outcome: 'completed', durationMs: 4 });

  await current.stop();
  assert.equal(bus().internal.size, 0, 'diagnostic listener released');
  assert.equal(current.agentListeners.size, 0, 'agent listener released');
  assert.ok(bus().drainedCalls >= 1, "the host's async event queue was drained before letting go");
  const traces = readTraces(traceFile).filter((t) => sessionOf(t) === 'agent:main:stop-test');
  assert.equal(traces.length, 1, 'the turn in its grace window was exported at stop');
  assert.equal(traces[0].length, 2);
  const stopLog = current.logs.filter((l) => /^\[clawtrace\] stopped \(file: \d+ traces, \d+ spans exported\)\.$/.test(l.msg));
  assert.equal(stopLog.length, 1, `one stop line: ${JSON.stringify(current.logs.slice(-3))}`);
  assert.equal(stopLog[0].level, 'info');

  const s0 = addon().stats();
  current.hook('before_tool_call', { toolName: 'read', runId: 'r2' }, {});
  current.diagnostic({ type: 'no.such.event', seq: 3000, ts: Date.now() });
  assert.equal(addon().stats().eventsReceived, s0.eventsReceived, 'nothing recorded after stop');
  await current.stop(); // idempotent
});

test('a re-register after stop (in-process restart) subscribes again exactly once, with the same binding', async () => {
  const before = current.registrations.length;
  await current.load();
  await current.start();
  assert.equal(current.registrations.length, before + 3);
  assert.equal(bus().internal.size, 1);
  assert.equal(current.agentListeners.size, 1);
  assert.equal(loadedNodeFiles().length, 1, 'still one .node mapped');
  const s0 = addon().stats();
  for (let i = 0; i < 5; i++) current.diagnostic({ type: 'no.such.event', seq: 4000 + i, ts: Date.now() });
  current.hook('after_tool_call', { toolName: 'read', runId: 'r3', toolCallId: 'c3', result: 'ok' }, {});
  assert.equal(addon().stats().eventsReceived - s0.eventsReceived, 6);
  await current.stop();
  assert.equal(bus().internal.size, 0);
});

test('a restart that registers while the stop is still delivering activates once the stop is done', async () => {
  await current.load();
  await current.start();
  assert.equal(bus().internal.size, 1);
  const stopping = current.stop();
  await current.load(); // registers before stop() resolved
  assert.ok(bus().internal.size <= 1);
  await stopping;
  assert.equal(bus().internal.size, 1, 'subscribed again after the stop finished');
  const s0 = addon().stats();
  current.diagnostic({ type: 'no.such.event', seq: 5000, ts: Date.now() });
  await null; // diagnostic events cross in a batch at the end of the task (plugin/hotpath.mjs)
  assert.equal(addon().stats().eventsReceived - s0.eventsReceived, 1);
  await current.stop();
  assert.equal(bus().internal.size, 0);
});

test('an invalid configuration is logged through the host logger and subscribes nothing', async () => {
  const dir = join(work, 'invalid');
  fakeOpenClawPackage(dir, { internal: true });
  const host = new FakeHost({ dir, version: '2026.9.6', pluginConfig: { bogusOption: 1 } });
  await host.load();
  assert.equal(bus().internal.size, 0);
  const errors = host.logs.filter((l) => l.level === 'error' && /invalid configuration/.test(l.msg));
  assert.equal(errors.length, 1, `logged once: ${JSON.stringify(host.logs)}`);
  assert.match(errors[0].msg, /bogusOption/);
});

test('without content capture: no agent-event subscription, no conversation hooks unless allowed, no content crosses', async () => {
  const dir = join(work, 'nocapture');
  fakeOpenClawPackage(dir, { internal: true });
  const host = new FakeHost({ dir, version: '2026.9.6' });
  await host.load();
  assert.equal(bus().internal.size, 1);
  assert.equal(host.agentListeners.size, 0, 'agent events carry content: not subscribed');
  assert.deepEqual(host.registrations[0].hooks.map((h) => h.name).sort(), ['after_tool_call', 'before_tool_call', 'subagent_ended', 'subagent_spawned']);
  const s0 = addon().stats();
  const crossed = spyOnBinding('recordHook', () =>
    host.hook('after_tool_call', { toolName: 'read', runId: 'r', toolCallId: 'c', params: { secret: 'x' }, result: { content: 'secret' }, error: 'tool failed: secret' }, {}));
  assert.equal(crossed.length, 1, 'one hook call crossed');
  const [name, payload] = crossed[0];
  assert.equal(name, 'after_tool_call');
  assert.deepEqual(JSON.parse(payload), { toolName: 'read', runId: 'r', toolCallId: 'c', error: 'tool failed: secret' },
    'ids and outcome only: no params, no result');
  await addon().flush(5000);
  const s1 = addon().stats();
  assert.equal(s1.eventsReceived - s0.eventsReceived, 1);
  assert.equal(s1.skippedContentDisabled - s0.skippedContentDisabled, 1);
  await host.start();
  await host.stop();
  assert.equal(bus().internal.size, 0);
});

test('an early-2026 host (public bus only, no trace context): runs, tools, usage and errors rebuilt by correlation', async () => {
  const dir = join(work, 'legacy');
  fakeOpenClawPackage(dir, { internal: false });
  const host = new FakeHost({ dir, version: '2026.3.24', hookDispatch: 'latest' });
  await host.load();
  await host.start();
  assert.equal(bus().internal.size, 0);
  assert.equal(bus().public.size, 1, 'the public bus');
  assert.equal(host.agentListeners.size, 1, 'agent lifecycle events are needed to rebuild runs');
  const hooks = host.registrations.at(-1).hooks.map((h) => h.name);
  for (const h of ['llm_input', 'llm_output', 'agent_end', 'before_tool_call', 'after_tool_call', 'subagent_spawning', 'subagent_ended']) assert.ok(hooks.includes(h), h);
  assert.equal(host.logs.filter((l) => /correlation mode/.test(l.msg) && l.level === 'info').length, 2, 'explained once, plus the capability line');

  // The event flow recorded from a real 2026.3.24 gateway (chat.send with a tool call; HTTP turn; provider 500).
  let seq = 0;
  let ts = Date.now() - 60_000;
  const d = (evt) => host.diagnostic({ ...evt, seq: ++seq, ts: (ts += 5) }, undefined);
  const a = (runId, stream, data, sessionKey) => host.agent({ runId, stream, seq: 0, ts: (ts += 5), data, ...(sessionKey ? { sessionKey } : {}) });
  const hk = (name, payload, ctx) => host.hook(name, payload, ctx);

  // chat.send + tool
  const sk = 'agent:main:legacy-tool';
  const run = 'legacy-run-1';
  const ctx = { agentId: 'main', sessionKey: sk, sessionId: 'sess-1', trigger: 'user', channelId: 'webchat' };
  d({ type: 'message.queued', sessionKey: sk, channel: 'webchat', source: 'dispatch', queueDepth: 1 });
  d({ type: 'session.state', sessionKey: sk, prevState: 'idle', state: 'processing', reason: 'message_start' });
  d({ type: 'queue.lane.enqueue', lane: `session:${sk}`, queueSize: 1 });
  d({ type: 'queue.lane.dequeue', lane: `session:${sk}`, queueSize: 0, waitMs: 3 });
  hk('llm_input', { runId: run, sessionId: 'sess-1', provider: 'fake', model: 'fake-model', prompt: 'p', historyMessages: [] }, ctx);
  a(run, 'lifecycle', { phase: 'start', startedAt: ts }, sk);
  hk('before_tool_call', { toolName: 'read', params: { path: 'x' }, runId: run, toolCallId: 'call_1' }, { ...ctx, toolName: 'read', runId: run, toolCallId: 'call_1' });
  hk('after_tool_call', { toolName: 'read', params: { path: 'x' }, runId: run, toolCallId: 'call_1', result: 'r', durationMs: 20 }, { ...ctx, toolName: 'read', runId: run, toolCallId: 'call_1' });
  a(run, 'lifecycle', { phase: 'end', endedAt: ts }, sk);
  // Content capture is off: agent_end's messages cross as digests (who spoke, stop reason, usage), never their text.
  const answer = (stopReason, input, output) => ({ role: 'assistant', content: [{ type: 'text', text: 'secret answer' }], stopReason, provider: 'fake', model: 'fake-model', usage: { input, output, totalTokens: input + output, cost: { total: 0.1 } } });
  const messages = [{ role: 'user', content: 'secret prompt' }, answer('toolUse', 120, 4), { role: 'toolResult', content: 'secret result' }, answer('stop', 126, 10)];
  const ended = spyOnBinding('recordHook', () => hk('agent_end', { messages, success: true, durationMs: 80 }, ctx));
  assert.equal(ended.length, 1);
  const digest = (stopReason, input, output) => ({ role: 'assistant', stopReason, model: 'fake-model', provider: 'fake', usage: { input, output } });
  assert.deepEqual(JSON.parse(ended[0][1]), { success: true, durationMs: 80, messages: [{ role: 'user' }, digest('toolUse', 120, 4), { role: 'toolResult' }, digest('stop', 126, 10)] });
  d({ type: 'session.state', sessionKey: sk, sessionId: 'sess-1', prevState: 'processing', state: 'idle', reason: 'run_completed' });
  hk('llm_output', { runId: run, sessionId: 'sess-1', provider: 'fake', model: 'fake-model', assistantTexts: ['x'], usage: { input: 246, output: 14, total: 260 } }, ctx);
  d({ type: 'model.usage', sessionKey: sk, usage: { input: 246, output: 14, cacheRead: 0, cacheWrite: 0, promptTokens: 246, total: 130 }, costUsd: 0, durationMs: 413 });
  d({ type: 'message.processed', channel: 'webchat', messageId: run, sessionKey: sk, durationMs: 659, outcome: 'completed' });

  // HTTP path: no message events, no model.usage
  const hsk = 'agent:main:openai-user:alice';
  const hrun = 'chatcmpl_legacy';
  const hctx = { agentId: 'main', sessionKey: hsk, sessionId: 'sess-2', trigger: 'user', channelId: 'webchat' };
  d({ type: 'session.state', sessionKey: hsk, sessionId: 'sess-2', prevState: 'idle', state: 'processing', reason: 'run_started' });
  hk('llm_input', { runId: hrun, sessionId: 'sess-2', provider: 'fake', model: 'fake-model', prompt: 'p', historyMessages: [] }, hctx);
  a(hrun, 'lifecycle', { phase: 'start' }, hsk);
  a(hrun, 'lifecycle', { phase: 'end' }, hsk);
  hk('agent_end', { messages: [], success: true }, hctx);
  d({ type: 'session.state', sessionKey: hsk, sessionId: 'sess-2', prevState: 'processing', state: 'idle', reason: 'run_completed' });
  hk('llm_output', { runId: hrun, sessionId: 'sess-2', provider: 'fake', model: 'fake-model', assistantTexts: ['x'], usage: { input: 123, output: 7, total: 130 } }, hctx);

  // Provider 500: retried attempts (later lifecycle events lack the session key), message still "completed"
  const fsk = 'agent:main:legacy-fail';
  const frun = 'legacy-run-fail';
  const fctx = { agentId: 'main', sessionKey: fsk, sessionId: 'sess-3', trigger: 'user', channelId: 'webchat' };
  d({ type: 'message.queued', sessionKey: fsk, channel: 'webchat', source: 'dispatch', queueDepth: 1 });
  hk('llm_input', { runId: frun, sessionId: 'sess-3', provider: 'fake', model: 'fake-model', prompt: 'p', historyMessages: [] }, fctx);
  a(frun, 'lifecycle', { phase: 'start' }, fsk);
  a(frun, 'lifecycle', { phase: 'error', error: '500 fake upstream failure' }, fsk);
  a(frun, 'lifecycle', { phase: 'start' });
  a(frun, 'lifecycle', { phase: 'error', error: '500 fake upstream failure' });
  hk('agent_end', { messages: [], success: true }, fctx);
  hk('llm_output', { runId: frun, sessionId: 'sess-3', provider: 'fake', model: 'fake-model', assistantTexts: [] }, fctx);
  d({ type: 'message.processed', channel: 'webchat', messageId: frun, sessionKey: fsk, durationMs: 19873, outcome: 'completed' });

  // A busy session: two messages arrive during the first run; this release acknowledges them at once
  // (message.processed, nothing ran yet) and runs each after the first, with new runIds and no message events.
  const bsk = 'agent:main:legacy-busy';
  const bctx = (sid) => ({ agentId: 'main', sessionKey: bsk, sessionId: sid, trigger: 'user', channelId: 'webchat' });
  const runTurn = (runId, usage) => {
    hk('llm_input', { runId, sessionId: 'sess-b', provider: 'fake', model: 'fake-model', prompt: 'p', historyMessages: [] }, bctx('sess-b'));
    a(runId, 'lifecycle', { phase: 'start' }, bsk);
  };
  const endTurn = (runId) => {
    a(runId, 'lifecycle', { phase: 'end' }, bsk);
    hk('agent_end', { messages: [], success: true }, bctx('sess-b'));
    d({ type: 'session.state', sessionKey: bsk, prevState: 'processing', state: 'idle', reason: 'run_completed' });
    hk('llm_output', { runId, sessionId: 'sess-b', provider: 'fake', model: 'fake-model', assistantTexts: ['x'], usage: { input: 123, output: 7, total: 130 } }, bctx('sess-b'));
  };
  d({ type: 'message.queued', sessionKey: bsk, channel: 'webchat', source: 'dispatch', queueDepth: 1 });
  runTurn('busy-1');
  for (const id of ['idem-2', 'idem-3']) {
    d({ type: 'message.queued', sessionKey: bsk, channel: 'webchat', source: 'dispatch', queueDepth: 2 });
    d({ type: 'message.processed', channel: 'webchat', messageId: id, sessionKey: bsk, outcome: 'completed' });
  }
  endTurn('busy-1');
  d({ type: 'model.usage', sessionKey: bsk, usage: { input: 123, output: 7, promptTokens: 123, total: 130 }, costUsd: 0 });
  d({ type: 'message.processed', channel: 'webchat', messageId: 'busy-1', sessionKey: bsk, outcome: 'completed' });
  for (const f of ['followup-run-1', 'followup-run-2']) {
    runTurn(f);
    endTurn(f);
  }

  await host.stop();
  assert.equal(bus().public.size, 0);
  assert.equal(host.agentListeners.size, 0);

  const traces = readTraces(join(host.stateDir, 'clawtrace', 'traces.jsonl'));
  const bySession = new Map(traces.map((t) => [sessionOf(t), t]));
  const tree = (spans) => {
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    return (s) => byId.get(s.parentSpanId);
  };

  const tool = bySession.get(sk);
  assert.ok(tool, `a trace for ${sk}: ${[...bySession.keys()]}`);
  const parentOf = tree(tool);
  const root = tool.find((s) => !s.parentSpanId);
  assert.equal(root.name, 'invoke_agent main');
  const toolSpan = tool.find((s) => s.name === 'execute_tool read');
  assert.ok(toolSpan, 'tool span');
  assert.equal(parentOf(toolSpan).name, 'openclaw.run');
  assert.equal(parentOf(parentOf(toolSpan)).name, 'openclaw.harness.run');
  assert.equal(parentOf(parentOf(parentOf(toolSpan))), root);
  assert.equal(root.attrs['openclaw.usage.total.input_tokens'], 246);
  assert.equal(root.attrs['openclaw.usage.total.output_tokens'], 14);
  const chats = tool.filter((s) => s.name === 'chat fake-model');
  assert.equal(chats.length, 2, 'two model calls around the tool');
  assert.ok(chats.every((c) => parentOf(c).name === 'openclaw.run'));
  assert.notEqual(root.status?.code, 2);

  const http = bySession.get(hsk);
  assert.ok(http, 'the HTTP turn has a trace of its own');
  assert.equal(http.find((s) => !s.parentSpanId).attrs['openclaw.usage.total.input_tokens'], 123, 'usage from llm_output');

  const busy = traces.filter((t) => sessionOf(t) === bsk);
  assert.equal(busy.length, 3, 'one trace per message of the busy session: ' + JSON.stringify(busy.map((t) => t.map((s) => [s.name, s.attrs['openclaw.message_id'], s.attrs['openclaw.run_id']]))));
  for (const t of busy) {
    const r = t.find((s) => !s.parentSpanId);
    assert.equal(t.filter((s) => s.name === 'openclaw.run').length, 1, 'each message has its run');
    assert.equal(r.attrs['openclaw.usage.total.output_tokens'], 7);
    assert.ok(r.attrs['openclaw.message_id'] || r.attrs['openclaw.outcome'], 'the root is the message');
    assert.notEqual(r.status?.code, 2);
  }

  const fail = bySession.get(fsk);
  assert.ok(fail);
  const froot = fail.find((s) => !s.parentSpanId);
  assert.equal(froot.status?.code, 2, 'the failed turn is an error although OpenClaw said completed');
  const attempts = fail.filter((s) => s.name === 'openclaw.harness.run');
  assert.equal(attempts.length, 2, 'one span per attempt');
  assert.ok(attempts.every((s) => s.status?.code === 2));
});

test('the manifest schema covers every configuration key the addon accepts, and only those', async () => {
  const manifest = JSON.parse(readFileSync(join(root, 'openclaw.plugin.json'), 'utf8'));
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  assert.equal(manifest.id, 'clawtrace');
  assert.deepEqual(pkg.openclaw.extensions, ['./plugin/index.mjs']);
  assert.ok(pkg.files.includes('plugin/') && pkg.files.includes('openclaw.plugin.json'));
  const schema = manifest.configSchema;
  // Field names of the Rust config structs, camelCased.
  const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
  const fieldsOf = (file, struct) => {
    const src = readFileSync(join(root, 'crates', 'core', 'src', file), 'utf8');
    const body = src.slice(src.indexOf(`pub struct ${struct} {`));
    return [...body.slice(0, body.indexOf('\n}')).matchAll(/^\s+pub (\w+):/gm)].map((m) => camel(m[1]));
  };
  const props = (path) => Object.keys(path.reduce((s, k) => s.properties[k].additionalProperties && !s.properties[k].properties ? s.properties[k].additionalProperties : s.properties[k], schema).properties).sort();
  const cases = [
    [[], 'config.rs', 'Config'],
    [['exporters'], 'config.rs', 'Exporters'],
    [['exporters', 'file'], 'export/file/config.rs', 'FileConfig'],
    [['exporters', 'otlp'], 'export/otlp/config.rs', 'OtlpConfig'],
    [['exporters', 'mlflow'], 'export/mlflow/config.rs', 'MlflowConfig'],
    [['exporters', 'langfuse'], 'export/langfuse/config.rs', 'LangfuseConfig'],
    [['batch'], 'config.rs', 'BatchConfig'],
    [['sampling'], 'config.rs', 'SamplingConfig'],
    [['redact'], 'config.rs', 'RedactConfig'],
    [['spool'], 'config.rs', 'SpoolConfig'],
    [['record'], 'config.rs', 'RecordConfig'],
    [['pricing'], 'enrich/pricing.rs', 'Price'],
  ];
  for (const [path, file, struct] of cases) {
    assert.deepEqual(props(path), fieldsOf(file, struct).sort(), `schema ${path.join('.') || '(root)'} vs ${struct}`);
  }
  assert.equal(schema.properties.captureContent.default, false);
  for (const secret of ['exporters.mlflow.password', 'exporters.mlflow.token', 'exporters.langfuse.secretKey', 'exporters.otlp.headers']) {
    assert.equal(manifest.uiHints[secret]?.sensitive, true, `${secret} is marked sensitive`);
  }
  // Every key the schema allows is one the addon accepts (it rejects unknown keys): a config using all of them.
  const everything = {
    exporters: {
      file: { path: join(work, 'all.jsonl') },
      otlp: { endpoint: 'http://127.0.0.1:9', tracesEndpoint: 'http://127.0.0.1:9/v1/traces', headers: { 'x-api-key': 'k' }, protocol: 'http/json', compression: 'gzip', timeoutMs: 1000 },
      mlflow: { trackingUri: 'http://127.0.0.1:9', experimentId: '1', experimentName: 'e', username: 'u', password: 'p', token: 't', protocol: 'http/protobuf', compression: 'none', timeoutMs: 1000 },
      langfuse: { baseUrl: 'http://127.0.0.1:9', publicKey: 'pk', secretKey: 'sk', environment: 'test', release: '1', protocol: 'http/protobuf', compression: 'gzip', timeoutMs: 1000 },
    },
    queueCapacity: 1024, queueMaxBytes: 1 << 20, graceMs: 100, traceTtlMs: 60000, maxOpenTraces: 10, reorderWindowMs: 10, reorderMaxEvents: 1000, maxRememberedTraces: 1000, captureContent: false, maxContentChars: 100,
    pricing: { m: { input: 1, output: 2, cacheRead: 0.5, cacheWrite: 1.5 } }, serviceName: 'gw',
    batch: { maxSpans: 10, maxBytes: 100000, maxDelayMs: 10, queueTraces: 10, exportTimeoutMs: 1000, retryDeadlineMs: 1000 },
    sampling: { ratio: 1, keepErrors: true, keepSlowerThanMs: 1000 },
    redact: { builtins: true, patterns: ['x+'], replacement: '*' }, hashSessionKeys: true, spool: { dir: join(work, 'spool'), maxBytes: 1000000 },
    record: { path: join(work, 'record.jsonl'), maxBytes: 1000000 },
    defaultFile: join(work, 'default.jsonl'), legacyHost: false, idNamespace: 'test',
  };
  const walk = (s, v, path) => {
    if (s.type === 'object' && s.properties) {
      for (const k of Object.keys(s.properties)) assert.ok(k in v, `the full config sets ${[...path, k].join('.')}`);
      for (const [k, sub] of Object.entries(v)) if (s.properties[k]) walk(s.properties[k], sub, [...path, k]);
    }
  };
  walk(schema, everything, []);
  // A separate process: the registry is process-global and this one is configured by the plugin. Validation
  // (unknown keys, types, ranges) throws synchronously; applying may still fail for other reasons (a sink that
  // cannot start here), which is not what this checks.
  const { execFileSync } = await import('node:child_process');
  const script = `const ct = require(${JSON.stringify(join(root, 'index.js'))});
    let p;
    try { p = ct.configure(${JSON.stringify(everything)}); } catch (e) { console.error('rejected: ' + e.message); process.exit(1); }
    p.then(() => process.exit(0), (e) => { console.error('applying: ' + e.message); process.exit(/invalid clawtrace config/.test(e.message) ? 1 : 0); });`;
  execFileSync(process.execPath, ['-e', script], { stdio: 'pipe' });
});

test('effectiveConfig: the default file lives in the state directory; the addon decides when it applies', async () => {
  const { effectiveConfig } = await import(pathToFileURL(join(root, 'plugin', 'config.mjs')).href);
  const stateDir = '/state';
  assert.deepEqual(effectiveConfig(undefined, { stateDir }), { defaultFile: '/state/clawtrace/traces.jsonl' });
  assert.deepEqual(effectiveConfig({ exporters: { mlflow: { trackingUri: 'http://m' } } }, { stateDir }), {
    exporters: { mlflow: { trackingUri: 'http://m' } },
    defaultFile: '/state/clawtrace/traces.jsonl',
  });
  assert.equal(effectiveConfig({ defaultFile: '/mine.jsonl' }, { stateDir }).defaultFile, '/mine.jsonl', 'a configured default wins');
  const input = { captureContent: true };
  effectiveConfig(input, { stateDir });
  assert.deepEqual(input, { captureContent: true }, 'the host config object is not modified');
  assert.deepEqual(effectiveConfig(undefined, { stateDir, legacyHost: true }), { defaultFile: '/state/clawtrace/traces.jsonl', legacyHost: true },
    'a host before trusted diagnostics: the addon rebuilds runs (legacyHost)');
  const rec = { record: { path: 'clawtrace/events.jsonl', maxBytes: 4096 } };
  assert.deepEqual(effectiveConfig(rec, { stateDir }).record, { path: '/state/clawtrace/events.jsonl', maxBytes: 4096 }, 'a relative record file lives in the state directory');
  assert.equal(rec.record.path, 'clawtrace/events.jsonl', 'the host config object is not modified');
  assert.equal(effectiveConfig({ record: { path: '/abs/e.jsonl' } }, { stateDir }).record.path, '/abs/e.jsonl');
});

/** Values a buggy or hostile host could hand a listener, made fresh on every call (the plugin de-duplicates hook
 *  payloads by identity). `rnd` is seeded, so a failure reproduces. */
function hostileValue(rnd, depth = 0) {
  const pick = Math.floor(rnd() * 22);
  const cut = '😀'.slice(0, 1); // a lone high surrogate: text cut mid-emoji
  switch (pick) {
    case 0: return 10n ** 30n;
    case 1: { const o = { type: 'run.started' }; o.self = o; return o; }
    case 2: return { type: 'run.started', get runId() { throw new Error('getter'); } };
    case 3: return new Proxy({ type: 'run.started' }, { get() { throw new Error('get'); }, ownKeys() { throw new Error('keys'); }, getPrototypeOf() { throw new Error('proto'); }, has() { throw new Error('has'); } });
    case 4: { const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); return proxy; }
    // Huge strings and deep nesting are the costly cases: at full size one time in four.
    case 5: return { type: 'model.call.error', error: 'x'.repeat(1 + Math.floor(rnd() * (rnd() < 0.25 ? 2 << 20 : 64 << 10))) };
    case 6: return { type: 'harness.run.completed', runId: `r${cut}`, error: `cut ${cut}`, [`k${cut}`]: cut };
    case 7: { let v = { type: 'run.started' }; for (let i = rnd() < 0.25 ? 10_000 : 1_000; i > 0; i--) v = { v }; return v; }
    case 8: { let v = []; for (let i = 0; i < 200; i++) v = [v]; return { type: 'run.started', v }; }
    case 9: return Symbol('evt');
    case 10: return () => ({ type: 'run.started' });
    case 11: return { type: 'run.started', toJSON() { throw new Error('toJSON'); } };
    case 12: return new Map([['type', 'run.started']]);
    case 13: return new Date(NaN);
    case 14: return new Uint8Array(16);
    case 15: return Object.create(null, { type: { get() { throw new Error('type'); }, enumerable: true } });
    case 16: return { type: 'tool.execution.error', seq: NaN, ts: Infinity, toolName: 5, usage: [1, 2] };
    case 17: return depth < 3 ? { type: 'run.started', nested: hostileValue(rnd, depth + 1), arr: [hostileValue(rnd, depth + 1)] } : null;
    case 18: return undefined;
    case 19: return null;
    case 20: return `{"type":"run.started","x":"\\ud83d"`;
    default: return { stream: 'lifecycle', data: { phase: 'end', get error() { throw new Error('data'); } } };
  }
}

test('a lone surrogate in an event (text cut mid-emoji) keeps the event through the plugin path', async () => {
  const dir = join(work, 'surrogate');
  fakeOpenClawPackage(dir, { internal: true });
  const host = new FakeHost({ dir, version: '2026.9.6' });
  await host.load();
  await host.start();
  const s0 = addon().stats();
  const cut = '😀'.slice(0, 1);
  const trace = { traceId: '5ac0a3c0ffee4b1d9b0d6c3a2e1f0a11' };
  const t0 = Date.now();
  const base = { sessionKey: `agent:main:surrogate${cut}`, runId: `surrogate-run${cut}`, provider: 'fake', model: 'fake-model' };
  host.diagnostic({ type: 'harness.run.started', seq: 9001, ts: t0, ...base, trace: { ...trace, spanId: '1111111111111111' } });
  host.diagnostic({ type: 'harness.run.completed', seq: 9002, ts: t0 + 1, ...base, outcome: 'error', error: `reply cut ${cut}`, trace: { ...trace, spanId: '1111111111111111' } });
  await host.stop();
  const s1 = addon().stats();
  assert.equal(s1.invalidMalformedJson - s0.invalidMalformedJson, 0, 'not dropped as malformed JSON');
  const spans = readTraces(join(host.stateDir, 'clawtrace', 'traces.jsonl')).flat().filter((s) => s.traceId === trace.traceId);
  assert.equal(spans.length, 1, `the run was exported: ${JSON.stringify({ d: s1.eventsInSpans - s0.eventsInSpans, r: s1.eventsReceived - s0.eventsReceived, logs: host.logs.slice(-3) })}`);
  assert.equal(spans[0].status?.message, 'error: reply cut \ufffd', 'the lone surrogate became U+FFFD');
  assert.equal(spans[0].attrs['openclaw.run_id'], 'surrogate-run\ufffd');
});

test('fuzz through the plugin entry: hostile values never throw into the host, never crash, are all counted', async () => {
  const dir = join(work, 'hostile');
  fakeOpenClawPackage(dir, { internal: true });
  const host = new FakeHost({ dir, version: '2026.9.6', pluginConfig: { captureContent: true }, entryHooks: { allowConversationAccess: true } });
  await host.load();
  await host.start();
  await addon().flush(5000);
  const s0 = addon().stats();
  let seed = 0x9e3779b9;
  const rnd = () => ((seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 4294967296);
  const threw = [];
  let calls = 0;
  const hooks = host.registrations.flatMap((r) => r.hooks);
  const hookNames = [...new Set(hooks.map((h) => h.name))];
  for (let i = 0; i < 2000; i++) {
    const kind = i % 3;
    try {
      if (kind === 0) {
        for (const l of bus().internal) l(hostileValue(rnd), rnd() < 0.5 ? hostileValue(rnd) : { trusted: true });
        calls += bus().internal.size;
      } else if (kind === 1) {
        for (const l of host.agentListeners) l(hostileValue(rnd));
        calls += host.agentListeners.size;
      } else {
        const name = hookNames[i % hookNames.length];
        const payload = hostileValue(rnd);
        const ctx = hostileValue(rnd);
        const handlers = hooks.filter((h) => h.name === name);
        for (const h of handlers) h.handler(payload, ctx);
        // An object payload is recorded once whatever the number of registrations (recognised by identity); a
        // primitive cannot be told apart from a second call, so each registration's handler records it.
        calls += payload !== null && typeof payload === 'object' ? 1 : handlers.length;
      }
    } catch (e) {
      threw.push(`${i}: ${e?.message ?? e}`);
    }
  }
  assert.deepEqual(threw, [], 'nothing thrown into the host');
  assert.equal(await addon().flush(10_000), true);
  const s1 = addon().stats();
  assert.equal(s1.eventsReceived - s0.eventsReceived, calls, 'every listener call reached the addon exactly once');
  assert.equal(s1.queueLength, 0);
  await host.stop();
});

/** Enough of commander for a plugin's CLI registrar: commands, options, an action; `run(argv)` parses flags. */
function fakeProgram() {
  const make = (name) => {
    const cmd = { name, subs: new Map(), options: [], handler: null };
    cmd.command = (n) => {
      const c = make(n);
      cmd.subs.set(n, c);
      return c;
    };
    cmd.description = () => cmd;
    cmd.option = (flags) => {
      cmd.options.push(flags);
      return cmd;
    };
    cmd.action = (fn) => {
      cmd.handler = fn;
      return cmd;
    };
    return cmd;
  };
  const program = make('openclaw');
  program.run = async (argv) => {
    let c = program;
    const opts = {};
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      if (a.startsWith('--')) {
        const key = a.slice(2).replace(/-([a-z])/g, (_, x) => x.toUpperCase());
        const takesValue = c.options.some((f) => f.startsWith(a) && f.includes('<'));
        opts[key] = takesValue ? argv[++i] : true;
      } else {
        c = c.subs.get(a);
        assert.ok(c, `no command ${a}`);
      }
    }
    await c.handler(opts);
  };
  return program;
}

test('openclaw clawtrace status: sinks without credentials, live counters and last errors from the gateway, the capture trap', async () => {
  const dir = join(work, 'status');
  fakeOpenClawPackage(dir, { internal: true });
  const file = join(dir, 'status-traces.jsonl');
  const pluginConfig = {
    captureContent: true,
    batch: { retryDeadlineMs: 200, maxDelayMs: 10 },
    exporters: {
      file: { path: file },
      // Nothing listens on port 9: its errors are the "last error", and its credentials must never show.
      otlp: { endpoint: 'http://status-user:s3cret-pass@127.0.0.1:9/otlp?token=s3cret-query' },
    },
  };
  const host = new FakeHost({ dir, version: '2026.9.6', pluginConfig });
  await host.load();
  await host.start();
  try {
    assert.ok(host.cli.length >= 1, 'registerCli was called');
    assert.deepEqual(host.cli[0].opts.descriptors.map((d) => d.name), ['clawtrace']);
    const method = host.methods.get('clawtrace.status');
    assert.ok(method, 'the gateway method clawtrace.status is registered');
    assert.equal(method.opts.scope, 'operator.read');
    globalThis[Symbol.for('clawtrace.test.gatewayCall')] = async (name, opts, params) => {
      assert.equal(opts.token, 'gw-token', 'the gateway client options reach the RPC');
      let answer;
      await host.methods.get(name).handler({ params, respond: (ok, payload, error) => (answer = { ok, payload, error }) });
      if (!answer.ok) throw new Error(answer.error?.message);
      return answer.payload;
    };
    // Traffic, and a failing sink: the gateway's counters and its latest error show in the report.
    const t0 = Date.now();
    const trace = { traceId: '5ac0a3c0ffee4b1d9b0d6c3a2e1f0a33', spanId: '3333333333333333' };
    host.diagnostic({ type: 'harness.run.started', seq: 1, ts: t0, runId: 'status-run', sessionKey: 'agent:main:status', trace });
    host.diagnostic({ type: 'harness.run.completed', seq: 2, ts: t0 + 1, runId: 'status-run', sessionKey: 'agent:main:status', outcome: 'completed', trace });
    await addon().flush(3000);

    const config = { plugins: { entries: { clawtrace: { enabled: true, config: pluginConfig } } } };
    const outputs = [];
    const write = process.stdout.write;
    const program = fakeProgram();
    const registered = host.cli[0].registrar({ program, config, logger: host.logger() });
    assert.ok(!(registered instanceof Promise), 'the registrar is synchronous (OpenClaw 2026.3 parses argv without awaiting it)');
    assert.ok(program.subs.get('clawtrace').subs.get('status').options.some((o) => o.startsWith('--url')), 'gateway options are there');
    process.stdout.write = (chunk) => outputs.push(String(chunk)) > 0;
    try {
      await program.run(['clawtrace', 'status', '--json', '--token', 'gw-token']);
      await program.run(['clawtrace', 'status', '--token', 'gw-token']);
    } finally {
      process.stdout.write = write;
    }
    const report = JSON.parse(outputs[0]);
    const text = outputs.join('');
    assert.ok(!/s3cret/.test(text), `no credential in the report: ${text}`);
    assert.deepEqual(report.local.sinks.sinks.map((x) => x.sink), ['file', 'otlp']);
    assert.equal(report.local.sinks.sinks[1].target, 'http://127.0.0.1:9/otlp');
    assert.equal(report.local.capture.effective, 'partial', 'captureContent without allowConversationAccess');
    assert.match(report.local.capture.note, /allowConversationAccess=true/);
    const g = report.gateway.snapshot;
    assert.ok(g, `the gateway answered: ${JSON.stringify(report.gateway)}`);
    assert.equal(g.pid, process.pid);
    assert.equal(g.active, true);
    assert.ok(g.stats.sinks.file.spansExported >= 1, 'the file sink exported the run');
    assert.ok(g.stats.lastErrors.otlp, `the OTLP sink's latest error: ${JSON.stringify(g.stats.lastErrors)}`);
    assert.match(text, /running gateway: pid \d+/);
    assert.match(text, /otlp +exported \d+ spans/);
    assert.match(text, /last error \(/);
  } finally {
    delete globalThis[Symbol.for('clawtrace.test.gatewayCall')];
    await host.stop();
  }
});

test('openclaw clawtrace status --test sends one synthetic trace to every sink and says where it went', async () => {
  const { runStatus } = await import(pathToFileURL(join(root, 'plugin', 'status.mjs')).href);
  const dir = join(work, 'status-test');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'test-trace.jsonl');
  const config = { plugins: { entries: { clawtrace: { config: { exporters: { file: { path: file } } } } } } };
  const out = [];
  const code = await runStatus({ test: true, local: true, json: true }, { config, binding: addon, env: { OPENCLAW_STATE_DIR: dir }, out: (s) => out.push(s) });
  const report = JSON.parse(out[0]);
  assert.equal(code, 0);
  assert.equal(report.test.delivered, true);
  const fileSink = report.test.sinks.find((x) => x.sink === 'file');
  assert.ok(fileSink.spansExported >= 3, `the synthetic turn's spans went to the file: ${JSON.stringify(report.test)}`);
  const spans = readTraces(file).flat().filter((x) => x.traceId === report.test.traceId);
  assert.ok(spans.length >= 3, 'the synthetic trace is in the file under the id the report names');
  assert.ok(spans.some((x) => x.attrs['session.id'] === 'agent:main:clawtrace-status-test' || JSON.stringify(x.attrs).includes('clawtrace-status-test')));
  await addon().configure({});
});

test('a cli-metadata registration (OpenClaw 2026.9 CLI) registers the command only and never touches the runtime', async () => {
  const dir = join(work, 'cli-metadata');
  const copy = copyPackage(join(dir, 'copy'));
  const mod = await import(pathToFileURL(join(copy, 'plugin', 'index.mjs')).href);
  const { CLI_DESCRIPTION } = await import(pathToFileURL(join(copy, 'plugin', 'status.mjs')).href);
  const cli = [];
  const touched = [];
  const api = {
    id: 'clawtrace',
    registrationMode: 'cli-metadata',
    config: {},
    // As OpenClaw 2026.9.6 does: "runtime is intentionally unavailable during cli-metadata registration".
    get runtime() {
      touched.push('runtime');
      throw new Error('runtime is intentionally unavailable during "cli-metadata" registration');
    },
    on() {
      touched.push('on');
    },
    registerService() {
      touched.push('registerService');
    },
    registerCli(registrar, opts) {
      cli.push(opts);
    },
  };
  mod.default.register(api);
  assert.deepEqual(touched, [], 'no runtime access, no hooks, no service');
  assert.deepEqual(cli.map((o) => o.commands), [['clawtrace']]);
  const manifest = JSON.parse(readFileSync(join(root, 'openclaw.plugin.json'), 'utf8'));
  assert.deepEqual(manifest.cliCommands, [{ name: 'clawtrace', description: CLI_DESCRIPTION, hasSubcommands: true }],
    'the manifest declares the root command (2026.9 resolves plugin commands from it)');
});
