// What the host OpenClaw offers, detected rather than assumed. The plugin API changed shape several times in
// 2026; these probes are cheap and run once per process.
import { createRequire } from 'node:module';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** SDK modules that have carried the diagnostic listeners, newest first. */
const BUS_MODULES = [
  'openclaw/plugin-sdk/diagnostic-runtime',
  'openclaw/plugin-sdk/diagnostics-otel',
  'openclaw/plugin-sdk/infra-runtime',
  'openclaw/plugin-sdk/compat',
  'openclaw/plugin-sdk',
];

/** The host's own `openclaw` package directory, from the running CLI entry (`…/openclaw/openclaw.mjs`). */
export function hostPackageDir(argv1 = process.argv[1]) {
  if (!argv1) return null;
  let dir;
  try {
    dir = dirname(realpathSync(argv1));
  } catch {
    return null;
  }
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'openclaw') return dir;
      } catch {}
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

/**
 * Requirers that can see the host's SDK: the plugin's own (OpenClaw links `openclaw` into the captured copy of
 * a plugin) and the host package's (older hosts load plugins in place, where `openclaw` is not resolvable).
 */
function sdkRequirers() {
  const out = [{ from: 'plugin', req: require }];
  const host = hostPackageDir();
  if (host) {
    try {
      out.push({ from: 'host', req: createRequire(join(host, 'package.json')) });
    } catch {}
  }
  return out;
}

/**
 * An SDK module of the host (`openclaw/plugin-sdk/...`), through the first requirer that sees it; null when none
 * does (an older host, or a host without that module).
 */
export function loadSdk(id) {
  for (const { req } of sdkRequirers()) {
    try {
      return req(id);
    } catch {}
  }
  return null;
}

/**
 * Finds the diagnostic bus: `onInternalDiagnosticEvent` (all events, trusted ones included, with metadata) when
 * any SDK module exports it, else the public `onDiagnosticEvent`, else the host's global listener set.
 * Returns `{kind: 'internal'|'public'|'global'|'none', subscribe, drained, source, errors}` (`drained`: the host's
 * `waitForDiagnosticEventsDrained` when it has one: resolves once its async event queue is empty).
 */
export function findDiagnosticBus() {
  const errors = [];
  let pub = null;
  for (const { from, req } of sdkRequirers()) {
    for (const id of BUS_MODULES) {
      let mod;
      try {
        mod = req(id);
      } catch (err) {
        errors.push(`${from}:${id}: ${err?.code ?? err?.message ?? err}`);
        continue;
      }
      const drained = typeof mod?.waitForDiagnosticEventsDrained === 'function' ? mod.waitForDiagnosticEventsDrained : null;
      if (typeof mod?.onInternalDiagnosticEvent === 'function') {
        return { kind: 'internal', subscribe: mod.onInternalDiagnosticEvent, drained, source: `${id} (${from})`, errors };
      }
      if (!pub && typeof mod?.onDiagnosticEvent === 'function') pub = { kind: 'public', subscribe: mod.onDiagnosticEvent, drained, source: `${id} (${from})`, errors };
    }
    if (pub) return pub;
  }
  // Last resort: early-2026 hosts kept the listener set on a global (`__openclawDiagnosticEventsState`).
  const legacy = globalThis.__openclawDiagnosticEventsState;
  if (legacy && legacy.listeners instanceof Set) {
    return {
      kind: 'global',
      subscribe(listener) {
        legacy.listeners.add(listener);
        return () => legacy.listeners.delete(listener);
      },
      drained: null,
      source: 'globalThis.__openclawDiagnosticEventsState',
      errors,
    };
  }
  return { kind: 'none', subscribe: null, drained: null, source: null, errors };
}

/** `2026.4.23` → [2026, 4, 23]; anything else → null. */
export function parseVersion(v) {
  const m = /^(\d{4})\.(\d{1,2})\.(\d{1,3})/.exec(String(v ?? '').trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** Compares a parsed version with a literal one: -1, 0, 1; null when the version is unknown. */
export function compareVersion(parsed, literal) {
  if (!parsed) return null;
  const other = parseVersion(literal);
  for (let i = 0; i < 3; i++) if (parsed[i] !== other[i]) return parsed[i] < other[i] ? -1 : 1;
  return 0;
}

/** The host OpenClaw version: `api.runtime.version`, else the host package's. */
export function hostVersion(api) {
  const v = api?.runtime?.version;
  if (parseVersion(v)) return String(v);
  const dir = hostPackageDir();
  if (dir) {
    try {
      return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version ?? null;
    } catch {}
  }
  return null;
}

/**
 * Hook names the host offers, as far as they matter here. `subagent_spawning` exists up to 2026.4.24 at least
 * and is gone in 2026.9 (an unknown hook name makes the host log a warning), so it is used only where it is known
 * to exist; `subagent_spawned` and `subagent_ended` exist throughout. Conversation hooks (`llm_input`,
 * `llm_output`, `agent_end`) of non-bundled plugins need `plugins.entries.<id>.hooks.allowConversationAccess`
 * from 2026.4.23.
 */
export function hookPolicy(api, pluginId) {
  const version = parseVersion(hostVersion(api));
  const after = (lit) => compareVersion(version, lit) >= 0;
  const gate = version ? after('2026.4.23') : true;
  const entry = api?.config?.plugins?.entries?.[pluginId];
  const allowed = !gate || entry?.hooks?.allowConversationAccess === true;
  return {
    version,
    conversationGate: gate,
    conversationAllowed: allowed,
    subagentSpawning: version ? !after('2026.4.25') : false,
  };
}
