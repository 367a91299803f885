// End to end: the real OpenClaw gateway (installed from npm into a cache directory, run on the Node it needs) with
// clawtrace loaded from this working tree through `plugins.load.paths`, a fake OpenAI-compatible provider of our
// own, real turns (HTTP, concurrent sessions, a tool call, a provider HTTP 500, follow-ups queued behind a busy
// session), SIGTERM, and the traces in the default file sink checked turn by turn.
//
// Twice: on the current release (trusted diagnostic events with trace context) and on an early-2026 release whose
// events carry no trace context and no run/model/tool events (traces rebuilt by correlation).
//
// Nothing here skips: if OpenClaw or Node cannot be installed, or the gateway does not come up, the test fails.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { TARGETS, GATEWAY_TOKEN, ensureOpenClaw, startGateway, readOtlpTraces, checkTurnTraces, stagePlugin } from './helpers/openclaw.mjs';
import { startFakeOpenAI } from './helpers/fake-openai.mjs';
import { mlflowServer, uniqueName } from './helpers/mlflow.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => process.stderr.write(`# e2e ${msg}\n`);

/**
 * How each release treats the turns (what differs is OpenClaw's, not clawtrace's), and where the traces go: the
 * current release sends them to MLflow and the file at once (configured), the early one to the default file
 * (nothing configured).
 */
const PROFILES = {
  // 2026.9: follow-ups are injected into the active run; a failed turn ends with status "error".
  current: { mode: 'context', failStatus: 'error', followups: 'injected', mlflow: true },
  // 2026.3: follow-ups run after the active run, each as a run of its own; agent.wait says "ok" after a failure
  // (OpenClaw answers with an error text).
  legacy: { mode: 'correlation', failStatus: null, followups: 'runs', mlflow: false },
};

/** Every trace of an MLflow experiment, read back through the REST API (helpers/mlflow.mjs), in the shape
 * checkTurnTraces reads. */
async function mlflowTraces(client, experimentId) {
  return [...(await client.tracesWithSpans(experimentId))].map(([traceId, { info, spans }]) => ({
    traceId,
    info,
    spans: spans.map((s) => ({ ...s, status: { code: { OK: 1, ERROR: 2 }[s.status] ?? 0, message: s.statusMessage } })),
  }));
}

/** Sends every scenario; returns the turns to check and timings. */
async function sendTurns(gw, fake, profile) {
  const turns = [];
  const timings = {};
  const timed = async (name, fn) => {
    const t0 = Date.now();
    const r = await fn();
    timings[name] = Date.now() - t0;
    return r;
  };

  // A plain turn over the OpenAI-compatible HTTP endpoint (session agent:main:openai-user:<user>).
  const http = await timed('http', () => gw.chatCompletion({ user: 'e2e-http', content: 'hello over http' }));
  assert.equal(http.status, 200, `HTTP turn: ${JSON.stringify(http.body).slice(0, 500)}`);
  turns.push({ sessionKey: 'agent:main:openai-user:e2e-http', scenario: 'plain' });

  // Concurrent sessions: three chat.send (webchat path) and two HTTP turns at once.
  await timed('concurrent', () => Promise.all([
    ...[1, 2, 3].map(async (i) => {
      const sessionKey = `agent:main:e2e-conc-${i}`;
      const r = await gw.chatSend({ sessionKey, message: `hello from concurrent session ${i}` });
      assert.equal(r.waited?.status, 'ok', `${sessionKey}: ${JSON.stringify(r.waited)}`);
      turns.push({ sessionKey, scenario: 'plain' });
    }),
    ...[1, 2].map(async (i) => {
      const r = await gw.chatCompletion({ user: `e2e-conc-http-${i}`, content: `hello from concurrent http ${i}` });
      assert.equal(r.status, 200);
      turns.push({ sessionKey: `agent:main:openai-user:e2e-conc-http-${i}`, scenario: 'plain' });
    }),
  ]));

  // A tool call: the model asks for `read`, OpenClaw runs it, the model answers.
  const tool = await timed('tool', () => gw.chatSend({ sessionKey: 'agent:main:e2e-tool', message: 'please usetool now' }));
  assert.equal(tool.waited?.status, 'ok', JSON.stringify(tool.waited));
  turns.push({ sessionKey: 'agent:main:e2e-tool', scenario: 'tool' });

  // The provider answers HTTP 500 (OpenClaw retries, capped by the test's settings).
  const failed = await timed('fail500', () => gw.chatSend({ sessionKey: 'agent:main:e2e-fail', message: 'please fail500 now' }));
  if (profile.failStatus) assert.equal(failed.waited?.status, profile.failStatus, JSON.stringify(failed.waited));
  turns.push({ sessionKey: 'agent:main:e2e-fail', scenario: 'fail' });

  // Follow-ups queued behind a busy session: the provider holds the first turn's answer until two more messages
  // have been admitted to the same session.
  const busy = 'agent:main:e2e-busy';
  const first = randomUUID();
  await timed('busy', async () => {
    await gw.chatSend({ sessionKey: busy, message: 'slowreply: the first message', idempotencyKey: first, wait: false });
    const t0 = Date.now();
    while (fake.held() === 0) {
      if (Date.now() - t0 > 120_000) throw new Error('the first message never reached the provider');
      await sleep(100);
    }
    await Promise.all([
      gw.chatSend({ sessionKey: busy, message: 'a follow-up message', wait: false }),
      gw.chatSend({ sessionKey: busy, message: 'another follow-up message', wait: false }),
    ]);
    await sleep(1000);
    fake.release();
    const waited = await gw.call('agent.wait', { runId: first, timeoutMs: 120_000 }, { timeoutMs: 130_000 });
    assert.equal(waited.status, 'ok', JSON.stringify(waited));
    assert.ok(await fake.whenQuiet(1500), 'the provider went quiet');
  });
  turns.push({ sessionKey: busy, scenario: 'busy', traces: 3, followups: profile.followups });

  // The last turn: SIGTERM follows its answer at once, so its trace is still open or in its grace window.
  const last = await timed('last', () => gw.chatCompletion({ user: 'e2e-last', content: 'the last message before shutdown' }));
  assert.equal(last.status, 200);
  turns.push({ sessionKey: 'agent:main:openai-user:e2e-last', scenario: 'plain' });
  return { turns, timings };
}

