#!/usr/bin/env node
// npm "install" step: use a prebuilt binary when one loads (the platform package npm installed as an optional
// dependency; in a development checkout, only a binary built there), otherwise build the addon from source with
// cargo. Building needs a Rust toolchain; the error says so when it is missing.
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const napiCli = path.join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
// A development checkout (dev dependencies installed) tests its own sources: only a binary built here counts, never
// a published platform package that npm may have installed as an optional dependency.
const checkout = fs.existsSync(napiCli)
const abi = process.platform === 'linux' ? (process.report?.getReport()?.header?.glibcVersionRuntime ? '-gnu' : '-musl') : process.platform === 'win32' ? '-msvc' : ''
const localBinary = path.join(root, `clawtrace.${process.platform}-${process.arch}${abi}.node`)

function loads() {
  try {
    execFileSync(process.execPath, ['-e', `require(${JSON.stringify(checkout ? localBinary : root)})`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

if (process.env.CLAWTRACE_FORCE_BUILD !== '1' && loads()) {
  process.exit(0)
}

try {
  if (checkout) {
    // Development checkout: the napi CLI also regenerates the loader and types.
    execFileSync(process.execPath, [napiCli, 'build', '--platform', '--release', '--js', 'index.js', '--dts', 'index.d.ts'], { cwd: root, stdio: 'inherit' })
  } else {
    // Installed from the registry without a matching prebuilt: plain cargo, then name the file as the loader expects.
    execFileSync('cargo', ['build', '--release', '-p', 'clawtrace-node'], { cwd: root, stdio: 'inherit' })
    const ext = process.platform === 'win32' ? '.dll' : process.platform === 'darwin' ? '.dylib' : '.so'
    const lib = path.join(root, 'target', 'release', `${process.platform === 'win32' ? '' : 'lib'}clawtrace_node${ext}`)
    fs.copyFileSync(lib, localBinary)
  }
} catch (err) {
  console.error(`clawtrace: no prebuilt binary for ${process.platform}-${process.arch} and building from source failed.`)
  console.error('clawtrace: building needs a Rust toolchain (https://rustup.rs) — cargo must be on PATH.')
  process.exit(1)
}
if (!loads()) {
  console.error('clawtrace: the addon was built but does not load')
  process.exit(1)
}
