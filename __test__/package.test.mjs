// The npm packages as published (README, "Prebuilt binaries"): the root package carries what users need and
// nothing else, and names one platform package per napi-rs target, each of which npm installs only where it fits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** napi-rs's platform name of a Rust target triple. */
function platformOf(triple) {
  const cpu = { x86_64: 'x64', aarch64: 'arm64' }[triple.split('-')[0]];
  if (triple.includes('-apple-darwin')) return { name: `darwin-${cpu}`, os: 'darwin', cpu };
  if (triple.includes('-windows-')) return { name: `win32-${cpu}-${triple.split('-').at(-1)}`, os: 'win32', cpu };
  const abi = triple.split('-').at(-1);
  return { name: `linux-${cpu}-${abi}`, os: 'linux', cpu, libc: abi === 'gnu' ? 'glibc' : 'musl' };
}

test('the root tarball holds what users need: loader, types, CLI, plugin, sources for a fallback build; no binary', () => {
  const [{ files, size }] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }));
  const paths = files.map((f) => f.path);
  for (const needed of ['index.js', 'index.d.ts', 'config.d.ts', 'bin/clawtrace.js', 'plugin/index.mjs', 'openclaw.plugin.json',
    'scripts/ensure-binary.js', 'Cargo.toml', 'Cargo.lock', 'src/lib.rs', 'crates/core/Cargo.toml', 'crates/core/src/lib.rs',
    'fixtures/openclaw-2026.9.6-gateway.jsonl', 'bench/synth.js']) {
    assert.ok(paths.includes(needed), `${needed} is in the package`);
  }
  const unwanted = paths.filter((p) => /\.node$/.test(p) || /^(__test__|npm|docs|target|\.cache|\.github|\.ci)\//.test(p) ||
    (/^bench\//.test(p) && p !== 'bench/synth.js') || (/^scripts\//.test(p) && p !== 'scripts/ensure-binary.js') ||
    (/^fixtures\//.test(p) && p !== 'fixtures/openclaw-2026.9.6-gateway.jsonl') || /^crates\/core\/tests\//.test(p));
  assert.deepEqual(unwanted, []);
  assert.ok(size < 1_000_000, `packed size ${size} bytes`);
});

test('one platform package per napi target, each installable only where it fits, all at the root version', () => {
  const names = [];
  for (const triple of pkg.napi.targets) {
    const p = platformOf(triple);
    const sub = JSON.parse(readFileSync(join(root, 'npm', p.name, 'package.json'), 'utf8'));
    const file = `${pkg.napi.binaryName}.${p.name}.node`;
    assert.equal(sub.name, `${pkg.name}-${p.name}`);
    assert.equal(sub.version, pkg.version, `${sub.name} version`);
    assert.equal(sub.main, file);
    assert.deepEqual(sub.files, [file]);
    assert.deepEqual(sub.os, [p.os]);
    assert.deepEqual(sub.cpu, [p.cpu]);
    assert.deepEqual(sub.libc, p.libc ? [p.libc] : undefined, `${sub.name} libc`);
    assert.equal(pkg.optionalDependencies[sub.name], pkg.version, `optionalDependencies.${sub.name}`);
    names.push(sub.name);
  }
  assert.deepEqual(Object.keys(pkg.optionalDependencies).sort(), names.sort(), 'no optional dependency without a target');
  // The loader looks each package up by this name (the official Windows Node takes the msvc branch).
  const loader = readFileSync(join(root, 'index.js'), 'utf8');
  for (const name of names) assert.ok(loader.includes(`require('${name}')`), `index.js loads ${name}`);
});

test('npm run demo writes its output where git ignores it', () => {
  const out = /--out\s+(\S+)/.exec(pkg.scripts.demo)?.[1];
  assert.ok(out, `npm run demo names its output: ${pkg.scripts.demo}`);
  const ignored = execFileSync('git', ['check-ignore', '--no-index', '-v', out], { cwd: root, encoding: 'utf8' });
  assert.match(ignored, new RegExp(out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
});
