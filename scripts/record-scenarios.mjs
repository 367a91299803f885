#!/usr/bin/env node
// Records the real OpenClaw gateway's events for the corpus (`fixtures/`), with clawtrace's own recorder (the
// plugin's `record` option): the gateway from npm (__test__/helpers/openclaw.mjs), the fake provider
// (__test__/helpers/fake-openai.mjs), content capture on, OpenClaw's default provider retries, and one marker line
// per scenario (written while the gateway is quiet, so it falls between the scenario's events and the next's).
//
//   node scripts/record-scenarios.mjs [--target current|legacy] [--out FILE] [--only name,name]
//
// `--target` picks the release (`TARGETS` in __test__/helpers/openclaw.mjs): `current` (2026.9.6, the default) or
// `legacy` (2026.3.24, an early-2026 host: agent events and hooks, no trusted diagnostic events, no trace context).
// Each scenario names the targets it is recorded on; the output defaults to
// `fixtures/openclaw-<version>-scenarios.jsonl`. Needs the addon built in this checkout
// (`npx napi build --platform --js index.js --dts index.d.ts`). Takes a few minutes: the retried turns run for
// about a minute each.
import { appendFileSync, mkdtempSync, writeFileSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { TARGETS, ensureOpenClaw, startGateway, stagePlugin } from '../__test__/helpers/openclaw.mjs';
import { startFakeOpenAI } from '../__test__/helpers/fake-openai.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values: args } = parseArgs({
  options: {
    target: { type: 'string', default: 'current' },
    out: { type: 'string' },
    only: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const log = (msg) => process.stderr.write(`# record ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until the provider went quiet (the gateway finished the scenario's turns, and the announcements and
 * follow-ups they caused: `whenQuiet` of __test__/helpers/fake-openai.mjs), then a little for the recorder's flush. */
async function quiet(fake, quietMs = 4000, timeoutMs = 300_000) {
  if (!(await fake.whenQuiet(quietMs, timeoutMs))) log(`the provider did not go quiet within ${timeoutMs} ms`);
  await sleep(1000);
}

/**
 * Keeps the corpus small: `llm_input` carries OpenClaw's whole system prompt and every tool schema on each attempt
 * (about 150 kB): the fixture keeps the system prompt's first 2000 characters and the tools' names.
 */
function slim(line) {
  const r = JSON.parse(line);
  const e = r.evt;
  if (r.src === 'hook' && r.hook === 'llm_input' && e && typeof e === 'object') {
    if (typeof e.systemPrompt === 'string' && e.systemPrompt.length > 2000) e.systemPrompt = `${e.systemPrompt.slice(0, 2000)}…`;
    if (Array.isArray(e.tools)) e.tools = e.tools.map((t) => ({ name: t?.name ?? t?.function?.name }));
  }
  return JSON.stringify(r);
}

/**
 * What differs per target besides the release: the gateway config keys a release knows (2026.3.24 has neither
 * `tools.toolSearch` nor the conversation-hook gate).
 */
const HOSTS = {
  current: {
    // The model sees every tool's schema (sessions_spawn among them), not the tool-search surface.
    extraConfig: { tools: { toolSearch: false } },
    entry: { hooks: { allowConversationAccess: true } },
  },
  legacy: { extraConfig: {}, entry: {} },
};

const BOTH = ['current', 'legacy'];
const CURRENT = ['current'];
const LEGACY = ['legacy'];

/** A scenario of one `chat.send` turn, waited for. */
function oneTurn(name, sessionKey, message) {
  return async (gw) => {
    const r = await gw.chatSend({ sessionKey, message });
    log(`${name}: ${JSON.stringify(r.waited)}`);
  };
}

/**
 * The scenarios: [name, marker note, targets, function of the gateway and the fake provider]; the marker note names
 * the scenario for the tests.
 */
const SCENARIOS = [
  ['tool', 'chat.send: one tool call, then the answer (session e2e-tool)', LEGACY, oneTurn('tool', 'agent:main:e2e-tool', 'please usetool now')],
  ['subagent', 'chat.send: the model spawns a subagent (sessions_spawn) (session e2e-sub)', CURRENT, oneTurn('subagent', 'agent:main:e2e-sub', 'please spawnsub now')],
  ['toolchain', 'chat.send: a tool chain, two tool rounds (session e2e-chain)', CURRENT, oneTurn('toolchain', 'agent:main:e2e-chain', 'please toolchain now')],
  ['parallel', 'chat.send: two parallel tool calls in one answer (session e2e-par)', CURRENT, oneTurn('parallel', 'agent:main:e2e-par', 'please paralleltools now')],
  ['burst', 'chat.send: a burst of 3 follow-ups queued behind a busy session (session e2e-burst)', BOTH, async (gw, fake) => {
    const sessionKey = 'agent:main:e2e-burst';
    const first = randomUUID();
    await gw.chatSend({ sessionKey, message: 'slowreply: the first message', idempotencyKey: first, wait: false });
    const t0 = Date.now();
    while (fake.held() === 0) {
      if (Date.now() - t0 > 120_000) throw new Error('the first message never reached the provider');
      await sleep(100);
    }
    await Promise.all([1, 2, 3].map((i) => gw.chatSend({ sessionKey, message: `follow-up number ${i}`, wait: false })));
    await sleep(1000);
    fake.release();
    const waited = await gw.call('agent.wait', { runId: first, timeoutMs: 120_000 }, { timeoutMs: 130_000 });
    log(`burst: ${JSON.stringify(waited)}`);
  }],
  ['followups', 'chat.send: queue mode followup, a burst of 3 messages behind a busy session (session e2e-fu)', CURRENT, async (gw, fake) => {
    const sessionKey = 'agent:main:e2e-fu';
    // Each queued message gets a follow-up run of its own instead of being steered into the active run.
    const mode = await gw.chatSend({ sessionKey, message: '/queue followup' });
    log(`followups: /queue followup: ${JSON.stringify(mode.waited).slice(0, 200)}`);
    await quiet(fake);
    const first = randomUUID();
    await gw.chatSend({ sessionKey, message: 'slowreply: the first message', idempotencyKey: first, wait: false });
    const t0 = Date.now();
    while (fake.held() === 0) {
      if (Date.now() - t0 > 120_000) throw new Error('the first message never reached the provider');
      await sleep(100);
    }
    for (const i of [1, 2, 3]) await gw.chatSend({ sessionKey, message: `queued message number ${i}`, wait: false });
    await sleep(1000);
    fake.release();
    const waited = await gw.call('agent.wait', { runId: first, timeoutMs: 120_000 }, { timeoutMs: 130_000 });
    log(`followups: ${JSON.stringify(waited).slice(0, 200)}`);
  }],
  ['retry-chat', 'chat.send: provider HTTP 500, default retries (session e2e-retry)', BOTH, async (gw) => {
    const r = await gw.chatSend({ sessionKey: 'agent:main:e2e-retry', message: 'please fail500 now', timeoutMs: 300_000 });
    log(`retry-chat: ${JSON.stringify(r.waited)}`);
  }],
  ['retry-agent', 'openclaw agent: provider HTTP 500, default retries (session-id e2e-retry-cli)', CURRENT, async (gw) => {
    const r = await gw.cli(['agent', '--agent', 'main', '--session-id', 'e2e-retry-cli', '--message', 'please fail500 now', '--json',
      '--timeout', '300'], { timeoutMs: 360_000 }).catch((err) => ({ stdout: String(err.message).slice(0, 400) }));
    log(`retry-agent: ${r.stdout.trim().slice(-300)}`);
  }],
];

async function main() {
  const only = args.only ? new Set(args.only.split(',')) : null;
  const target = TARGETS[args.target];
  const host = HOSTS[args.target];
  if (!target || !host) throw new Error(`--target ${args.target}: one of ${Object.keys(HOSTS).join(', ')}`);
  const out = resolve(args.out ?? join(root, 'fixtures', `openclaw-${target.version}-scenarios.jsonl`));
  const install = await ensureOpenClaw(target, log);
  const workDir = mkdtempSync(join(tmpdir(), 'clawtrace-record-'));
  const recordFile = join(workDir, 'record.jsonl');
  const fake = await startFakeOpenAI({ logFile: join(workDir, 'provider.jsonl') });
  let gw;
  try {
    gw = await startGateway({
      install, workDir, providerUrl: fake.url,
      pluginPaths: [stagePlugin(root, join(workDir, 'clawtrace-plugin'))],
      pluginEntries: {
        clawtrace: {
          enabled: true,
          ...host.entry,
          config: {
            captureContent: true,
            record: { path: recordFile, maxBytes: 512 << 20 },
            exporters: { file: { path: join(workDir, 'traces.jsonl') } },
          },
        },
      },
      extraConfig: host.extraConfig,
      providerMaxRetries: null,
      // A loaded machine (a build next to it) can take minutes to start the gateway.
      readyTimeoutMs: 400_000,
      log,
    });
    await quiet(fake);
    for (const [name, note, targets, run] of SCENARIOS) {
      if (!targets.includes(args.target) || (only && !only.has(name))) continue;
      appendFileSync(recordFile, `${JSON.stringify({ src: 'marker', note: `--- ${note} ---` })}\n`);
      const t0 = Date.now();
      await run(gw, fake);
      await quiet(fake);
      log(`${name}: ${Date.now() - t0} ms, ${fake.requests.length} provider requests so far`);
    }
    appendFileSync(recordFile, `${JSON.stringify({ src: 'marker', note: '--- gateway stop (SIGTERM) ---' })}\n`);
    const exit = await gw.stop();
    log(`gateway exit ${JSON.stringify(exit)}`);
    await sleep(500);
    writeFileSync(out, readFileSync(recordFile, 'utf8').split('\n').filter(Boolean).map(slim).map((l) => `${l}\n`).join(''));
    const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean).length;
    log(`wrote ${out}: ${lines} lines, ${statSync(out).size} bytes`);
  } catch (err) {
    if (gw) process.stderr.write(`${gw.diagnostics()}\n`);
    throw err;
  } finally {
    await gw?.kill();
    await fake.close();
    if (args.keep) log(`work directory kept: ${workDir}`);
    else rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