for (const [name, target] of Object.entries(TARGETS)) {
  const profile = PROFILES[name];
  describe(`OpenClaw ${target.version} on Node ${target.node} (${profile.mode})`, { timeout: 20 * 60_000 }, () => {
    let workDir;
    let fake;
    let gw;
    let failed = false;
    const result = {};

    before(async () => {
      const t0 = Date.now();
      try {
        const install = await ensureOpenClaw(target, log);
        result.installMs = Date.now() - t0;
        workDir = mkdtempSync(join(tmpdir(), `clawtrace-e2e-${name}-`));
        fake = await startFakeOpenAI({ logFile: join(workDir, 'provider.jsonl') });
        // Nothing configured: traces go to the default file under the state directory. With MLflow, the same
        // file is configured explicitly next to it.
        let config = {};
        if (profile.mlflow) {
          result.mlflow = await mlflowServer();
          result.experimentName = uniqueName('e2e');
          config = {
            exporters: {
              file: { path: join(workDir, 'home', '.openclaw', 'clawtrace', 'traces.jsonl') },
              mlflow: { trackingUri: result.mlflow.uri, experimentName: result.experimentName },
            },
          };
        }
        gw = await startGateway({
          install, workDir, providerUrl: fake.url,
          pluginPaths: [stagePlugin(root, join(workDir, 'clawtrace-plugin'))],
          pluginEntries: { clawtrace: { enabled: true, config } },
          providerMaxRetries: 1,
          log,
        });
        result.readyMs = gw.readyMs;
        const sent = await sendTurns(gw, fake, profile);
        result.turns = sent.turns;
        result.timings = sent.timings;
        // `openclaw clawtrace status` from the OpenClaw CLI, asking the running gateway (a CLI failure is kept,
        // not thrown: the traces are still checked).
        try {
          const st = await gw.cli(['clawtrace', 'status', '--json', '--url', gw.ws, '--token', GATEWAY_TOKEN], { timeoutMs: 120_000 });
          result.status = JSON.parse(st.stdout.slice(st.stdout.indexOf('{')));
        } catch (err) {
          result.statusError = err;
        }
        const s0 = Date.now();
        result.exit = await gw.stop();
        result.stopMs = Date.now() - s0;
        result.traceFile = join(gw.stateDir, 'clawtrace', 'traces.jsonl');
        result.traces = readOtlpTraces(result.traceFile);
        result.log = gw.fileLog() + gw.output();
        result.totalMs = Date.now() - t0;
        log(`${target.version}: install/reuse ${result.installMs} ms, ready ${result.readyMs} ms, turns ${JSON.stringify(result.timings)}, ` +
          `stop ${result.stopMs} ms, ${result.traces.length} traces, total ${result.totalMs} ms`);
      } catch (err) {
        failed = true;
        throw err;
      }
    }, { timeout: 20 * 60_000 });

    after(async () => {
      await gw?.kill();
      await fake?.close();
      if (failed && gw) {
        process.stderr.write(`${gw.diagnostics()}\n--- provider requests\n${fake?.requests.map((r) => JSON.stringify(r)).join('\n')}\n`);
        process.stderr.write(`--- work directory kept: ${workDir}\n`);
      } else if (workDir) {
        rmSync(workDir, { recursive: true, force: true });
      }
    });

    it('stops cleanly on SIGTERM', () => {
      try {
        assert.deepEqual(result.exit, { code: 0, signal: null }, `gateway exit ${JSON.stringify(result.exit)}`);
      } catch (err) {
        failed = true;
        throw err;
      }
    });

    it('openclaw clawtrace status reports the sinks and, from the running gateway, its counters', () => {
      if (result.statusError) throw result.statusError;
      const r = result.status;
      const sinks = r.local.sinks.sinks.map((x) => x.sink);
      assert.deepEqual(sinks, profile.mlflow ? ['file', 'mlflow'] : ['file'], JSON.stringify(r.local.sinks));
      assert.equal(r.local.capture.effective, 'off');
      if (profile.mode === 'context') {
        const g = r.gateway.snapshot;
        assert.ok(g, `the gateway answered clawtrace.status: ${JSON.stringify(r.gateway)}`);
        assert.equal(g.active, true);
        assert.equal(g.openclaw, target.version);
        assert.ok(g.stats.eventsReceived > 0 && g.stats.tracesCompleted > 0, JSON.stringify(g.stats));
        assert.ok(g.stats.sinks.file.spansExported > 0, `the file sink's counters: ${JSON.stringify(g.stats.sinks)}`);
        assert.ok(!JSON.stringify(r).includes(GATEWAY_TOKEN), 'the gateway token is not echoed');
      } else {
        // The early-2026 SDK has no gateway RPC for plugin commands: the report says so instead of failing.
        assert.ok(r.gateway.snapshot || r.gateway.error, JSON.stringify(r.gateway));
      }
    });

    it('one trace per turn: tree, usage, errors, sessions, follow-ups', () => {
      try {
        const { problems, summary } = checkTurnTraces(result.traces, result.turns, { mode: profile.mode });
        log(`${target.version}: checked ${summary.traces} traces (${summary.spans} spans) of ${summary.sessions} sessions`);
        assert.deepEqual(problems, [], `trace problems:\n${problems.join('\n')}`);
      } catch (err) {
        failed = true;
        throw err;
      }
    });

    if (profile.mlflow) {
      it('MLflow holds the same traces, and they pass the same checks', async () => {
        try {
          const { client } = result.mlflow;
          const exp = await client.experimentByName(result.experimentName);
          assert.ok(exp, `the sink created experiment ${result.experimentName}`);
          const traces = await mlflowTraces(client, exp.experiment_id);
          assert.deepEqual(traces.map((t) => t.traceId).sort(), result.traces.map((t) => t.traceId).sort(), 'MLflow and the file hold the same traces');
          const spans = (ts) => ts.reduce((n, t) => n + t.spans.length, 0);
          assert.equal(spans(traces), spans(result.traces), 'and the same spans');
          // MLflow keeps no span links: the follow-ups' link to the active run is checked on the file only.
          const { problems, summary } = checkTurnTraces(traces, result.turns, { mode: profile.mode, links: false });
          log(`${target.version}: MLflow: checked ${summary.traces} traces (${summary.spans} spans)`);
          assert.deepEqual(problems, [], `MLflow trace problems:\n${problems.join('\n')}`);
          for (const t of traces) {
            const root = t.spans.find((s) => !s.parentSpanId);
            const sk = root.attrs['session.id'];
            if (!result.turns.some((x) => x.sessionKey === sk)) continue;
            assert.equal(t.info.state, root.status.code === 2 ? 'ERROR' : 'OK', `MLflow state of ${sk}`);
            assert.equal(t.info.trace_metadata['mlflow.trace.session'], sk, `MLflow session of ${sk}`);
            const u = t.info.trace_metadata['mlflow.trace.tokenUsage'];
            if (root.attrs['openclaw.usage.total.output_tokens'] > 0) {
              assert.equal(JSON.parse(u).output_tokens, root.attrs['openclaw.usage.total.output_tokens'], `MLflow token usage of ${sk}`);
            }
          }
        } catch (err) {
          failed = true;
          throw err;
        }
      });
    }

    it('the plugin explains itself once and loses nothing at shutdown', () => {
      try {
        // The gateway's log holds each line twice, as console text and as a JSON file-log record: count one form.
        const lines = result.log.split('\n').filter((l) => l.includes('[clawtrace]') && !l.trimStart().startsWith('{'));
        const capability = lines.filter((l) => l.includes(`tracing OpenClaw ${target.version}`));
        assert.equal(capability.length, 1, `one capability line:\n${lines.join('\n')}`);
        assert.ok(capability.every((l) => l.includes(profile.mode === 'context' ? 'via onInternalDiagnosticEvent' : 'correlation mode')),
          `capability line names the bus:\n${capability.join('\n')}`);
        const stopped = lines.filter((l) => l.includes('[clawtrace] stopped ('));
        assert.equal(stopped.length, 1, `one stop line:\n${lines.join('\n')}`);
        const file = /file: (\d+) traces, (\d+) spans exported/.exec(stopped.at(-1));
        assert.ok(file, stopped.at(-1));
        assert.equal(Number(file[1]), result.traces.length, 'every trace the file sink got is in the file');
        assert.equal(Number(file[2]), result.traces.reduce((n, t) => n + t.spans.length, 0), 'and every span');
        if (profile.mlflow) assert.match(stopped.at(-1), new RegExp(`mlflow: ${result.traces.length} traces`));
        assert.ok(!lines.some((l) => /not everything was delivered|lost|dropped|failed|invalid/.test(l)), `no loss or error:\n${lines.join('\n')}`);
      } catch (err) {
        failed = true;
        throw err;
      }
    });
  });
}
