// Packing clawtrace as it is published (README, "Prebuilt binaries"): the platform package `npm/<platform>/` with
// its binary, and the root package, which carries no binary and names the platform packages as
// optionalDependencies. Shared by the npm-route test (__test__/npm-route.test.mjs) and scripts/release-check.sh.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

/** This machine's napi-rs platform name (`linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`, …). */
export function hostPlatform() {
  const { platform, arch } = process;
  if (platform === 'linux') return `linux-${arch}-${process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl'}`;
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

function npmPack(dir, dest) {
  const out = execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', dest], { cwd: dir, encoding: 'utf8' });
  const file = join(dest, out.trim().split('\n').at(-1));
  return { file, bytes: statSync(file).size };
}

/**
 * Packs the platform package for this machine (with `binary`, by default the tree's own build) and the root
 * package into `outDir`. Also packs `openclaw/clawtrace-<version>.tgz`: the root package with its optional
 * dependency on this platform's package pointed at the platform tarball (`file:`), because the registry does not
 * have this version. Installing that one runs the real npm route (optionalDependencies resolved by npm, filtered
 * by os/cpu/libc, installed next to the package) for an installer that only takes one package, like
 * `openclaw plugins install`.
 */
export function packRelease({ outDir, binary } = {}) {
  const platform = hostPlatform();
  const name = `clawtrace.${platform}.node`;
  binary ??= join(root, name);
  if (!existsSync(binary)) throw new Error(`${binary} is missing: build it first (npm install / npm run build)`);
  const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const platformPkgName = `${rootPkg.name}-${platform}`;
  if (rootPkg.optionalDependencies?.[platformPkgName] !== rootPkg.version) {
    throw new Error(`package.json: optionalDependencies.${platformPkgName} must be ${rootPkg.version}`);
  }

  // The platform package from a copy of npm/<platform>/, so the checkout is left as it was.
  const stage = join(outDir, 'stage', platform);
  mkdirSync(stage, { recursive: true });
  for (const f of ['package.json', 'README.md']) copyFileSync(join(root, 'npm', platform, f), join(stage, f));
  copyFileSync(binary, join(stage, name));
  const platformPack = npmPack(stage, outDir);
  const rootPack = npmPack(root, outDir);

  // The same root package with the optional dependency on this platform resolved to the tarball.
  const unpacked = join(outDir, 'stage', 'root');
  mkdirSync(unpacked, { recursive: true });
  execFileSync('tar', ['-xzf', rootPack.file, '-C', unpacked]);
  const manifestPath = join(unpacked, 'package', 'package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  manifest.optionalDependencies[platformPkgName] = `file:${platformPack.file}`;
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  const openclawDir = join(outDir, 'openclaw');
  mkdirSync(openclawDir, { recursive: true });
  const openclawPack = npmPack(join(unpacked, 'package'), openclawDir);

  return { platform, platformPackage: platformPkgName, version: rootPkg.version, platformPack, rootPack, openclawPack };
}
