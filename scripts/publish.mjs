#!/usr/bin/env node
// Publishes a release to npm the napi-rs way (what `napi pre-publish` + `npm publish` do), in the order that never
// leaves a root package pointing at platform packages that are not there yet:
//   1. versions in sync: every npm/<platform>/package.json and the root's optionalDependencies take the root
//      package's version;
//   2. every platform package has its binary (scripts/build-all.sh, or the release workflow's artifacts);
//   3. `npm publish` of each platform package, then of the root package.
//   node scripts/publish.mjs [--dry-run] [--tag TAG]     (--dry-run: npm publish --dry-run, nothing uploaded)
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const dryRun = args.includes('--dry-run');
const tag = args.includes('--tag') ? args[args.indexOf('--tag') + 1] : undefined;

const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'));
const writeJson = (p, v) => writeFileSync(p, `${JSON.stringify(v, null, 2)}\n`);

const rootPkgPath = join(root, 'package.json');
const rootPkg = readJson(rootPkgPath);
const { version } = rootPkg;

/** napi-rs's platform name for a Rust target triple, as napi.targets lists them. */
function platformOf(triple) {
  const [arch, , os, abi] = triple.split('-');
  const cpu = { x86_64: 'x64', aarch64: 'arm64' }[arch];
  const platform = { linux: 'linux', apple: 'darwin', darwin: 'darwin', windows: 'win32' }[os] ?? os;
  if (!cpu) throw new Error(`unknown architecture in ${triple}`);
  if (triple.includes('apple')) return `darwin-${cpu}`;
  return abi ? `${platform}-${cpu}-${abi}` : `${platform}-${cpu}`;
}

const platforms = rootPkg.napi.targets.map(platformOf);
const problems = [];
for (const platform of platforms) {
  const dir = join(root, 'npm', platform);
  const pkgPath = join(dir, 'package.json');
  const pkg = readJson(pkgPath);
  if (pkg.version !== version) {
    pkg.version = version;
    writeJson(pkgPath, pkg);
  }
  if (rootPkg.optionalDependencies?.[pkg.name] !== version) {
    rootPkg.optionalDependencies = { ...rootPkg.optionalDependencies, [pkg.name]: version };
  }
  if (!existsSync(join(dir, pkg.main))) problems.push(`${platform}: ${pkg.main} is missing (run npm run build:all)`);
}
writeJson(rootPkgPath, rootPkg);
if (problems.length) {
  console.error(`publish: not every platform package has its binary:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}

const publish = (cwd) => {
  const cmd = ['publish', '--access', 'public', ...(tag ? ['--tag', tag] : []), ...(dryRun ? ['--dry-run'] : [])];
  console.log(`npm ${cmd.join(' ')}  (${cwd})`);
  execFileSync('npm', cmd, { cwd, stdio: 'inherit' });
};
for (const platform of platforms) publish(join(root, 'npm', platform));
publish(root);
console.log(`${dryRun ? 'dry run: would have published' : 'published'} ${rootPkg.name}@${version} and ${platforms.length} platform packages`);
