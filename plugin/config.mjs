// What the plugin hands to the addon's configure(): `plugins.entries.clawtrace.config` as written, plus the
// default trace file under the OpenClaw state directory (the addon decides when it applies), a relative `record.path`
// resolved there too, and, on hosts before trusted diagnostics, `legacyHost`.
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** A variable counts only when it has a non-blank value (as the addon reads the environment). */
export const envSet = (env, name) => typeof env[name] === 'string' && env[name].trim() !== '';

/** The OpenClaw state directory: the host's resolver, else `$OPENCLAW_STATE_DIR`, else `~/.openclaw`. */
export function resolveStateDir(api, env = process.env) {
  try {
    const dir = api?.runtime?.state?.resolveStateDir?.();
    if (typeof dir === 'string' && dir) return dir;
  } catch {}
  if (envSet(env, 'OPENCLAW_STATE_DIR')) return env.OPENCLAW_STATE_DIR;
  return join(homedir(), '.openclaw');
}

export const DEFAULT_FILE = join('clawtrace', 'traces.jsonl');

/**
 * The configuration for `configure()`: the plugin's config as written, with `defaultFile` under the state
 * directory (the addon uses it only when no exporter is configured and the environment chooses none), and
 * `legacyHost` when the host predates trusted diagnostics (the addon then rebuilds runs from lifecycle events and
 * hooks).
 */
export function effectiveConfig(pluginConfig, { stateDir, legacyHost = false }) {
  // A shallow copy (only top-level keys are added): values go to the addon as given, so a Map, a Date or NaN is
  // refused there with the field named, not silently turned into {} or null by a JSON round trip.
  const cfg = pluginConfig && typeof pluginConfig === 'object' ? { ...pluginConfig } : {};
  cfg.defaultFile ??= join(stateDir, DEFAULT_FILE);
  // A relative record file lives in the state directory, like the default trace file (not in the gateway's cwd).
  const rec = cfg.record;
  if (rec && typeof rec === 'object' && !Array.isArray(rec) && typeof rec.path === 'string' && rec.path.trim() && !isAbsolute(rec.path)) {
    cfg.record = { ...rec, path: join(stateDir, rec.path) };
  }
  if (legacyHost) cfg.legacyHost = true;
  return cfg;
}
