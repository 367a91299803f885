// No secret leaves: every sink configured with distinctive credentials, every error path driven against loopback
// servers (401/403 bodies echoing the request headers and URL, a 400 rejecting the batch, a refused connection,
// wrongly typed configuration), spans carrying every generated secret kind in free text. Then stdout, stderr,
// onError, stats(), spool files, the file sink's output and every request body the servers received are grepped
// for every configured secret (and its Basic form) and every generated secret: zero hits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { execFile } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { leaksIn, secretCorpus } from './helpers/secrets.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const corpus = secretCorpus(11);
const generated = corpus.flatMap((s) => s.parts.filter((p) => p.length >= 8));

// Distinctive configured secrets: each value below must never be seen outside the request headers.
const S = {
  otlpBearer: 'ctsec-otlp-bearer-7Qx2Lm9',
  otlpKey: 'ctsec-otlp-apikey-Vb81Kq3',
  otlpQuery: 'ctsec-otlp-query-Hn40Zr5',
  otlpUrlPassword: 'ctsec-url-pass-Jd62Wy1',
  mlflowPassword: 'ctsec-mlflow-pw-Tq95Ae4',
  mlflowUser: 'ctsec-mlflow-user',
  langfusePublic: 'pk-lf-ctsec-public-Gs3',
  langfuseSecret: 'sk-lf-ctsec-secret-Pu7Rf2',
  numericSecret: '8675309123456',
};
const basic = (u, p) => Buffer.from(`${u}:${p}`).toString('base64');
const configured = [
  ...Object.entries(S).filter(([k]) => !/User|Public/.test(k)).map(([, v]) => v),
  basic(S.mlflowUser, S.mlflowPassword),
  basic(S.langfusePublic, S.langfuseSecret),
  basic('ctsec-url-user', S.otlpUrlPassword),
];

let work;
const servers = [];
/** Bodies every loopback server received (decompressed): "every sink's output". */
const received = [];

/** A backend that answers `status` with a body echoing the request's headers and URL, as some proxies do. */
async function echoServer(status) {
  const srv = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      received.push(body);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'denied', url: req.url, headers: req.headers }));
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  servers.push(srv);
  return `http://127.0.0.1:${srv.address().port}`;
}

/** A port nobody listens on. */
async function closedPort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const port = srv.address().port;
  await new Promise((r) => srv.close(r));
  return port;
}

before(() => {
  work = mkdtempSync(join(tmpdir(), 'clawtrace-secrets-'));
});
after(() => {
  for (const s of servers) s.close();
  rmSync(work, { recursive: true, force: true });
});

/** Events whose free text carries every generated secret: run errors (status messages), hook errors, content. */
function records() {
  const lines = [];
  const hex = (n, len) => n.toString(16).padStart(len, '0');
  corpus.forEach((s, i) => {
    const trace = { traceId: hex(i + 1, 32), spanId: hex(i + 1, 16) };
    const base = { runId: `run-${i}`, sessionKey: `agent:main:s${i}`, sessionId: `sess-${i}`, provider: 'fake', model: 'fake-model', trace };
    const t = 1795760000000 + i * 10;
    lines.push({ src: 'diagnostic', pid: 1, rt: t, meta: { trusted: true }, evt: { type: 'harness.run.started', ...base, seq: 1, ts: t } });
    lines.push({ src: 'hook', pid: 1, rt: t + 1, hook: 'llm_input', evt: { runId: `run-${i}`, prompt: `use this: ${s.text}`, systemPrompt: s.text }, ctx: { runId: `run-${i}`, sessionKey: base.sessionKey } });
    lines.push({ src: 'hook', pid: 1, rt: t + 2, hook: 'after_tool_call', evt: { runId: `run-${i}`, toolName: 'read', toolCallId: `tc-${i}`, error: `tool failed: ${s.text}`, result: s.text }, ctx: { runId: `run-${i}`, sessionKey: base.sessionKey } });
    lines.push({ src: 'diagnostic', pid: 1, rt: t + 3, meta: { trusted: true }, evt: { type: 'harness.run.completed', ...base, outcome: 'error', error: `Incorrect API key provided: ${s.text} for alice.smith@example.com`, seq: 2, ts: t + 3 } });
  });
  return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
}

