#!/usr/bin/env bash
# The release check (.ci/run, after npm test): what a user gets from npm, with no Rust toolchain.
#   1. packs the linux-x64-gnu platform package (with the release binary `npm install` built) and the root package;
#   2. installs both tarballs into an empty directory with a PATH that has no cargo, then require('clawtrace')
#      from CommonJS and `import` from ESM, each replaying the corpus into a file and reading the traces back;
#   3. installs the root package into the real OpenClaw with `openclaw plugins install` (npm install
#      --ignore-scripts, so the binary can only come from the platform package) and traces turns through it
#      (__test__/npm-route.test.mjs on these packages).
# Prints each package's size and the time each step took.
#   scripts/release-check.sh [BINARY]     default: ./clawtrace.<platform>.node (npm install / npm run build)
set -euo pipefail
cd "$(dirname "$0")/.."

# In a function, so bash has read all of it before it runs: editing this file during a run cannot derail it.
main() {
  root=$PWD
  t_start=$SECONDS
  step() { printf '== release check: %s\n' "$*"; }
  elapsed() { echo "$((SECONDS - $1)) s"; }

  work=$(mktemp -d "${TMPDIR:-/tmp}/clawtrace-release-check.XXXX")
  trap 'rm -rf "$work"' EXIT

  # A PATH without cargo: every entry that holds a cargo is dropped.
  nocargo_path=""
  IFS=: read -ra entries <<<"$PATH"
  for d in "${entries[@]}"; do
    [ -n "$d" ] && [ ! -x "$d/cargo" ] && nocargo_path="${nocargo_path:+$nocargo_path:}$d"
  done
  if env PATH="$nocargo_path" bash -c 'command -v cargo' >/dev/null; then
    echo "release check: cargo is still reachable on the reduced PATH" >&2
    exit 1
  fi
  env PATH="$nocargo_path" bash -c 'command -v node && command -v npm' >/dev/null

  step "pack"
  t=$SECONDS
  node --input-type=module -e '
    import { packRelease } from "./__test__/helpers/pack.mjs";
    const packs = packRelease({ outDir: process.argv[1], binary: process.argv[2] || undefined });
    process.stdout.write(JSON.stringify(packs));
  ' "$work/packs" "${1:-}" >"$work/packs.json"
  packs=$(cat "$work/packs.json")
  field() { node -e 'const v = process.argv[2].split(".").reduce((o, k) => o[k], JSON.parse(process.argv[1])); console.log(v)' "$packs" "$1"; }
  platform_tgz=$(field platformPack.file)
  root_tgz=$(field rootPack.file)
  platform_pkg=$(field platformPackage)
  size() { du -k "$1" | awk '{printf "%.2f MB", $1/1024}'; }
  unpacked() { tar -tvzf "$1" | awk '{s += $3} END {printf "%.2f MB", s/1048576}'; }
  echo "  $(basename "$root_tgz"): $(size "$root_tgz") packed, $(unpacked "$root_tgz") unpacked, $(tar -tzf "$root_tgz" | wc -l) files"
  echo "  $(basename "$platform_tgz"): $(size "$platform_tgz") packed, $(unpacked "$platform_tgz") unpacked"
  if tar -tzf "$root_tgz" | grep -q '\.node$'; then
    echo "release check: the root package carries a binary" >&2
    exit 1
  fi
  echo "  ($(elapsed "$t"))"

  step "npm install of both tarballs into an empty directory, no cargo on PATH"
  t=$SECONDS
  app="$work/app"
  mkdir -p "$app"
  echo '{ "name": "clawtrace-release-check", "private": true }' >"$app/package.json"
  (cd "$app" && env PATH="$nocargo_path" npm install --no-audit --no-fund --loglevel=error "$root_tgz" "$platform_tgz")
  test -f "$app/node_modules/$platform_pkg/package.json"
  echo "  installed ($(elapsed "$t"))"

  step "the root package alone (no prebuilt for this machine), no cargo: the install stops with a clear message"
  t=$SECONDS
  bare="$work/bare"
  mkdir -p "$bare"
  echo '{ "name": "clawtrace-release-check-bare", "private": true }' >"$bare/package.json"
  if (cd "$bare" && env PATH="$nocargo_path" npm install --no-audit --no-fund --loglevel=error "$root_tgz" >"$work/bare.log" 2>&1); then
    echo "release check: npm install succeeded without a binary and without cargo" >&2
    exit 1
  fi
  grep -q "building needs a Rust toolchain" "$work/bare.log" || { cat "$work/bare.log" >&2; exit 1; }
  grep -m1 "clawtrace: no prebuilt binary" "$work/bare.log" | sed 's/^/  /'
  echo "  ($(elapsed "$t"))"

  step "require('clawtrace') from CommonJS and import from ESM: corpus replayed, traces read back"
  t=$SECONDS
  cat >"$app/check.cjs" <<EOF
  const clawtrace = require('clawtrace')
  import('$root/scripts/exercise.mjs').then(async ({ exercise, CORPUS_TRACES }) => {
    const r = await exercise(clawtrace)
    console.log('  CJS', JSON.stringify(r))
    if (r.traces !== CORPUS_TRACES) process.exit(1)
  })
EOF
  cat >"$app/check.mjs" <<EOF
  import * as clawtrace from 'clawtrace'
  import { createRequire } from 'node:module'
  import { exercise, CORPUS_TRACES } from '$root/scripts/exercise.mjs'
  const r = await exercise(clawtrace)
  console.log('  ESM', JSON.stringify(r), 'binary from', createRequire(import.meta.url).resolve('$platform_pkg'))
  if (r.traces !== CORPUS_TRACES) process.exit(1)
EOF
  (cd "$app" && env PATH="$nocargo_path" node check.cjs && env PATH="$nocargo_path" node check.mjs)
  echo "  ($(elapsed "$t"))"

  step "openclaw plugins install of the packed package into OpenClaw, turns traced (__test__/npm-route.test.mjs)"
  t=$SECONDS
  env PATH="$nocargo_path" CLAWTRACE_RELEASE_PACKS="$packs" node --test --test-concurrency=1 __test__/npm-route.test.mjs
  echo "  ($(elapsed "$t"))"

  echo "release check passed in $(elapsed "$t_start")"
}

main "$@"; exit
