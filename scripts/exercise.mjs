// Proves that a loaded clawtrace addon works: replays the bundled OpenClaw corpus into a file sink, shuts down,
// reads the traces back from the file and prints one JSON line. Shared by every binary check
// (scripts/build-all.sh under native Node, qemu and wine; scripts/release-check.sh from CJS and ESM).
//
//   node scripts/exercise.mjs MODULE [OUT_DIR]     MODULE: a path to a .node file, a loader (index.js) or a package dir
//   import { exercise } from './exercise.mjs'; await exercise(clawtrace)
//
// Runs on any Node ≥ 18 on any platform (the Windows Node under wine included): builtins only.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readOtlpTraces } from '../__test__/helpers/openclaw.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
export const CORPUS = join(root, 'fixtures', 'openclaw-2026.9.6-gateway.jsonl');
/** Traces the corpus assembles into (one per recorded agent turn or request). */
export const CORPUS_TRACES = 19;

/** Configures a file sink, replays the corpus, shuts down and counts what the file holds. */
export async function exercise(clawtrace, { outDir, corpus = CORPUS } = {}) {
  const dir = outDir ?? mkdtempSync(join(tmpdir(), 'clawtrace-exercise-'));
  const file = join(dir, 'traces.jsonl');
  try {
    await clawtrace.configure({ exporters: { file: { path: file } } });
    const replay = await clawtrace.replay(corpus);
    const delivered = await clawtrace.shutdown(30_000);
    const traces = readOtlpTraces(file);
    return {
      platform: `${process.platform}-${process.arch}`,
      node: process.version,
      delivered,
      replayed: replay,
      traces: traces.length,
      spans: traces.reduce((n, t) => n + t.spans.length, 0),
    };
  } finally {
    // Best effort: on Windows the file sink keeps its file open after shutdown() (until the next configure() or
    // the process ends), and an open file cannot be removed there.
    try {
      if (!outDir) rmSync(dir, { recursive: true, force: true });
    } catch {}
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [target, outDir] = process.argv.slice(2);
  if (!target) {
    process.stderr.write('usage: node scripts/exercise.mjs MODULE [OUT_DIR]\n');
    process.exit(2);
  }
  const require = createRequire(import.meta.url);
  exercise(require(resolve(target)), { outDir })
    .then((r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      process.exit(r.traces === CORPUS_TRACES ? 0 : 1);
    })
    .catch((err) => {
      process.stderr.write(`exercise: ${err && err.stack ? err.stack : err}\n`);
      process.exit(1);
    });
}