/** The child: wrong-type configurations first, then the real one, the events, a flush, and a late onError. */
const CHILD = `
const ct = require(process.env.CT_INDEX);
const { wrong, cfg, records } = JSON.parse(require('fs').readFileSync(process.env.CT_INPUT, 'utf8'));
(async () => {
  const out = { configErrors: [], reports: [] };
  for (const w of wrong) {
    // Values JSON cannot carry are rebuilt here.
    if (w.mapHeaders) w.cfg.exporters.otlp.headers = new Map([['authorization', w.mapHeaders]]);
    try { await ct.configure(w.cfg); out.configErrors.push('accepted: ' + w.label); } catch (e) { out.configErrors.push(e.message); }
  }
  await ct.configure(cfg);
  const sum = await ct.replay(records, 20000);
  await ct.flush(5000);
  // Registered only now: the first report of each kind was kept for it.
  ct.onError((r) => { out.reports.push(r); console.error('clawtrace: ' + r.sink + ' ' + r.kind + ': ' + r.message); });
  await new Promise((r) => setTimeout(r, 300));
  out.summary = sum;
  out.stats = ct.stats();
  await ct.shutdown(3000);
  console.log(JSON.stringify(out));
})().catch((e) => { console.error('child failed: ' + (e && e.message)); process.exit(3); });
`;

function run(cmd, args, env) {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, cwd: work, maxBuffer: 64 << 20, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err?.code ?? 0, stdout, stderr }));
  });
}

/** Every file under `dir`, as bytes. */
function filesUnder(dir) {
  const out = [];
  let entries = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of entries) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push([p, readFileSync(p)]);
  }
  return out;
}

function assertNoLeaks(where, haystack) {
  const hits = leaksIn(haystack, [...configured, ...generated]);
  const text = Buffer.isBuffer(haystack) ? haystack.toString('latin1') : String(haystack);
  const around = (h) => JSON.stringify(text.slice(Math.max(0, text.indexOf(h) - 120), text.indexOf(h) + h.length + 20));
  assert.deepEqual(hits, [], `${where} leaks: ${hits.map((h) => `${corpus.find((s) => s.parts.includes(h))?.kind ?? 'a configured secret'} in ${around(h)}`).join('; ')}`);
}

