// The published route, end to end: the packages as `npm pack` makes them (the root without a binary, the platform
// package with one; __test__/helpers/pack.mjs), installed into the real OpenClaw with `openclaw plugins install`
// — which runs `npm install --omit=dev --ignore-scripts` for the plugin, so the binary can only come from the
// platform package that npm installs as an optional dependency — configured under plugins.entries.clawtrace.config.
//
// By default it packs this working tree's build. scripts/release-check.sh runs it on the packages it made
// (CLAWTRACE_RELEASE_PACKS: the JSON that packRelease returned) with no cargo on PATH.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TARGETS, ensureOpenClaw, startGateway, readOtlpTraces, checkTurnTraces } from './helpers/openclaw.mjs';
import { startFakeOpenAI } from './helpers/fake-openai.mjs';
import { packRelease, root } from './helpers/pack.mjs';

const log = (msg) => process.stderr.write(`# npm-route ${msg}\n`);

/** Every directory under `dir` named `name` (the installed plugin's copy of the platform package). */
function findDirs(dir, name, depth = 8) {
  const out = [];
  if (depth < 0 || !existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const p = join(dir, e.name);
    if (e.name === name) out.push(p);
    else out.push(...findDirs(p, name, depth - 1));
  }
  return out;
}

// .ci/run runs this once, in the release check (no cargo on PATH); its `npm test` says so and leaves it there.
const inReleaseCheckOnly = process.env.CLAWTRACE_NPM_ROUTE_IN_RELEASE_CHECK === '1' && !process.env.CLAWTRACE_RELEASE_PACKS;

describe(`npm route: the packed packages installed with openclaw plugins install (OpenClaw ${TARGETS.current.version})`, { timeout: 20 * 60_000, skip: inReleaseCheckOnly && 'run by scripts/release-check.sh' }, () => {
  let workDir;
  let fake;
  let gw;
  let failed = false;
  const result = {};

  before(async () => {
    const t0 = Date.now();
    try {
      const install = await ensureOpenClaw(TARGETS.current, log);
      workDir = mkdtempSync(join(tmpdir(), 'clawtrace-npm-route-'));
      result.packs = process.env.CLAWTRACE_RELEASE_PACKS
        ? JSON.parse(process.env.CLAWTRACE_RELEASE_PACKS)
        : packRelease({ outDir: join(workDir, 'packs') });
      result.traceFile = join(workDir, 'configured-traces.jsonl');
      fake = await startFakeOpenAI({ logFile: join(workDir, 'provider.jsonl') });
      gw = await startGateway({
        install, workDir, providerUrl: fake.url,
        pluginEntries: { clawtrace: { enabled: true, config: { serviceName: 'clawtrace-e2e', exporters: { file: { path: result.traceFile } } } } },
        prepare: async ({ cli }) => {
          const out = await cli(['plugins', 'install', result.packs.openclawPack.file, '--force', '--accept-capabilities']);
          result.installOutput = out.stdout + out.stderr;
        },
        log,
      });
      result.installed = findDirs(join(gw.stateDir, 'extensions'), result.packs.platformPackage);
      const http = await gw.chatCompletion({ user: 'e2e-npm', content: 'hello from the npm route' });
      assert.equal(http.status, 200);
      const tool = await gw.chatSend({ sessionKey: 'agent:main:e2e-npm-tool', message: 'please usetool now' });
      assert.equal(tool.waited?.status, 'ok');
      result.exit = await gw.stop();
      result.log = gw.fileLog() + gw.output();
      result.traces = readOtlpTraces(result.traceFile);
      log(`${Date.now() - t0} ms, ${result.traces.length} traces`);
    } catch (err) {
      failed = true;
      throw err;
    }
  }, { timeout: 20 * 60_000 });

  after(async () => {
    await gw?.kill();
    await fake?.close();
    if (failed && gw) process.stderr.write(`${result.installOutput ?? ''}\n${gw.diagnostics()}\n--- work directory kept: ${workDir}\n`);
    else if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('installs the binary as the optional platform package, not inside the root package', () => {
    try {
      assert.match(result.installOutput, /Installed plugin: clawtrace/);
      assert.equal(result.installed.length, 1, `${result.packs.platformPackage} under extensions/: ${result.installed}`);
      const pkg = JSON.parse(readFileSync(join(result.installed[0], 'package.json'), 'utf8'));
      assert.equal(pkg.version, result.packs.version);
      const pluginDir = join(result.installed[0], '..', '..');
      assert.deepEqual(readdirSync(pluginDir).filter((f) => f.endsWith('.node')), [], 'no binary in the root package');
    } catch (err) {
      failed = true;
      throw err;
    }
  });

  it('loads from the installed copy, uses the configured sink and service name, traces the turns', async () => {
    try {
      const capability = result.log.split('\n').find((l) => l.includes('[clawtrace] tracing OpenClaw'));
      assert.ok(capability, 'capability line');
      assert.ok(capability.includes(result.traceFile), `traces to the configured file: ${capability}`);
      assert.ok(!capability.includes(root), 'not the working tree');
      const { problems } = checkTurnTraces(result.traces, [
        { sessionKey: 'agent:main:openai-user:e2e-npm', scenario: 'plain' },
        { sessionKey: 'agent:main:e2e-npm-tool', scenario: 'tool' },
      ]);
      assert.deepEqual(problems, []);
      const first = JSON.parse(readFileSync(result.traceFile, 'utf8').split('\n')[0]);
      const service = first.resourceSpans[0].resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
      assert.equal(service, 'clawtrace-e2e');
      assert.deepEqual(result.exit, { code: 0, signal: null });
    } catch (err) {
      failed = true;
      throw err;
    }
  });
});