test('every error path, every sink: no configured secret and no generated secret anywhere', async () => {
  const otlp = await echoServer(401);
  const mlflow = await echoServer(403);
  const langfuse = await echoServer(401);
  const rejecting = await echoServer(400);
  const refused = await closedPort();
  const spool = join(work, 'spool');
  const file = join(work, 'traces.jsonl');
  const recordFile = join(work, 'records.jsonl');
  writeFileSync(recordFile, records());
  const batch = { retryDeadlineMs: 300, exportTimeoutMs: 2000, maxDelayMs: 10 };
  const common = { captureContent: true, graceMs: 10, batch, spool: { dir: spool, maxBytes: 64 << 20 } };
  const wrong = [
    { label: 'headers as a string', cfg: { exporters: { otlp: { headers: `authorization=Bearer ${S.otlpBearer}` } } } },
    { label: 'numeric secretKey', cfg: { exporters: { langfuse: { publicKey: S.langfusePublic, secretKey: Number(S.numericSecret) } } } },
    { label: 'numeric password', cfg: { exporters: { mlflow: { trackingUri: mlflow, username: 'u', password: Number(S.numericSecret) } } } },
    { label: 'password in an array', cfg: { exporters: { mlflow: { password: [S.mlflowPassword] } } } },
    { label: 'headers as a Map', mapHeaders: `Bearer ${S.otlpBearer}`, cfg: { exporters: { otlp: {} } } },
    { label: 'token as an object', cfg: { exporters: { mlflow: { token: { value: S.otlpKey } } } } },
    { label: 'endpoint not a URL', cfg: { exporters: { otlp: { endpoint: `ctsec ${S.otlpQuery}` } } } },
  ];
  const scenarios = [
    {
      name: '401/403 bodies echoing the headers',
      cfg: {
        ...common,
        exporters: {
          file: { path: file },
          otlp: { endpoint: `${otlp}/?api_key=${S.otlpQuery}`, headers: { authorization: `Bearer ${S.otlpBearer}`, 'x-api-key': S.otlpKey } },
          mlflow: { trackingUri: mlflow, username: S.mlflowUser, password: S.mlflowPassword },
          langfuse: { baseUrl: langfuse, publicKey: S.langfusePublic, secretKey: S.langfuseSecret },
        },
      },
    },
    {
      name: 'refused connection and a rejected batch',
      cfg: {
        ...common,
        exporters: {
          otlp: { endpoint: `http://ctsec-url-user:${S.otlpUrlPassword}@127.0.0.1:${refused}`, headers: { authorization: `Bearer ${S.otlpBearer}` } },
          langfuse: { baseUrl: rejecting, publicKey: S.langfusePublic, secretKey: S.langfuseSecret },
        },
      },
    },
  ];
  for (const sc of scenarios) {
    const input = join(work, 'input.json');
    writeFileSync(input, JSON.stringify({ wrong, cfg: sc.cfg, records: recordFile }));
    const script = join(work, 'child.cjs');
    writeFileSync(script, CHILD);
    const r = await run(process.execPath, [script], { CT_INDEX: join(root, 'index.js'), CT_INPUT: input });
    assert.equal(r.code, 0, `${sc.name}: child exit ${r.code}: ${r.stderr}`);
    const out = JSON.parse(r.stdout);
    // The paths were driven: every wrong configuration rejected naming its field, errors reported and counted.
    assert.equal(out.configErrors.length, wrong.length);
    for (const m of out.configErrors) assert.match(m, /^invalid clawtrace config: /, m);
    assert.match(out.configErrors[0], /exporters\.otlp\.headers/);
    assert.match(out.configErrors[1], /exporters\.langfuse\.secretKey/);
    assert.match(out.configErrors[4], /exporters\.otlp\.headers: expected a plain object, got a Map/);
    assert.equal(out.summary.events, corpus.length * 4, `${sc.name}: every record replayed`);
    assert.ok(out.reports.length >= 2, `${sc.name}: reports made before onError arrive once it is registered: ${JSON.stringify(out.reports)}`);
    const counted = Object.values(out.stats.errors).flatMap((k) => Object.values(k)).reduce((a, b) => a + b, 0);
    assert.ok(counted >= out.reports.length, `${sc.name}: stats().errors counts every error`);
    for (const [where, text] of [['stdout', r.stdout], ['stderr', r.stderr], ['onError', JSON.stringify(out.reports)], ['stats()', JSON.stringify(out.stats)], ['config errors', out.configErrors.join('\n')]]) {
      assertNoLeaks(`${sc.name}: ${where}`, text);
    }
  }
  assert.ok(received.length > 0, 'the backends were reached');
  received.forEach((b, i) => assertNoLeaks(`request body #${i}`, b));
  const spooled = filesUnder(spool);
  assert.ok(spooled.length > 0, 'batches went to the spool');
  for (const [p, b] of spooled) assertNoLeaks(`spool file ${p}`, b);
  const exported = readFileSync(file);
  assert.ok(exported.includes('[REDACTED]'), 'the file sink received the redacted spans');
  assertNoLeaks('file sink output', exported);
});

test('the CLI: a failing backend echoing credentials, and a config file that is not JSON', async () => {
  const otlp = await echoServer(401);
  const cfgFile = join(work, 'cli-config.json');
  writeFileSync(cfgFile, JSON.stringify({
    batch: { retryDeadlineMs: 300 },
    exporters: { otlp: { endpoint: `${otlp}/?api_key=${S.otlpQuery}`, headers: { authorization: `Bearer ${S.otlpBearer}` } } },
  }));
  const recordFile = join(work, 'cli-records.jsonl');
  writeFileSync(recordFile, records());
  const cli = join(root, 'bin', 'clawtrace.js');
  const r = await run(process.execPath, [cli, 'replay', recordFile, '--config', cfgFile, '--timeout-ms', '20000']);
  assert.equal(r.code, 1, 'spans were not delivered: the exit code says so');
  assert.match(r.stderr, /otlp/, 'the failure is reported');
  assertNoLeaks('CLI stdout', r.stdout);
  assertNoLeaks('CLI stderr', r.stderr);

  const broken = join(work, 'broken.json');
  writeFileSync(broken, `{"exporters": {"otlp": {"headers": {"authorization": "Bearer ${S.otlpBearer}" }}`);
  const b = await run(process.execPath, [cli, 'replay', recordFile, '--config', broken]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /not valid JSON/);
  assertNoLeaks('CLI stderr for a broken config file', b.stderr);
});
